"""What happens after an order arrives, in Celery: validate → route and allocate → (auto) release.

``enqueue_processing`` schedules ``orders.tasks.order_process`` on commit; expedited and overnight orders are
sent with the top broker priority so they jump the queue of standard ones.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from orders import routing
from orders.models import Order, OrderException, OrderLine, OrderSettings, SkuMapping
from orders.models import OrderStatus as S
from orders.services import stock, unit
from orders.services.importing import address_problems
from orders.services.workflow import check, fully_allocated, lock_order, release_or_hold, set_status

log = logging.getLogger(__name__)

BLOCKING_REASONS = (
    OrderException.Reason.UNKNOWN_SKU,
    OrderException.Reason.BAD_ADDRESS,
    OrderException.Reason.MISSING_DATA,
    OrderException.Reason.CUSTOMS,
    OrderException.Reason.NO_WAREHOUSE,
)


def enqueue_processing(*, order_id: int, priority: int = 0) -> None:
    transaction.on_commit(partial(_send, order_id=order_id, priority=priority))


def _send(*, order_id: int, priority: int) -> None:
    from orders.tasks import order_process

    # Redis transport: 0 is the most urgent bucket. Expedited orders carry priority >= 50 (see importing).
    broker_priority = 0 if priority >= 50 else 6
    try:
        order_process.apply_async(kwargs={"order_id": order_id}, priority=broker_priority)
    except Exception:  # broker down: the sweeper re-queues orders stuck in 'new'
        log.warning("orders: could not enqueue order %s", order_id, exc_info=True)


def settings_for(merchant_id: int) -> OrderSettings:
    batch = unit.current()
    if batch is not None and merchant_id in batch.settings:
        return batch.settings[merchant_id]
    found = OrderSettings.objects.filter(merchant_id=merchant_id).first()
    found = found or OrderSettings(merchant_id=merchant_id)
    if batch is not None:
        batch.settings[merchant_id] = found
    return found


def order_process(*, order_id: int) -> Order | None:
    """Move an order as far as it can go on its own — validate, route and allocate, release — in one
    transaction under the order's row lock. Idempotent: a re-run on an order that moved on does nothing."""
    with transaction.atomic():
        # ``raw`` (the channel's whole payload) is never read here; loaded on access if anyone does
        order = Order.objects.select_for_update().filter(pk=order_id).defer("raw").first()
        if order is None:
            return None
        if order.status not in (S.NEW, S.EXCEPTION, S.VALIDATED, S.ALLOCATED):
            return order
        prefs = settings_for(order.merchant_id)
        lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
        if order.status in (S.NEW, S.EXCEPTION):
            _validate_locked(order, lines)
        if order.status == S.VALIDATED:
            _allocate_locked(order, lines, prefs)
        if (
            order.status == S.ALLOCATED
            and prefs.auto_release
            and all(line.allocated_quantity >= line.open_quantity for line in lines)
        ):
            release_or_hold(order)
    return order


def auto_release(*, order_id: int, order: Order | None = None) -> None:
    from orders.services.workflow import order_release

    order = order or Order.objects.filter(pk=order_id).first()
    if order is None or order.status != S.ALLOCATED:
        return
    if settings_for(order.merchant_id).auto_release:
        order_release(order=order)


# --- validation ---------------------------------------------------------------------------------------


def resolve_products(*, merchant_id: int, channel: str, skus: set[str]) -> dict[str, object]:
    """SKU (as the channel sent it) → active inventory Product, through SKU mappings when needed."""
    from inventory.models import Product

    batch = unit.current()
    if batch is not None and batch.products is not None:
        found = {
            sku: batch.products[(merchant_id, sku)] for sku in skus if (merchant_id, sku) in batch.products
        }
    else:
        found = {p.sku: p for p in Product.objects.filter(merchant_id=merchant_id, sku__in=skus)}
    missing = skus - set(found)
    extras = _extras.get() if batch is not None and batch.products is not None else None
    if missing and extras is not None:  # the batch fetched every mapping of its SKUs up front
        for sku in missing:
            for mapped_channel, target in extras.mappings.get((merchant_id, sku), ()):
                if mapped_channel in (channel, "") and (merchant_id, target) in batch.products:
                    found[sku] = batch.products[(merchant_id, target)]
                    break
    elif missing:
        mappings = SkuMapping.objects.filter(
            merchant_id=merchant_id, external_sku__in=missing, channel__in=[channel, ""]
        ).order_by("-channel")  # a channel-specific mapping wins over an 'any channel' one
        targets: dict[str, str] = {}
        for m in mappings:
            targets.setdefault(m.external_sku, m.product_sku)
        if targets:
            products = {
                p.sku: p
                for p in Product.objects.filter(merchant_id=merchant_id, sku__in=set(targets.values()))
            }
            for external, target in targets.items():
                if target in products:
                    found[external] = products[target]
    return {sku: p for sku, p in found.items() if p.status != "archived"}


def order_validate(*, order: Order) -> Order:
    """new/exception → validated, or → exception with one open ``OrderException`` per problem."""
    with transaction.atomic():
        locked = lock_order(order)
        lines = list(OrderLine.objects.filter(order=locked).select_related("product").order_by("pk"))
        _validate_locked(locked, lines)
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def _validate_locked(locked: Order, lines: list[OrderLine]) -> None:
    check(locked, "validate")
    open_lines = [line for line in lines if line.open_quantity > 0]
    problems: list[tuple[str, str, str]] = []  # (reason, detail, sku)
    if not open_lines:
        problems.append((OrderException.Reason.MISSING_DATA, "The order has no lines.", ""))
    products = resolve_products(
        merchant_id=locked.merchant_id, channel=locked.channel, skus={line.sku for line in open_lines}
    )
    relinked: list[OrderLine] = []
    for line in open_lines:
        product = products.get(line.sku)
        if product is None:
            problems.append(
                (
                    OrderException.Reason.UNKNOWN_SKU,
                    f"SKU {line.sku!r} matches no product: map it to a product or create it.",
                    line.sku,
                )
            )
        elif line.product_id != product.pk:
            line.product = product
            relinked.append(line)
    for problem in address_problems(locked.ship_to):
        problems.append((OrderException.Reason.BAD_ADDRESS, f"Ship-to address: {problem}.", ""))
    if locked.is_international:
        for line in open_lines:
            product = products.get(line.sku)
            if product is None:
                continue
            missing = [
                label
                for label, ok in (
                    ("HS code", product.hs_code),
                    ("country of origin", product.country_of_origin),
                    ("customs value", product.value and product.value > 0),
                )
                if not ok
            ]
            if missing:
                problems.append(
                    (
                        OrderException.Reason.CUSTOMS,
                        f"International order: {line.sku} has no {', '.join(missing)}.",
                        line.sku,
                    )
                )
    if relinked:
        batch = unit.current()
        if batch is not None:
            batch.save_lines(relinked, ["product"])
        else:
            from fulfil.bulk import bulk_update_rows

            bulk_update_rows(OrderLine, relinked, ["product"])
    if locked.status == S.EXCEPTION or locked.exception_reason:
        OrderException.objects.filter(
            order=locked, resolved_at__isnull=True, reason__in=BLOCKING_REASONS
        ).update(resolved_at=timezone.now(), resolution="re-validated")
    flags = {
        "is_fragile": locked.is_fragile or any(getattr(p, "fragile", False) for p in products.values()),
        "is_hazmat": any(getattr(p, "hazmat", False) for p in products.values()) or "hazmat" in locked.tags,
        "custom_packaging": locked.custom_packaging
        or any(
            getattr(p, "packaging", "") in ("gift", "own") or getattr(p, "custom_inserts", "")
            for p in products.values()
        ),
        "requires_cold_chain": locked.requires_cold_chain
        or any(getattr(p, "temperature_max_c", None) is not None for p in products.values()),
    }
    if problems:
        _exceptions_add(
            [
                OrderException(
                    merchant_id=locked.merchant_id, order=locked, reason=reason, detail=detail, sku=sku
                )
                for reason, detail, sku in problems
            ]
        )
        flags["exception_reason"] = problems[0][0]
        if locked.status == S.EXCEPTION:
            for k, v in flags.items():
                setattr(locked, k, v)
            locked.save(update_fields=[*flags, "updated_at"])
            audit_record(
                obj_type="order",
                obj_id=locked.pk,
                action="order.revalidated",
                merchant_id=locked.merchant_id,
                message="; ".join(p[1] for p in problems),
            )
        else:
            set_status(
                locked,
                S.EXCEPTION,
                action="flag_exception",
                message="; ".join(p[1] for p in problems),
                extra=flags,
            )
    else:
        flags["exception_reason"] = ""
        set_status(locked, S.VALIDATED, action="validate", extra=flags)


# --- routing and allocation ---------------------------------------------------------------------------


def _warehouses_for(merchant_id: int):
    from inventory.models import Warehouse

    batch = unit.current()
    if batch is not None and merchant_id in batch.warehouses:
        return batch.warehouses[merchant_id]
    found = list(Warehouse.objects.visible_to(merchant_id).filter(is_active=True).order_by("code"))
    if batch is not None:
        batch.warehouses[merchant_id] = found
    return found


def _stock_for(merchant_id: int, product_ids: set[int], warehouse_ids: list[int]):
    """available and inbound per (product, warehouse), one query (once per batch in the batch path)."""
    from inventory.models import StockLevel

    batch = unit.current()
    if batch is not None and merchant_id in batch.stock:
        return batch.stock[merchant_id]
    stock, inbound = {}, {}
    levels = StockLevel.objects.filter(merchant_id=merchant_id, warehouse_id__in=warehouse_ids)
    if batch is None:
        levels = levels.filter(product_id__in=product_ids)
    else:
        batch.stock[merchant_id] = (stock, inbound)
    for level in levels:
        stock[(level.product_id, level.warehouse_id)] = level.available
        if level.inbound:
            inbound[(level.product_id, level.warehouse_id)] = (level.inbound, 3)
    return stock, inbound


def build_plan(
    *, order: Order, lines: list[OrderLine], settings: OrderSettings, now=None, warehouses=None
) -> routing.Plan:
    """Route the open lines on current stock (see ``orders.planning`` for rates and inbound dates)."""
    from orders import planning

    if warehouses is None:
        warehouses = _warehouses_for(order.merchant_id)
    needs = planning.line_needs(order=order, lines=lines)
    stock_, inbound = _stock_for(order.merchant_id, {n.product_id for n in needs}, [w.pk for w in warehouses])
    return planning.plan_order(
        order=order,
        needs=needs,
        warehouses=warehouses,
        stock=stock_,
        inbound_hint=inbound,
        settings=planning.routing_settings(settings),
        now=now or timezone.now(),
    )


def order_allocate(*, order: Order) -> Order:
    """validated → allocated (every line reserved) or backordered (the shortfall waits for stock), after
    routing picks the warehouse(s). No eligible warehouse → exception."""
    with transaction.atomic():
        locked = lock_order(order)
        lines = list(OrderLine.objects.filter(order=locked).select_related("product").order_by("pk"))
        _allocate_locked(locked, lines, settings_for(locked.merchant_id))
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def _allocate_locked(locked: Order, lines: list[OrderLine], prefs: OrderSettings) -> None:
    check(locked, "allocate")
    routed = allocate_lines(order=locked, lines=lines, prefs=prefs, save_order=False)
    if locked.status == S.EXCEPTION:
        return
    # the routing fields go with the status change: one write of the order
    extra = {name: getattr(locked, name) for name in routed}
    if all(line.allocated_quantity >= line.open_quantity for line in lines):
        status, action = S.ALLOCATED, "allocate"
    else:
        status, action = S.BACKORDERED, "backorder"
    set_status(locked, status, action=action, message=locked.routing.get("reason", ""), extra=extra)


def allocate_lines(
    *,
    order: Order,
    lines: list[OrderLine],
    plan: routing.Plan | None = None,
    prefs: OrderSettings | None = None,
    save_order: bool = True,
) -> tuple[str, ...]:
    """Route the open lines and reserve them, then mirror inventory's allocations on the lines. The caller
    holds the order lock and has released any previous reservations it wants replaced. Returns the order
    fields it set (``ROUTING_FIELDS``, or none when no warehouse may ship it), saved unless ``save_order`` is
    false — then the caller writes them (with its status change)."""
    from orders.models import OrderLineAllocation

    warehouse_list = None
    if plan is None:
        warehouse_list = _warehouses_for(order.merchant_id)  # read once for the plan and the rows below
        plan = build_plan(
            order=order,
            lines=lines,
            settings=prefs or settings_for(order.merchant_id),
            warehouses=warehouse_list,
        )
    if plan.kind == "none":
        _exceptions_add(
            [
                OrderException(
                    merchant_id=order.merchant_id,
                    order=order,
                    reason=OrderException.Reason.NO_WAREHOUSE,
                    detail=plan.error,
                )
            ]
        )
        set_status(
            order,
            S.EXCEPTION,
            action="flag_exception",
            message=plan.error,
            extra={"exception_reason": OrderException.Reason.NO_WAREHOUSE, "routing": plan.explanation},
        )
        return ()
    if warehouse_list is None:
        warehouse_list = _warehouses_for(order.merchant_id)
    warehouses = {w.pk: w for w in warehouse_list}
    by_id = {line.pk: line for line in lines}
    rows: list[dict] = []  # OrderLineAllocation rows (the batch writes them with one COPY)
    totals: dict[int, int] = {}
    batch = unit.current()
    # reserve in (product, warehouse) order — one lock order for every order — so orders don't deadlock
    work = sorted(
        ((by_id[line_id], wh_id, qty) for line_id, parts in plan.assignments.items() for wh_id, qty in parts),
        key=lambda item: (item[0].product_id, item[1], item[0].pk),
    )
    pending = _pending.get() if batch is not None else None
    for line, wh_id, qty in work:
        line_id = line.pk
        if qty:
            if pending is not None and not line.product.is_kit:
                # the batch path: reserved with the whole batch by ``reserve_pending``, which checks that
                # inventory granted exactly this (the batch holds every level's lock, so it does)
                got = min(
                    qty, batch.stock.get(order.merchant_id, ({}, {}))[0].get((line.product_id, wh_id), 0)
                )
                requested = qty
                pending.append(
                    _Pending(
                        order.merchant_id,
                        line,
                        line.product,
                        warehouses[wh_id],
                        qty,
                        order.priority,
                        order.placed_at,
                        got,
                    )
                )
            else:
                if pending:
                    reserve_pending()  # a kit reserves now: what the batch took so far goes first
                alloc = stock.reserve(
                    merchant=order.merchant_id,
                    line=line,
                    product=line.product,
                    warehouse=warehouses[wh_id],
                    quantity=qty,
                    priority=order.priority,
                    requested_at=order.placed_at,
                )
                got = alloc.allocated
                requested = max(0, alloc.requested - alloc.shipped)
            if batch is not None:
                batch.took(order.merchant_id, line.product_id, wh_id, got)
            rows.append(
                {
                    "line_id": line.pk,
                    "warehouse_id": wh_id,
                    "warehouse_code": warehouses[wh_id].code,
                    "requested": requested,
                    "allocated": got,
                }
            )
            totals[line_id] = totals.get(line_id, 0) + got
    routed = [by_id[i] for i in plan.assignments]
    for line in routed:
        line.allocated_quantity = min(totals.get(line.pk, 0), line.open_quantity)
        line.backordered_quantity = max(0, line.open_quantity - line.allocated_quantity)
    order.routing = plan.explanation
    order.estimated_shipping = plan.cost
    order.estimated_zone = plan.zone
    order.promised_delivery = plan.promised
    order.is_split = plan.is_split
    if batch is not None:
        batch.allocation_lines.update(line.pk for line in routed)
        batch.allocation_rows.extend(rows)
        batch.save_lines(routed, ["allocated_quantity", "backordered_quantity"])
        batch.save_order(order, ROUTING_FIELDS)
        return ROUTING_FIELDS
    # the mirror of each routed line is replaced whole (a line may move to another warehouse)
    OrderLineAllocation.objects.filter(line__in=routed).delete()
    OrderLineAllocation.objects.bulk_create([OrderLineAllocation(**row) for row in rows])
    from fulfil.bulk import bulk_update_rows

    bulk_update_rows(OrderLine, routed, ["allocated_quantity", "backordered_quantity"])
    if save_order:
        order.save(update_fields=[*ROUTING_FIELDS, "updated_at"])
    return ROUTING_FIELDS


ROUTING_FIELDS = ("routing", "estimated_shipping", "estimated_zone", "promised_delivery", "is_split")


@dataclass(frozen=True)
class _Pending:
    merchant_id: int
    line: OrderLine
    product: object
    warehouse: object
    quantity: int
    priority: int
    requested_at: object
    expected: int  # units the batch counted on (its locked view of the level)


class ReservationMismatch(RuntimeError):
    """Inventory granted a deferred reservation something other than what the batch planned with."""


_pending: contextvars.ContextVar[list[_Pending] | None] = contextvars.ContextVar(
    "orders_pending", default=None
)


@contextlib.contextmanager
def deferred_reservations() -> Iterator[None]:
    """Inside a batch (``unit.batch()``, every level the batch may use locked up front): ``allocate_lines``
    plans each line with the batch's view of the stock and queues its reservation; ``reserve_pending`` then
    reserves the queue in one ``stock_reserve_many`` per merchant, in the order planned."""
    token = _pending.set([])
    try:
        yield
    finally:
        _pending.reset(token)


@dataclass
class _Extras:
    mappings: dict[tuple[int, str], list[tuple[str, str]]]  # (merchant, sku) -> [(channel, product sku)]
    exceptions: list[OrderException]


_extras: contextvars.ContextVar[_Extras | None] = contextvars.ContextVar("orders_extras", default=None)


@contextlib.contextmanager
def batch_extras(*, merchant_ids: set[int], missing_skus: set[str]) -> Iterator[None]:
    """Inside a batch: the SKU mappings of every SKU the batch's products did not match, read once (their
    target products are added to the batch's products), and the exceptions validation and routing raise,
    written in one INSERT when the block ends without error."""
    batch = unit.current()
    mappings: dict[tuple[int, str], list[tuple[str, str]]] = {}
    if missing_skus and batch is not None and batch.products is not None:
        from inventory.models import Product

        for m in SkuMapping.objects.filter(
            merchant_id__in=merchant_ids, external_sku__in=missing_skus
        ).order_by(
            "-channel", "pk"
        ):  # a channel-specific mapping before an 'any channel' one, as ``resolve_products``
            mappings.setdefault((m.merchant_id, m.external_sku), []).append((m.channel, m.product_sku))
        targets = {(mid, sku) for (mid, _), found in mappings.items() for _, sku in found}
        wanted = targets - set(batch.products)
        if wanted:
            for p in Product.objects.filter(
                merchant_id__in={mid for mid, _ in wanted}, sku__in={sku for _, sku in wanted}
            ):
                batch.products.setdefault((p.merchant_id, p.sku), p)
    extras = _Extras(mappings=mappings, exceptions=[])
    token = _extras.set(extras)
    try:
        yield
        if extras.exceptions:
            OrderException.objects.bulk_create(extras.exceptions)
    finally:
        _extras.reset(token)


def _exceptions_add(rows: list[OrderException]) -> None:
    extras = _extras.get()
    if extras is not None:
        extras.exceptions.extend(rows)
    else:
        OrderException.objects.bulk_create(rows)


def reserve_pending() -> None:
    """Reserve the queued lines (see ``deferred_reservations``). Raises ``ReservationMismatch`` when inventory
    granted anything else than planned (the caller's batch then rolls back and goes one order at a time)."""
    queue = _pending.get()
    if not queue:
        return
    items = list(queue)
    queue.clear()
    by_merchant: dict[int, list[_Pending]] = {}
    for item in items:
        by_merchant.setdefault(item.merchant_id, []).append(item)
    for merchant_id, group in by_merchant.items():
        done = stock.reserve_many(
            merchant=merchant_id,
            items=[(p.line, p.product, p.warehouse, p.quantity, p.priority, p.requested_at) for p in group],
        )
        for p, reserved in zip(group, done, strict=True):
            alloc = reserved.allocation
            if (reserved.granted, alloc.allocated, alloc.requested - alloc.shipped) != (
                p.expected,
                p.expected,
                p.quantity,
            ):
                raise ReservationMismatch(
                    f"{p.line.reference}: planned {p.expected}, granted {reserved.granted}"
                )


def reconcile_allocation(*, order: Order) -> Order:
    """After inventory changed a line's allocation on its own (a backorder filled, stock adjusted): refresh
    the lines and move the order between backordered and allocated (and on to released)."""
    with transaction.atomic():
        locked = lock_order(order)
        lines = list(OrderLine.objects.filter(order=locked).select_for_update().order_by("pk"))
        for line in lines:
            if line.open_quantity > 0:
                stock.sync_line(line)
        if locked.status == S.BACKORDERED and fully_allocated(locked):
            set_status(locked, S.ALLOCATED, action="allocate", message="backorder filled")
        elif locked.status in (S.ALLOCATED, S.RELEASED) and not fully_allocated(locked):
            set_status(locked, S.BACKORDERED, action="backorder", message="allocation reduced by inventory")
    if locked.status == S.ALLOCATED:
        auto_release(order_id=locked.pk, order=locked)
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order
