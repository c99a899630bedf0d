"""The batch import path: many canonical orders in one transaction, then processed in batches (one Celery
task per chunk). Same rules, same states, same audit entries and events as ``order_import`` /
``order_process`` one by one — the batch only shares reads and writes in bulk (see ``unit``). Used by CSV
confirmation and by connectors' backfills; a batch that meets anything unexpected falls back to one order at
a time."""

from __future__ import annotations

import json
import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.db import connection as db_connection

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
    with transaction.atomic():
        pks = insert_rows(Order, [fields for _, fields in fresh.values()])
    created = [_order_object(fields, pk) for (_, fields), pk in zip(fresh.values(), pks, strict=True)]
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


def _order_object(fields: dict, pk: int) -> Order:
    """The Order a row was inserted as (for the results and the events), without a query."""
    order = Order(**{k: v for k, v in fields.items() if k not in _AUTO_FIELDS})
    order.pk = pk
    order._state.adding = False
    return order


_AUTO_FIELDS = frozenset({"created_at", "updated_at"})
_INSERT_SPECS: dict = {}


_REQUIRED, _NOW, _CONSTANT, _PER_ROW = range(4)


def _insert_spec(model):
    """Per model, once: the columns of an INSERT and how each value is found and prepared — a column the row
    does not give is required, the current time (``auto_now``/``auto_now_add``), a constant default (no
    default, a plain value, or an empty ``dict``/``list``: taken once per call), or a callable default called
    for each row (e.g. ``timezone.now``)."""
    spec = _INSERT_SPECS.get(model)
    if spec is None:
        from django.db.models import JSONField

        cols = []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                kind = _NOW
            elif not (f.has_default() or f.null or f.empty_strings_allowed):
                kind = _REQUIRED
            elif not f.has_default() or not callable(f.default) or f.default in (dict, list):
                kind = _CONSTANT
            else:
                kind = _PER_ROW
            prep = _json_text(f) if isinstance(f, JSONField) else None
            cols.append((f.attname, f.column, kind, f.get_default, prep))
        spec = _INSERT_SPECS[model] = cols
    return spec


_MISSING = object()


def _json_text(field):
    """A JSON field's value as the text COPY sends: what the field's own ``Jsonb`` adapter would dump
    (``json.dumps``; Python ``None`` is SQL NULL when the field is nullable, JSON ``null`` otherwise)."""
    encoder = getattr(field, "encoder", None)

    def prep(value):
        if value is None and field.null:
            return None
        return json.dumps(value, cls=encoder)

    return prep


def insert_rows(model, rows: list[dict], *, returning: bool = True) -> list[int]:
    """Insert many rows of ``model`` (dicts by attribute name; missing fields take their defaults,
    ``auto_now``/``auto_now_add`` fields the current time); returns the new primary keys in the rows' order
    (``returning``). On Postgres: the keys drawn from the table's sequence in one query, the rows sent with
    one ``COPY … FROM STDIN`` — the batch import's writes without a model instance per row and without
    Django's ``bulk_create`` compilation (UNNEST arrays quoted element by element in Python) or a query of
    thousands of placeholders for psycopg to split, which cost more than the rest of an import. No signals,
    as ``bulk_create``; database errors surface as Django's (``IntegrityError``)."""
    if not rows:
        return []
    if db_connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**row) for row in rows])
        return [o.pk for o in objs]
    from django.utils import timezone

    spec = _insert_spec(model)
    now = timezone.now()
    constants: dict[str, object] = {}
    qn = db_connection.ops.quote_name
    table, pk_column = model._meta.db_table, model._meta.pk.column
    columns = [c for _, c, _, _, _ in spec]
    with db_connection.cursor() as cursor:
        pks: list[int] = []
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, len(rows)],
            )
            pks = [r[0] for r in cursor.fetchall()]
            columns.insert(0, pk_column)
        sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        with db_connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for i, row in enumerate(rows):
                values = [pks[i]] if returning else []
                for attname, _column, kind, default, prep in spec:
                    value = row.get(attname, _MISSING)
                    if value is _MISSING:
                        if kind == _NOW:
                            value = now
                        elif kind == _CONSTANT:  # taken and prepared once per call
                            value = constants.get(attname, _MISSING)
                            if value is _MISSING:
                                value = default()
                                value = constants[attname] = prep(value) if prep is not None else value
                            values.append(value)
                            continue
                        elif kind == _PER_ROW:
                            value = default()
                        else:
                            raise ValueError(f"{model.__name__}.{attname} is required")
                    values.append(prep(value) if prep is not None else value)
                copy.write_row(values)
    return pks


def bulk_update_rows(model, objs: list, fields: list[str]) -> None:
    """``model.objects.bulk_update(objs, fields)`` as one ``UPDATE … FROM jsonb_to_recordset(%s)`` on Postgres:
    the new values travel as ONE JSON document (``json.dumps`` in C) instead of a placeholder per row and field
    (each prepared by the field, then quoted by psycopg one by one, in a query text of thousands of
    placeholders for psycopg to split) or Django's ``CASE WHEN`` per row and field. Same values: each column
    gets its field's value as Postgres reads it from text (decimals as strings, dates and times in ISO form,
    JSON fields as JSON); no ``auto_now``."""
    if not objs or not fields:
        return
    if db_connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    qn = db_connection.ops.quote_name
    convert = [(f.attname, f.column, _json_converter(f)) for f in columns]
    rows = []
    for obj in objs:
        row = {}
        for attname, column, conv in convert:
            value = getattr(obj, attname)
            row[column] = value if conv is None or value is None else conv(value)
        rows.append(row)
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET "  # noqa: S608 - quoted names from model meta; values are a parameter
        + ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns[1:])
        + " FROM jsonb_to_recordset(%s::jsonb) AS v("
        + ", ".join(f"{qn(f.column)} {f.db_type(db_connection)}" for f in columns)
        + f") WHERE t.{qn(meta.pk.column)} = v.{qn(meta.pk.column)}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, separators=(",", ":"))])


def _json_converter(field):
    """How a field's Python value goes into the JSON document of ``bulk_update_rows`` (``None``: as it is)."""
    from django.db import models

    if isinstance(field, models.JSONField):
        return None  # a JSON value of the document (what does not encode fails, as with the field's own dump)
    if isinstance(field, models.DecimalField):
        return str
    if isinstance(field, models.DateTimeField):
        return lambda value: field.get_db_prep_save(value, db_connection).isoformat()
    if isinstance(field, models.DateField | models.TimeField):
        return lambda value: value.isoformat()
    if isinstance(field, models.BooleanField | models.IntegerField | models.AutoField | models.ForeignKey):
        return None
    if isinstance(field, models.CharField | models.TextField):
        return str
    return lambda value: field.get_db_prep_save(value, db_connection)


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
