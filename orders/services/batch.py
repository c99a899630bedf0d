"""The batch import path: many canonical orders in one transaction, then processed in batches (one Celery
task per chunk). Same rules, same states, same audit entries and events as ``order_import`` /
``order_process`` one by one — the batch only shares reads and writes in bulk (see ``unit``). Used by CSV
confirmation and by connectors' backfills; a batch that meets anything unexpected falls back to one order at
a time."""

from __future__ import annotations

import logging
from functools import partial

from django.db import IntegrityError, transaction

from fulfil.bulk import insert_rows, instances
from orders.canonical import CanonicalOrder
from orders.exceptions import InvalidOrder
from orders.models import Order, OrderLine
from orders.models import OrderStatus as S
from orders.services import unit
from orders.services.importing import (
    _apply_update,
    _order_fields,
    canonical_hash,
    normalise,
    order_import,
)

log = logging.getLogger(__name__)
CHUNK = 100


def order_import_many(*, merchant, orders: list[CanonicalOrder]) -> list[tuple[Order | None, bool, dict]]:
    """Import many orders; returns ``(order, created, errors)`` per input, in order. Idempotent like
    ``order_import``; validation, routing and allocation run after commit in batch tasks."""
    results: list[tuple[Order | None, bool, dict]] = []
    for start in range(0, len(orders), CHUNK):
        results.extend(_import_chunk(merchant, orders[start : start + CHUNK]))
    return results


def _import_chunk(merchant, chunk: list[CanonicalOrder]) -> list[tuple[Order | None, bool, dict]]:
    prepared = []
    for order in chunk:
        cleaned, errors = normalise(order)
        prepared.append((cleaned, errors))
    try:
        with transaction.atomic():
            return _import_prepared(merchant, prepared)
    except IntegrityError:
        # a concurrent delivery inserted one of these first: do them one by one (each is race-safe)
        results = []
        for cleaned, errors in prepared:
            if errors:
                results.append((None, False, errors))
                continue
            order, created = order_import(merchant=merchant, order=cleaned)
            results.append((order, created, {}))
        return results


def _import_prepared(merchant, prepared) -> list[tuple[Order | None, bool, dict]]:
    valid = [c for c, e in prepared if not e]
    # channel too, so the unique (merchant, channel, external_id) index finds each key by descent; on
    # (merchant, external_id) alone Postgres reads every index entry of the merchant — per batch.
    existing = {
        (o.channel, o.external_id): o
        for o in Order.objects.select_for_update()
        .filter(
            merchant=merchant,
            channel__in=sorted({c.channel for c in valid}),
            external_id__in=[c.external_id for c in valid],
        )
        .order_by("pk")
    }
    fresh: dict[tuple[str, str], tuple[CanonicalOrder, dict]] = {}
    for cleaned in valid:
        key = (cleaned.channel, cleaned.external_id)
        if key not in existing and key not in fresh:
            fields = _order_fields(cleaned)
            fields.update(
                merchant_id=merchant.pk,
                channel=cleaned.channel,
                external_id=cleaned.external_id,
                source_hash=canonical_hash(cleaned),
            )
            fresh[key] = (cleaned, fields)
    order_rows = [fields for _, fields in fresh.values()]
    with transaction.atomic():
        pks = insert_rows(Order, order_rows)
    created = instances(Order, order_rows, pks)
    line_rows = []
    for (cleaned, _), pk in zip(fresh.values(), pks, strict=True):
        for i, line in enumerate(cleaned.lines):
            line_rows.append(
                {
                    "order_id": pk,
                    "sku": line.sku,
                    "name": line.name,
                    "external_line_id": line.external_line_id,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "tax": line.tax,
                    "discount": line.discount,
                    "position": i,
                }
            )
    insert_rows(OrderLine, line_rows, returning=False)
    urgent, normal, cancelled = [], [], []
    with unit.batch() as b:
        for (cleaned, _), order in zip(fresh.values(), created, strict=True):
            b.audit(
                obj_id=order.pk,
                action="order.imported",
                merchant_id=merchant.pk,
                after={"channel": order.channel, "external_id": order.external_id, "status": "new"},
            )
            b.emit(
                "order.created",
                {"order_id": order.pk, "merchant_id": merchant.pk, "channel": order.channel},
                merchant_id=merchant.pk,
            )
            if cleaned.status == "cancelled":
                cancelled.append(order)
            else:
                (urgent if order.priority >= 50 else normal).append(order.pk)
    from orders.services.changes import order_cancel

    for order in cancelled:
        order_cancel(order=order, reason="cancelled on the channel")
    results: list[tuple[Order | None, bool, dict]] = []
    done: set[tuple[str, str]] = set()
    by_key = {key: order for key, order in zip(fresh, created, strict=True)}
    for cleaned, errors in prepared:
        if errors:
            results.append((None, False, errors))
            continue
        key = (cleaned.channel, cleaned.external_id)
        if key in by_key and key not in done:
            done.add(key)
            results.append((by_key[key], True, {}))
        else:
            current = existing.get(key) or by_key[key]
            results.append((_apply_update(current, cleaned, canonical_hash(cleaned)), False, {}))
    for ids, broker_priority in ((urgent, 0), (normal, 6)):
        if ids:
            transaction.on_commit(partial(_send, order_ids=ids, broker_priority=broker_priority))
    return results


def _send(*, order_ids: list[int], broker_priority: int) -> None:
    from orders.tasks import orders_process_batch

    try:
        orders_process_batch.apply_async(kwargs={"order_ids": order_ids}, priority=broker_priority)
    except Exception:  # broker down: the sweeper re-queues orders stuck in 'new'
        log.warning("orders: could not enqueue a batch of %s orders", len(order_ids), exc_info=True)


def orders_process_batch(*, order_ids: list[int]) -> int:
    """Process many orders (validate → route and allocate → release) in one transaction; expedited first.
    On any error the batch is rolled back and the orders are processed one by one."""
    from orders.services.processing import order_process

    try:
        with transaction.atomic():
            n = _process_batch(order_ids)
        return n
    except Exception:
        log.warning("orders: batch of %s failed; processing one by one", len(order_ids), exc_info=True)
        for order_id in order_ids:
            order_process(order_id=order_id)
        return len(order_ids)


def _process_batch(order_ids: list[int]) -> int:
    from inventory.models import Product, StockLevel
    from orders.services.processing import (
        _allocate_locked,
        _validate_locked,
        _warehouses_for,
        batch_extras,
        deferred_reservations,
        reserve_pending,
        settings_for,
    )
    from orders.services.workflow import release_or_hold

    with unit.batch() as b:
        # ``raw`` (the channel's whole payload, kilobytes of JSON) is never read by processing
        orders = list(Order.objects.select_for_update().filter(pk__in=order_ids).defer("raw").order_by("pk"))
        orders.sort(key=lambda o: (-o.priority, o.pk))
        lines_by_order: dict[int, list[OrderLine]] = {}
        for line in OrderLine.objects.filter(order__in=orders).select_related("product").order_by("pk"):
            lines_by_order.setdefault(line.order_id, []).append(line)
        merchants = {o.merchant_id for o in orders}
        skus = {(o.merchant_id, ln.sku) for o in orders for ln in lines_by_order.get(o.pk, [])}
        b.products = {
            (p.merchant_id, p.sku): p
            for p in Product.objects.filter(merchant_id__in=merchants, sku__in={s for _, s in skus})
            if (p.merchant_id, p.sku) in skus
        }
        missing = {sku for m, sku in skus if (m, sku) not in b.products}
        with batch_extras(merchant_ids=merchants, missing_skus=missing), deferred_reservations():
            # (batch_extras added the products that SKU mappings point to: their levels are locked below too)
            todo = [o for o in orders if o.status in (S.NEW, S.EXCEPTION, S.VALIDATED, S.ALLOCATED)]
            # Validation reads no stock: every order is validated before the levels are locked, so the part
            # of the batch that other batches wait for (level locks to commit) is as short as it can be.
            for order in todo:
                if order.status in (S.NEW, S.EXCEPTION):
                    _validate_locked(order, lines_by_order.get(order.pk, []))
            for merchant_id in merchants:
                warehouses = _warehouses_for(merchant_id)
                product_ids = {p.pk for (m, _), p in b.products.items() if m == merchant_id}
                available, inbound = {}, {}
                # Lock every stock level the batch may reserve from, in primary-key order: two batches that
                # share products queue on the first shared row instead of deadlocking halfway through.
                levels = StockLevel.objects.filter(
                    merchant_id=merchant_id,
                    product_id__in=product_ids,
                    warehouse_id__in=[w.pk for w in warehouses],
                )
                rows = levels.order_by("pk").select_for_update()
                for product_id, warehouse_id, on_hand, reserved, held, safety, incoming in rows.values_list(
                    "product_id", "warehouse_id", "on_hand", "reserved", "held", "safety_stock", "inbound"
                ):  # the columns of StockLevel.available, without a model instance per level
                    available[(product_id, warehouse_id)] = max(0, on_hand - reserved - held - safety)
                    if incoming:
                        inbound[(product_id, warehouse_id)] = (incoming, 3)
                b.stock[merchant_id] = (available, inbound)
            for order in todo:
                lines = lines_by_order.get(order.pk, [])
                if order.status == S.VALIDATED:
                    _allocate_locked(order, lines, settings_for(order.merchant_id))
            # every reservation of the batch at once, before any release (a release guard may hold the stock)
            reserve_pending()
        for order in todo:
            lines = lines_by_order.get(order.pk, [])
            if (
                order.status == S.ALLOCATED
                and settings_for(order.merchant_id).auto_release
                and all(line.allocated_quantity >= line.open_quantity for line in lines)
            ):
                release_or_hold(order)
    return len(orders)


__all__ = ["InvalidOrder", "order_import_many", "orders_process_batch"]
