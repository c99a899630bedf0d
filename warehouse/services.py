"""Every write of the outbound floor: waves and batches, picking scans, short picks, packing, shipping, QC.

Calls down into orders (workflow transitions), inventory (``pick_candidates``, ``stock_pick``,
``stock_ship``, ``stock_move``) and the carriers (``shipment_buy_label``). Scans are idempotent by the id the
tablet generates (`ScanEvent`): a retried POST gets the first answer back and changes nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from inventory import services as inv
from inventory.models import Allocation, Location, Product, StockMovement, StockQuant, Warehouse
from inventory.selectors import pick_candidates
from orders import services as order_services
from orders.models import Order, OrderLine, OrderLineAllocation
from warehouse import packing, selectors
from warehouse.batching import Cart, OrderPicks, batch_orders
from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.models import (
    Batch,
    BatchOrder,
    BoxType,
    FloorMetric,
    PackSession,
    PickTask,
    QcChecklist,
    QcResult,
    ReplenishmentTask,
    ScanEvent,
    Wave,
)
from warehouse.routing import RANK_LAST, RANK_NORMAL, RANK_PRIORITY, Stop, plan_route

EV_SHORT_PICK = "warehouse.short_pick"
REPLENISH_BELOW = 5  # units left on a pick face after a wave's picks
EXPEDITED = {"expedited", "overnight"}


# --- Scans --------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    ok: bool
    message: str
    replay: bool = False


def _parse(code: str) -> Any:
    try:
        from warehouse.inbound.gs1 import parse_scan
    except ImportError:  # pragma: no cover - the inbound sub-app ships it
        return None
    try:
        return parse_scan(code)
    except ValueError:
        return None


def _location_matches(code: str, location: Location) -> bool:
    code = code.strip()
    scan = _parse(code)
    if scan is not None and scan.kind == "location":
        return scan.value.upper() == location.code.upper()
    return code.upper() in {location.code.upper(), f"LOC:{location.code}".upper()}


def _product_matches(code: str, product: Product) -> bool:
    code = code.strip()
    scan = _parse(code)
    if scan is not None:
        if scan.gtin and product.barcode:
            return scan.gtin.lstrip("0") == product.barcode.lstrip("0")
        if scan.kind == "sku":
            return scan.value.upper() == product.sku.upper()
        if scan.kind not in ("text", "item"):
            return False
    return code.upper() == product.sku.upper() or (bool(product.barcode) and code == product.barcode)


def _scan_once(*, scan_id: str, user, screen: str, code: str, fn) -> ScanResult:
    """Run ``fn()`` (→ ScanResult) once per ``scan_id``; a repeated id returns the first answer."""
    if not scan_id:
        raise WarehouseError("every scan needs a scan id")
    done = ScanEvent.objects.filter(scan_id=scan_id).first()
    if done is not None:
        return ScanResult(done.ok, done.message, replay=True)
    try:
        with transaction.atomic():
            event = ScanEvent.objects.create(scan_id=scan_id, user=user, screen=screen, code=code[:200])
            try:
                with transaction.atomic():
                    result = fn()
            except ScanRefused as exc:
                result = ScanResult(False, str(exc))
                if exc.metric:
                    FloorMetric.objects.create(**exc.metric)
            event.ok, event.message = result.ok, result.message[:300]
            event.save(update_fields=["ok", "message"])
            return result
    except IntegrityError:  # the same scan raced in twice: the first one wins
        done = ScanEvent.objects.get(scan_id=scan_id)
        return ScanResult(done.ok, done.message, replay=True)


def _metric(kind: str, *, warehouse_id: int, value: float = 1.0, **kw) -> None:
    FloorMetric.objects.create(kind=kind, warehouse_id=warehouse_id, value=value, **kw)


# --- Waves and batches --------------------------------------------------------------------------------------


@dataclass
class _PlannedPick:
    line: OrderLine
    product: Product
    location: Location
    lot: str
    quantity: int


def _line_allocations(order: Order, warehouse_id: int) -> list[tuple[OrderLine, int]]:
    """(line, units to pick here) for the order's open lines; a partially shipped order's shipped lines
    (whose allocation rows the order book leaves as they were) drop out."""
    rows = OrderLineAllocation.objects.filter(line__order=order, warehouse_id=warehouse_id, allocated__gt=0)
    out = []
    for r in rows.select_related("line__product").order_by("line__position", "line_id"):
        qty = min(r.allocated, r.line.open_quantity)
        if qty > 0:
            out.append((r.line, qty))
    return out


def _plan_picks(order: Order, warehouse_id: int, used: dict) -> list[_PlannedPick] | None:
    """Locations for every allocated unit of the order (FEFO/FIFO, pick face first), accounting for the
    units earlier orders of the wave already take from the same shelves. None if a shelf is short."""
    picks: list[_PlannedPick] = []
    for line, qty in _line_allocations(order, warehouse_id):
        product = line.product
        if product is None:
            return None
        if product.is_kit:
            # built kits reserved for the line are picked as the kit itself, the rest as its components
            # (stock_pick does the same)
            pre = (
                Allocation.objects.filter(
                    merchant_id=order.merchant_id,
                    reference=line.reference,
                    product_id=product.pk,
                    warehouse_id=warehouse_id,
                    status=Allocation.Status.OPEN,
                )
                .values_list("prebuilt", "picked")
                .first()
            )
            built = min(qty, pre[0] - pre[1]) if pre else 0
            comps = list(product.components.select_related("component"))
            wanted = [(product, built)] if built else []
            if qty - built:
                wanted += [(c.component, c.quantity * (qty - built)) for c in comps]
        else:
            wanted = [(product, qty)]
        for prod, need in wanted:
            key_used = sum(v for (pid, _, _), v in used.items() if pid == prod.pk)
            cands = pick_candidates(
                merchant=order.merchant_id, product=prod, warehouse=warehouse_id, quantity=need + key_used
            )
            skip = key_used
            got = 0
            for c in cands:
                take = c.quantity
                if skip:
                    s = min(skip, take)
                    skip -= s
                    take -= s
                if take <= 0:
                    continue
                take = min(take, need - got)
                picks.append(_PlannedPick(line, prod, c.location, c.lot, take))
                got += take
                if got >= need:
                    break
            if got < need:
                return None
    for p in picks:
        used[(p.product.pk, p.location.pk, p.lot)] = (
            used.get((p.product.pk, p.location.pk, p.lot), 0) + p.quantity
        )
    return picks


def _order_matches(order: Order, rules: dict) -> bool:
    levels = rules.get("service_levels") or []
    if levels and order.shipping_service not in levels:
        return False
    if rules.get("cutoff_only") and not order.same_day_cutoff and order.shipping_service not in EXPEDITED:
        return False
    handling = rules.get("handling", "any")
    if handling == "fragile" and not order.is_fragile:
        return False
    if handling == "hazmat" and not order.is_hazmat:
        return False
    if handling == "standard" and (order.is_fragile or order.is_hazmat or order.requires_cold_chain):
        return False
    profile = rules.get("line_profile", "any")
    lines = [ln for ln in order.lines.all() if ln.open_quantity > 0]
    single = len(lines) == 1 and lines[0].open_quantity == 1
    if profile == "single" and not single:
        return False
    return not (profile == "multi" and single)


def wave_create(
    *,
    warehouse: Warehouse,
    user=None,
    name: str = "",
    rules: dict | None = None,
    cutoff_at: dt.datetime | None = None,
    max_orders: int = 200,
    cart_totes: int = 8,
    cart_volume_cm3: float = 250_000,
    scheduled: bool = False,
) -> Wave:
    """Turn released orders into a wave of batches. ``rules``: ``service_levels`` (list), ``cutoff_only``,
    ``zone``, ``line_profile`` (single|multi|any), ``handling`` (fragile|hazmat|standard|any),
    ``priority_first`` (default true). Orders are batched onto carts (Clarke–Wright savings on optimal
    routes); expedited and cart-filling orders are picked alone. Each cart's pick list is its route."""
    rules = dict(rules or {})
    floor = selectors.layout_for(warehouse=warehouse)
    candidates = list(selectors.releasable_orders(warehouse=warehouse).prefetch_related("lines"))
    if rules.get("priority_first", True):
        candidates.sort(key=lambda o: (o.shipping_service not in EXPEDITED, -o.priority, o.placed_at, o.pk))
    else:
        candidates.sort(key=lambda o: (o.placed_at, o.pk))
    candidates = [o for o in candidates if _order_matches(o, rules)]
    zone = rules.get("zone", "")
    with transaction.atomic():
        wave = Wave.objects.create(
            warehouse=warehouse,
            name=name or f"{warehouse.code} {timezone.now():%Y-%m-%d %H:%M}",
            rules=rules,
            cutoff_at=cutoff_at,
            created_by=user,
            scheduled=scheduled,
        )
        used: dict = {}
        planned: dict[int, list[_PlannedPick]] = {}
        orders: list[Order] = []
        for order in candidates:
            if len(orders) >= max_orders:
                break
            locked = (
                Order.objects.select_for_update(skip_locked=True)
                .filter(pk=order.pk, status__in=selectors.PICKABLE_STATUSES)
                .first()
            )
            if locked is None:
                continue
            picks = _plan_picks(order, warehouse.pk, used)
            if not picks:
                continue
            if zone and any(p.location.zone != zone for p in picks):
                continue
            planned[order.pk] = picks
            orders.append(order)

        order_picks = []
        for order in orders:
            stops = []
            volume = 0.0
            for i, p in enumerate(planned[order.pk]):
                stops.append(Stop((order.pk, i), floor.point(p.location), _rank(order, p.product)))
                volume += p.quantity * p.product.length_mm * p.product.width_mm * p.product.height_mm / 1000
            alone = order.shipping_service in EXPEDITED or volume > cart_volume_cm3
            order_picks.append(OrderPicks(key=order.pk, stops=tuple(stops), volume=volume, alone=alone))
        plan = batch_orders(floor.layout, order_picks, Cart(totes=cart_totes, volume=cart_volume_cm3))
        by_pk = {o.pk: o for o in orders}
        for b in plan.batches:
            _batch_create(
                wave=wave,
                warehouse=warehouse,
                orders=[by_pk[k] for k in b.orders],
                planned=planned,
                floor=floor,
            )
        _replenish(warehouse=warehouse, used=used, planned=planned)
        audit_record(
            obj_type="warehouse.Wave",
            obj_id=wave.pk,
            action="create",
            after={
                "orders": len(orders),
                "batches": len(plan.batches),
                "rules": rules,
                "scheduled": scheduled,
            },
            message=f"travel {plan.length:.0f} m batched vs {plan.single_order_length:.0f} m order by order",
        )
    return wave


def _rank(order: Order, product: Product) -> int:
    if product.fragile:
        return RANK_LAST
    if order.shipping_service in EXPEDITED or order.priority > 0:
        return RANK_PRIORITY
    return RANK_NORMAL


def _batch_create(*, wave: Wave, warehouse: Warehouse, orders: list[Order], planned: dict, floor) -> Batch:
    batch = Batch.objects.create(
        wave=wave,
        warehouse=warehouse,
        number=f"tmp-{timezone.now().timestamp()}",
        single_order=len(orders) == 1,
    )
    batch.number = f"B{batch.pk:05d}"
    stops: list[Stop] = []
    tasks: dict[tuple, PickTask] = {}
    single_len = 0.0
    for slot, order in enumerate(orders, start=1):
        bo = BatchOrder.objects.create(
            merchant_id=order.merchant_id, batch=batch, order=order, tote=f"{batch.number}-{slot}", slot=slot
        )
        order_stops = []
        for i, p in enumerate(planned[order.pk]):
            key = (order.pk, i)
            tasks[key] = PickTask(
                merchant_id=order.merchant_id,
                batch=batch,
                batch_order=bo,
                line=p.line,
                product=p.product,
                location=p.location,
                lot=p.lot,
                quantity=p.quantity,
            )
            order_stops.append(Stop(key, floor.point(p.location), _rank(order, p.product)))
        stops += order_stops
        single_len += plan_route(floor.layout, order_stops).length
    route = plan_route(floor.layout, stops)
    for seq, key in enumerate(route.order, start=1):
        tasks[key].sequence = seq
    PickTask.objects.bulk_create(list(tasks.values()))
    batch.route_length_m = round(route.length, 2)
    batch.single_order_length_m = round(single_len, 2)
    batch.route_method = route.method
    batch.save(update_fields=["number", "route_length_m", "single_order_length_m", "route_method"])
    return batch


def _replenish(*, warehouse: Warehouse, used: dict, planned: dict) -> None:
    """A replenishment task for every pick face the wave leaves below ``REPLENISH_BELOW`` units, from the
    reserve location that holds the product (FEFO/FIFO order)."""
    merchants = {p.product.pk: p.product.merchant_id for picks in planned.values() for p in picks}
    faces = defaultdict(int)
    for (pid, lid, _lot), n in used.items():
        faces[(pid, lid)] += n
    for (pid, lid), n in faces.items():
        loc = Location.objects.get(pk=lid)
        if loc.type != Location.Type.PICK:
            continue
        on_shelf = sum(
            StockQuant.objects.filter(product_id=pid, location_id=lid).values_list("quantity", flat=True)
        )
        if on_shelf - n >= REPLENISH_BELOW:
            continue
        reserve = (
            StockQuant.objects.filter(
                product_id=pid, warehouse=warehouse, location__type=Location.Type.RESERVE, quantity__gt=0
            )
            .order_by("expires_on", "received_at")
            .first()
        )
        qty = max(REPLENISH_BELOW * 2, loc.capacity // 2 if loc.capacity else 0) if reserve else 0
        if reserve is None:
            continue
        ReplenishmentTask.objects.get_or_create(
            product_id=pid,
            to_location=loc,
            status=ReplenishmentTask.Status.OPEN,
            defaults={
                "merchant_id": merchants[pid],
                "warehouse": warehouse,
                "from_location": reserve.location,
                "quantity": min(qty, reserve.quantity),
            },
        )


# --- Picking ------------------------------------------------------------------------------------------------


def batch_start(*, batch: Batch, user) -> Batch:
    """The picker takes the cart: orders go to ``picking``. Idempotent for the same picker."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == Batch.Status.PICKING and locked.picker_id == user.pk:
            return locked
        if locked.status != Batch.Status.OPEN:
            raise WarehouseError(f"Batch {locked.number} is {locked.get_status_display().lower()}.")
        locked.status, locked.picker, locked.started_at = Batch.Status.PICKING, user, timezone.now()
        locked.save(update_fields=["status", "picker", "started_at"])
        for bo in BatchOrder.objects.filter(batch=locked).select_related("order"):
            if bo.order.status in (Order.Status.RELEASED, Order.Status.PARTIALLY_SHIPPED):
                order_services.order_start_picking(order=bo.order)
        audit_record(obj_type="warehouse.Batch", obj_id=locked.pk, action="start", after={"picker": user.pk})
    return locked


def pick_scan(*, batch: Batch, user, scan_id: str, code: str, quantity: int | None = None) -> ScanResult:
    """A scan on the picking screen: first the location of the current task, then its item (each scan one
    unit, or ``quantity`` typed for many). Wrong location or item: refused with a plain message."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.PICKING:
            raise ScanRefused("This cart is not being picked.")
        task = (
            PickTask.objects.select_for_update()
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        loc, product = task.location, task.product
        mis_scan = {
            "kind": FloorMetric.Kind.MIS_SCAN,
            "warehouse_id": locked.warehouse_id,
            "user": user,
            "batch": locked,
            "value": 1.0,
            "merchant_id": task.merchant_id,
        }
        if not task.location_confirmed:
            if not _location_matches(code, loc):
                raise ScanRefused(f"Wrong location. Go to {loc.code}.", metric=mis_scan)
            task.location_confirmed = True
            task.save(update_fields=["location_confirmed"])
            return ScanResult(True, f"Location {loc.code} OK. Scan {product.sku}.")
        if qc_due_at_pick(task) is not None:
            raise ScanRefused(f"Check {product.sku} first: answer the quality checklist on the screen.")
        if not _product_matches(code, product):
            if _location_matches(code, loc):
                return ScanResult(True, f"Location {loc.code} OK. Scan {product.sku}.")
            raise ScanRefused(f"Wrong item. Pick {product.sku} — {product.name}.", metric=mis_scan)
        n = quantity if quantity else 1
        if n < 1 or n > task.remaining:
            raise ScanRefused(f"Only {task.remaining} more of {product.sku} for this tote.")
        task.picked_quantity += n
        fields = ["picked_quantity"]
        msg = f"{task.picked_quantity} of {task.quantity} {product.sku} → tote {task.batch_order.tote}."
        if task.remaining == 0:
            _complete(task, user)
            fields += ["status", "picked_by", "picked_at"]
            msg = f"Done: {task.quantity} × {product.sku} into tote {task.batch_order.tote}."
        task.save(update_fields=fields)
        _maybe_finish(locked, user)
        return ScanResult(True, msg)

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code=code, fn=run)


def _complete(task: PickTask, user) -> None:
    if task.picked_quantity:
        inv.stock_pick(
            merchant=task.merchant_id,
            reference=task.line.reference,
            product=task.product,
            location=task.location,
            quantity=task.picked_quantity,
            lot=task.lot,
        )
        _metric(
            FloorMetric.Kind.PICK,
            warehouse_id=task.batch.warehouse_id,
            user=user,
            value=task.picked_quantity,
            lines=1,
            batch=task.batch,
            merchant_id=task.merchant_id,
        )
    task.status = PickTask.Status.PICKED if task.short_quantity == 0 else PickTask.Status.SHORT
    task.picked_by, task.picked_at = user, timezone.now()


def pick_short(*, batch: Batch, user, scan_id: str) -> ScanResult:
    """ "Not there": the rest of the current task is short. What was picked is kept; the shortfall is
    re-allocated from another location when one holds it (a new task on the route), else the order is
    marked short (backordered). Either way a cycle count is asked for (``warehouse.short_pick``)."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        task = (
            PickTask.objects.select_for_update()
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .select_related("product", "location", "batch_order", "line")
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        short = task.remaining
        task.short_quantity = short
        _complete(task, user)
        task.save(update_fields=["short_quantity", "status", "picked_by", "picked_at"])
        _metric(
            FloorMetric.Kind.SHORT_PICK,
            warehouse_id=locked.warehouse_id,
            user=user,
            value=short,
            batch=locked,
            merchant_id=task.merchant_id,
        )
        outbox.emit(
            EV_SHORT_PICK,
            {
                "merchant_id": task.merchant_id,
                "warehouse_id": locked.warehouse_id,
                "location_id": task.location_id,
                "product_id": task.product_id,
                "quantity": short,
                "batch_id": locked.pk,
            },
            merchant_id=task.merchant_id,
        )
        # Re-allocate from elsewhere: pending tasks of this cart already claim some units.
        claimed = defaultdict(int)
        for t in PickTask.objects.filter(
            product=task.product, status=PickTask.Status.PENDING, batch__warehouse_id=locked.warehouse_id
        ):
            claimed[(t.location_id, t.lot)] += t.remaining
        others = [
            c
            for c in pick_candidates(
                merchant=task.merchant_id, product=task.product, warehouse=locked.warehouse_id, quantity=10**6
            )
            if c.location.pk != task.location_id
        ]
        need, new_tasks = short, []
        for c in others:
            free = c.on_shelf - claimed[(c.location.pk, c.lot)]
            if free <= 0:
                continue
            take = min(free, need)
            new_tasks.append(
                PickTask(
                    merchant_id=task.merchant_id,
                    batch=locked,
                    batch_order=task.batch_order,
                    line=task.line,
                    product=task.product,
                    location=c.location,
                    lot=c.lot,
                    quantity=take,
                )
            )
            need -= take
            if need == 0:
                break
        if new_tasks:
            PickTask.objects.bulk_create(new_tasks)
            _resequence(locked)
        if need:
            bo = task.batch_order
            bo.status = BatchOrder.Status.SHORT
            bo.save(update_fields=["status"])
        audit_record(
            obj_type="warehouse.PickTask",
            obj_id=task.pk,
            action="short_pick",
            merchant_id=task.merchant_id,
            after={
                "short": short,
                "reallocated": short - need,
                "backordered": need,
                "location": task.location.code,
            },
        )
        _maybe_finish(locked, user)
        if need == 0:
            where = ", ".join(t.location.code for t in new_tasks)
            return ScanResult(
                True, f"Short {short} × {task.product.sku} recorded. Pick it from {where} instead."
            )
        return ScanResult(
            True, f"Short {short} × {task.product.sku} recorded: backordered; a recount is requested."
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code="SHORT", fn=run)


def _resequence(batch: Batch) -> None:
    """Re-plan the route over the cart's pending tasks (after a re-allocation added some)."""
    floor = selectors.layout_for(warehouse=batch.warehouse_id)
    pending = list(
        PickTask.objects.filter(batch=batch, status=PickTask.Status.PENDING).select_related(
            "location", "product", "batch_order__order"
        )
    )
    done = PickTask.objects.filter(batch=batch).exclude(status=PickTask.Status.PENDING).count()
    stops = [Stop(t.pk, floor.point(t.location), _rank(t.batch_order.order, t.product)) for t in pending]
    route = plan_route(floor.layout, stops)
    by_pk = {t.pk: t for t in pending}
    for i, pk in enumerate(route.order, start=done + 1):
        by_pk[pk].sequence = i
    PickTask.objects.bulk_update(pending, ["sequence"])


def _maybe_finish(batch: Batch, user) -> None:
    if PickTask.objects.filter(batch=batch, status=PickTask.Status.PENDING).exists():
        return
    batch.status, batch.completed_at = Batch.Status.PICKED, timezone.now()
    batch.save(update_fields=["status", "completed_at"])
    BatchOrder.objects.filter(batch=batch, status=BatchOrder.Status.PICKING).update(
        status=BatchOrder.Status.PICKED
    )
    lines = PickTask.objects.filter(batch=batch).count()
    _metric(
        FloorMetric.Kind.TRAVEL_M,
        warehouse_id=batch.warehouse_id,
        user=user,
        value=batch.route_length_m,
        lines=lines,
        batch=batch,
    )
    if batch.started_at:
        secs = (batch.completed_at - batch.started_at).total_seconds()
        _metric(
            FloorMetric.Kind.BATCH_SECONDS,
            warehouse_id=batch.warehouse_id,
            user=user,
            value=secs,
            lines=lines,
            batch=batch,
        )
    audit_record(obj_type="warehouse.Batch", obj_id=batch.pk, action="picked", after={"lines": lines})


# --- Packing ------------------------------------------------------------------------------------------------


def pack_open(*, warehouse: Warehouse, user, code: str) -> PackSession:
    """Scan a tote (``B00012-3`` or ``TOTE:B00012-3``) or an order number: the packing session for it."""
    code = code.strip()
    scan = _parse(code)
    value = scan.value if scan is not None and scan.kind in ("tote", "text") and scan.value else code
    if value.upper().startswith("TOTE:"):
        value = value[5:]
    bo = (
        BatchOrder.objects.filter(tote__iexact=value, batch__warehouse=warehouse)
        .exclude(status__in=[BatchOrder.Status.SHIPPED])
        .select_related("order")
        .first()
    )
    if bo is not None:
        order = bo.order
    else:
        order = Order.objects.filter(
            number__iexact=value, status__in=[Order.Status.PICKING, Order.Status.PACKED]
        ).first()
        if order is None:
            raise WarehouseError(f"No tote or order to pack for “{code}”.")
        bo = BatchOrder.objects.filter(order=order, batch__warehouse=warehouse).order_by("-pk").first()
        if bo is None:
            raise WarehouseError(f"Order {order.number} was not picked in {warehouse.code}.")
    if bo.status == BatchOrder.Status.PICKING:
        raise WarehouseError(f"Tote {bo.tote} is still being picked.")
    with transaction.atomic():
        session = PackSession.objects.filter(order=order).exclude(status=PackSession.Status.SHIPPED).first()
        if session is None:
            session = PackSession.objects.create(
                merchant_id=order.merchant_id, order=order, warehouse=warehouse, batch_order=bo, packer=user
            )
    return session


def pack_expected(session: PackSession) -> dict[int, int]:
    """{line_id: units to pack}: what this session's tote holds for the order (picked units; a kit line
    counts whole kits, the fewest of its components' picked units per kit)."""
    if session.batch_order_id:
        tasks = PickTask.objects.filter(batch_order_id=session.batch_order_id)
    else:
        tasks = PickTask.objects.filter(
            batch_order__order=session.order, batch_order__batch__warehouse=session.warehouse
        )
    per_product: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for line_id, product_id, n in tasks.values_list("line_id", "product_id", "picked_quantity"):
        per_product[line_id][product_id] += n
    # units that failed the packing checklist went to quarantine: they are not packed
    failed = QcResult.objects.filter(pick_task__in=tasks, stage=QcChecklist.Stage.PACK, passed=False)
    for line_id, product_id, n in failed.values_list("pick_task__line_id", "product_id", "quarantined"):
        per_product[line_id][product_id] -= n
    lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=list(per_product)).select_related("product")}
    out: dict[int, int] = {}
    for line_id, by_product in per_product.items():
        line = lines[line_id]
        if line.product is not None and line.product.is_kit:
            # built kits (picked as the kit) plus whole kits of picked components
            per = {c.component_id: c.quantity for c in line.product.components.all()}
            units = by_product.get(line.product_id, 0) + min(
                (by_product.get(pid, 0) // q for pid, q in per.items() if q), default=0
            )
        else:
            units = sum(by_product.values())
        if units:
            out[line_id] = units
    return out


def pack_verify(*, session: PackSession, user, scan_id: str, code: str) -> ScanResult:
    """Every unit is scanned at the bench; an item that is not (or no longer) due blocks packing."""

    def run() -> ScanResult:
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != PackSession.Status.VERIFYING:
            raise ScanRefused("This order is already verified.")
        if locked.qc_due:
            raise ScanRefused(f"Answer the quality checklist for {locked.qc_due['sku']} first.")
        expected = pack_expected(locked)
        verified = {int(k): v for k, v in locked.verified.items()}
        lines = {ln.pk: ln for ln in OrderLine.objects.filter(pk__in=expected).select_related("product")}
        for line_id, due in expected.items():
            line = lines[line_id]
            if line.product and _product_matches(code, line.product) and verified.get(line_id, 0) < due:
                verified[line_id] = verified.get(line_id, 0) + 1
                locked.verified = {str(k): v for k, v in verified.items()}
                locked.save(update_fields=["verified"])
                checklist = selectors.qc_checklist_for(
                    product_id=line.product_id, stage=QcChecklist.Stage.PACK
                )
                unit = f"pack:{locked.pk}:{line_id}:{verified[line_id]}"
                if checklist is not None and _sampled(checklist, unit):
                    locked.qc_due = {"line": line_id, "checklist": checklist.pk, "sku": line.sku}
                    locked.save(update_fields=["qc_due"])
                    return ScanResult(True, f"{line.sku} OK — check it: answer the quality checklist.")
                left = sum(expected.values()) - sum(verified.values())
                if left == 0:
                    _pack_done_verifying(locked)
                    return ScanResult(True, "All items verified. Pack in the recommended box.")
                return ScanResult(True, f"{line.sku} OK — {left} more to scan.")
        raise ScanRefused(
            f"“{code}” is not in this order (or all of it is scanned). Put it aside.",
            metric={
                "kind": FloorMetric.Kind.MIS_SCAN,
                "warehouse_id": locked.warehouse_id,
                "user": user,
                "order_id": locked.order_id,
                "value": 1.0,
                "merchant_id": locked.merchant_id,
            },
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pack", code=code, fn=run)


def _pack_done_verifying(session: PackSession) -> None:
    plan = pack_plan(session=session)
    session.plan = _plan_json(plan)
    session.status = PackSession.Status.PACKED
    session.save(update_fields=["plan", "status"])
    order = Order.objects.get(pk=session.order_id)
    if order.status == Order.Status.PICKING:
        order_services.order_mark_packed(order=order)


def pack_items(session: PackSession) -> list[packing.Item]:
    expected = pack_expected(session)
    lines = OrderLine.objects.filter(pk__in=expected).select_related("product")
    rules = selectors.packing_rules(product_ids=[ln.product_id for ln in lines])
    items = []
    for ln in lines:
        p = ln.product
        rule = rules.get(p.pk)
        dims = sorted([p.length_mm or 100, p.width_mm or 100, p.height_mm or 50], reverse=True)
        for u in range(expected[ln.pk]):
            items.append(
                packing.Item(
                    key=f"{ln.pk}:{u}",
                    length=dims[0],
                    width=dims[1],
                    height=dims[2] if not (rule and rule.this_side_up) else (p.height_mm or 50),
                    weight_g=p.weight_g or 100,
                    this_side_up=bool(rule and rule.this_side_up),
                    own_container=p.packaging == Product.Packaging.OWN
                    or bool(rule and rule.ships_in_own_container),
                    no_bag=bool(rule and rule.no_bag) or p.packaging == Product.Packaging.BOX,
                    fragile=p.fragile,
                )
            )
            if rule and rule.this_side_up:
                items[-1] = packing.Item(
                    key=items[-1].key,
                    length=p.length_mm or 100,
                    width=p.width_mm or 100,
                    height=p.height_mm or 50,
                    weight_g=items[-1].weight_g,
                    this_side_up=True,
                    own_container=items[-1].own_container,
                    no_bag=items[-1].no_bag,
                    fragile=items[-1].fragile,
                )
    return items


def _box(b: BoxType) -> packing.BoxType:
    return packing.BoxType(
        code=b.code,
        length=b.length_mm,
        width=b.width_mm,
        height=b.height_mm,
        max_weight_g=b.max_weight_g,
        cost=b.cost,
        kind=b.kind,
        tare_g=b.tare_g,
    )


def pack_plan(*, session: PackSession) -> packing.PackPlan:
    """The recommended parcels: least box + shipping cost (dimensional weight), items truly fitting. A
    merchant with branded boxes that fit gets them."""
    items = pack_items(session)
    merchant = session.order.merchant
    catalog = selectors.box_catalog(warehouse=session.warehouse, merchant=merchant)
    branded = [b for b in catalog if b.merchant_id == merchant.pk]
    if session.order.custom_packaging and branded:
        plan = packing.recommend_boxes(items, [_box(b) for b in branded])
        if all(p.box is not None or not p.oversize for p in plan.parcels):
            return plan
    return packing.recommend_boxes(items, [_box(b) for b in catalog if b.merchant_id is None])


def _plan_json(plan: packing.PackPlan) -> dict:
    return {
        "cost": str(plan.cost),
        "parcels": [
            {
                "box": p.box.code if p.box else "",
                "kind": p.box.kind if p.box else "own",
                "dims": [p.length, p.width, p.height],
                "weight_g": p.weight_g,
                "billable_weight_g": p.billable_weight_g,
                "box_cost": str(p.box_cost),
                "shipping_cost": str(p.shipping_cost),
                "utilisation": round(p.utilisation, 3),
                "oversize": p.oversize,
                "placements": [[str(q.key), q.x, q.y, q.z, q.dx, q.dy, q.dz] for q in p.placements],
            }
            for p in plan.parcels
        ],
    }


def plan_parcels(plan_json: dict) -> list[packing.Parcel]:
    """Rebuild parcels (for the diagram) from a stored plan."""
    out = []
    for p in plan_json.get("parcels", []):
        out.append(
            packing.Parcel(
                box=None,
                placements=[
                    packing.Placement(k, x, y, z, dx, dy, dz) for k, x, y, z, dx, dy, dz in p["placements"]
                ],
                weight_g=p["weight_g"],
                length=p["dims"][0],
                width=p["dims"][1],
                height=p["dims"][2],
                billable_weight_g=p["billable_weight_g"],
                box_cost=Decimal(p["box_cost"]),
                shipping_cost=Decimal(p["shipping_cost"]),
                item_volume=0,
            )
        )
    return out


def pack_ship(*, session: PackSession, user, weight_g: int, connectors=None) -> PackSession:
    """Buy the label(s) through the carriers (idempotent per parcel), take the stock out of the building,
    mark the order shipped. ``weight_g`` is what the scale (or the packer) says for the whole order."""
    from integrations.carriers import services as carrier_services
    from integrations.carriers.base import Parcel

    if weight_g <= 0:
        raise WarehouseError("Weigh the parcel first.")
    session = PackSession.objects.select_related("order", "warehouse").get(pk=session.pk)
    if session.status == PackSession.Status.SHIPPED:
        return session
    if session.status == PackSession.Status.VERIFYING:
        raise WarehouseError("Scan every item before shipping.")
    order = session.order
    parcels = session.plan.get("parcels") or []
    planned_total = sum(p["weight_g"] for p in parcels) or 1
    shipment_ids = list(session.shipment_ids)
    for i, p in enumerate(parcels):
        if i < len(shipment_ids):
            continue
        share = max(1, round(weight_g * p["weight_g"] / planned_total))
        parcel = Parcel(
            weight_g=share,
            length_mm=p["dims"][0],
            width_mm=p["dims"][1],
            height_mm=p["dims"][2],
            hazmat=order.is_hazmat,
            reference=f"{order.number or order.pk}-{i + 1}",
        )
        shipment = carrier_services.shipment_buy_label(
            merchant=order.merchant,
            order=order,
            parcel=parcel,
            from_warehouse=session.warehouse,
            idempotency_key=f"pack:{session.pk}:{i + 1}",
            connectors=connectors,
        )
        shipment_ids.append(shipment.pk)
        PackSession.objects.filter(pk=session.pk).update(
            shipment_ids=shipment_ids, status=PackSession.Status.LABELLED
        )
    with transaction.atomic():
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == PackSession.Status.SHIPPED:
            return locked
        shipped = _ship_picked(session=locked, order=order)
        fresh = Order.objects.get(pk=order.pk)
        if fresh.status == Order.Status.PICKING:
            order_services.order_mark_packed(order=fresh)
        order_services.order_mark_shipped(
            order=fresh, shipment_id=shipment_ids[0] if shipment_ids else None, lines=shipped
        )
        if fresh.status == Order.Status.PARTIALLY_SHIPPED:
            # the rest stays open: refresh the lines' allocated/backordered counts from inventory
            order_services.reconcile_allocation(order=fresh)
        locked.status, locked.weight_g, locked.finished_at = (
            PackSession.Status.SHIPPED,
            weight_g,
            timezone.now(),
        )
        locked.shipment_ids = shipment_ids
        locked.save(update_fields=["status", "weight_g", "finished_at", "shipment_ids"])
        if locked.batch_order_id:
            BatchOrder.objects.filter(pk=locked.batch_order_id).update(status=BatchOrder.Status.SHIPPED)
        secs = (locked.finished_at - locked.started_at).total_seconds()
        _metric(
            FloorMetric.Kind.PACK_SECONDS,
            warehouse_id=locked.warehouse_id,
            user=user,
            value=secs,
            order=order,
            merchant_id=order.merchant_id,
        )
        for p in parcels:
            if p["kind"] != "own":
                _metric(
                    FloorMetric.Kind.BOX_UTILISATION,
                    warehouse_id=locked.warehouse_id,
                    user=user,
                    value=p["utilisation"],
                    order=order,
                    merchant_id=order.merchant_id,
                )
        audit_record(
            obj_type="warehouse.PackSession",
            obj_id=locked.pk,
            action="shipped",
            merchant_id=order.merchant_id,
            after={"shipments": shipment_ids, "weight_g": weight_g, "boxes": [p["box"] for p in parcels]},
        )
    return locked


def _ship_picked(*, session: PackSession, order: Order) -> dict[int, int]:
    """Only what was picked into the totes leaves the building. inventory's ``stock_ship`` ships a reference's
    whole reservation (picking any unpicked units itself), so for a short-picked line the demand not picked
    is released first, the picked units shipped, and that demand reserved again (allocated if the
    warehouse still shows free stock, else backordered) at the order's place in the queue — all in the
    caller's transaction. Returns ``{line_id: units shipped}`` for ``order_mark_shipped``."""
    picked = pack_expected(session)
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
    shipped: dict[int, int] = {}
    for line in lines:
        if line.product_id is None:
            continue  # no stock behind it (never reserved): nothing leaves the shelves for it
        units = picked.get(line.pk, 0)
        if not units:
            continue  # nothing of it in the tote: its reservation stays untouched
        alloc = Allocation.objects.filter(
            merchant_id=order.merchant_id,
            reference=line.reference,
            warehouse_id=session.warehouse_id,
            parent__isnull=True,
            status=Allocation.Status.OPEN,
        ).first()
        rest = (alloc.requested - alloc.shipped - units) if alloc is not None else 0
        if rest > 0:
            inv.stock_release(merchant=order.merchant_id, reference=line.reference, quantity=rest)
        inv.stock_ship(merchant=order.merchant_id, reference=line.reference)
        if rest > 0:
            inv.stock_reserve(
                merchant=order.merchant_id,
                product=line.product,
                warehouse=session.warehouse,
                quantity=rest,
                reference=line.reference,
                priority=max(-32768, min(32767, order.priority)),
                requested_at=order.placed_at,
            )
        shipped[line.pk] = units
    if not shipped:
        raise WarehouseError("Nothing was picked for this order: there is nothing to ship.")
    return shipped


# --- Quality control ----------------------------------------------------------------------------------------


def qc_record(
    *,
    checklist: QcChecklist,
    product: Product,
    user,
    failed_questions: list[str],
    reason: str = "",
    order: Order | None = None,
    location: Location | None = None,
    quantity: int = 1,
    pick_task: PickTask | None = None,
) -> QcResult:
    """Record a checklist outcome. A failure moves the unit(s) to quarantine (inventory's ``stock_move``)
    with the reason; a pass just records it."""
    passed = not failed_questions
    if not passed and not reason:
        reason = "; ".join(failed_questions)
    with transaction.atomic():
        quarantined = 0
        if not passed and location is not None:
            inv.stock_move(
                merchant=product.merchant_id,
                product=product,
                from_location=location,
                to_location=inv.quarantine_location(location.warehouse_id),
                quantity=quantity,
                reason=f"QC failed: {reason}"[:200],
                reference=f"qc:{checklist.pk}",
            )
            quarantined = quantity
        result = QcResult.objects.create(
            merchant_id=product.merchant_id,
            checklist=checklist,
            pick_task=pick_task,
            order=order,
            product=product,
            stage=checklist.stage,
            passed=passed,
            failed_questions=failed_questions,
            reason=reason,
            quarantined=quarantined,
            user=user,
        )
        audit_record(
            obj_type="warehouse.QcResult",
            obj_id=result.pk,
            action="qc_pass" if passed else "qc_fail",
            merchant_id=product.merchant_id,
            after={"product": product.sku, "failed": failed_questions, "quarantined": quarantined},
        )
    return result


def _sampled(checklist: QcChecklist, key: str) -> bool:
    """Whether this unit (task) is checked: a stable draw per key, so a repeated screen asks the same."""
    if checklist.sample_pct >= 100:
        return True
    digest = hashlib.sha256(f"{checklist.pk}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < checklist.sample_pct


def _answers(failed_questions: list[str]) -> list[str]:
    return [q.strip()[:200] for q in failed_questions if q and q.strip()][:20]


def qc_due_at_pick(task: PickTask) -> QcChecklist | None:
    """The picking checklist still to answer for a task (sampled per task; a pass ends it)."""
    checklist = selectors.qc_checklist_for(product_id=task.product_id, stage=QcChecklist.Stage.PICK)
    if checklist is None or not _sampled(checklist, f"pick:{task.pk}"):
        return None
    if QcResult.objects.filter(pick_task=task, stage=QcChecklist.Stage.PICK, passed=True).exists():
        return None
    return checklist


def _open_allocation(task: PickTask) -> Allocation | None:
    return Allocation.objects.filter(
        merchant_id=task.merchant_id,
        reference=task.line.reference,
        product_id=task.line.product_id,
        warehouse_id=task.batch.warehouse_id,
        parent__isnull=True,
        status=Allocation.Status.OPEN,
    ).first()


def _quarantine_reserved_unit(
    *, task: PickTask, checklist: QcChecklist, user, failed: list[str], reason: str, picked: bool
) -> QcResult:
    """One failed unit of a task goes to quarantine without taking another order's stock: the line's demand
    that is not (still) picked is released — for a unit already in packing that includes it, which inventory
    puts back where it was picked from — the unit is quarantined from its shelf (``qc_record``), and the
    same demand is reserved again (allocated from free stock, else backordered)."""
    order = task.batch_order.order
    if task.line.product is not None and task.line.product.is_kit:
        # a kit's reservation is in kits, the unit is a component: record it, keep the unit off the parcel
        return qc_record(
            checklist=checklist,
            product=task.product,
            user=user,
            failed_questions=failed,
            reason=f"{reason} (kit component: quarantine it by hand)".strip(),
            order=order,
            pick_task=task,
        )
    alloc = _open_allocation(task)
    keep = (alloc.picked - (1 if picked else 0)) if alloc is not None else 0
    rest = (alloc.requested - alloc.shipped - keep) if alloc is not None else 0
    if rest > 0:
        inv.stock_release(merchant=task.merchant_id, reference=task.line.reference, quantity=rest)
    location = task.location
    if picked:
        back = (
            StockMovement.objects.filter(
                merchant_id=task.merchant_id,
                reference=task.line.reference,
                product_id=task.product_id,
                type=StockMovement.Type.MOVE,
                from_location=inv.packing_location(task.batch.warehouse_id),
            )
            .order_by("-pk")
            .first()
        )
        location = back.to_location if back is not None else task.location
    result = qc_record(
        checklist=checklist,
        product=task.product,
        user=user,
        failed_questions=failed,
        reason=reason,
        order=order,
        location=location,
        quantity=1,
        pick_task=task,
    )
    if rest > 0:
        inv.stock_reserve(
            merchant=task.merchant_id,
            product=task.line.product,
            warehouse=task.batch.warehouse,
            quantity=rest,
            reference=task.line.reference,
            priority=max(-32768, min(32767, order.priority)),
            requested_at=order.placed_at,
        )
    return result


def pick_qc(*, batch: Batch, user, scan_id: str, failed_questions: list[str], reason: str = "") -> ScanResult:
    """The picker's answer to the checklist of the current task. A pass lets the item scans start; a failure
    quarantines the inspected unit (with the reason) and asks for the next one from the shelf."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        task = (
            PickTask.objects.select_for_update(of=("self",))
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .select_related("product", "location", "line__product", "batch_order__order", "batch__warehouse")
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        checklist = qc_due_at_pick(task)
        if checklist is None:
            raise ScanRefused("No checklist is due for this item.")
        failed = _answers(failed_questions)
        if not failed:
            qc_record(
                checklist=checklist,
                product=task.product,
                user=user,
                failed_questions=[],
                order=task.batch_order.order,
                pick_task=task,
            )
            return ScanResult(True, f"{task.product.sku} passed the check. Scan it.")
        try:
            _quarantine_reserved_unit(
                task=task, checklist=checklist, user=user, failed=failed, reason=reason, picked=False
            )
        except inv.InventoryError as exc:
            raise ScanRefused(f"Could not quarantine the unit: {exc}") from exc
        return ScanResult(
            False,
            f"{task.product.sku} failed ({'; '.join(failed)}): put it in quarantine. Check the next one.",
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code="QC", fn=run)


def pack_qc(
    *, session: PackSession, user, scan_id: str, failed_questions: list[str], reason: str = ""
) -> ScanResult:
    """The packer's answer to the checklist of the unit just scanned. A failure quarantines that unit (with
    the reason) and takes it off this parcel; the order ships without it (the rest stays open)."""

    def run() -> ScanResult:
        locked = PackSession.objects.select_for_update().get(pk=session.pk)
        due = locked.qc_due
        if not due:
            raise ScanRefused("No checklist is due.")
        checklist = QcChecklist.objects.get(pk=due["checklist"])
        line_id = int(due["line"])
        task = (
            PickTask.objects.filter(line_id=line_id, picked_quantity__gt=0)
            .filter(**({"batch_order_id": locked.batch_order_id} if locked.batch_order_id else {}))
            .select_related("product", "location", "line__product", "batch_order__order", "batch__warehouse")
            .order_by("-pk")
            .first()
        )
        if task is None:
            raise ScanRefused("That item was not picked for this order.")
        failed = _answers(failed_questions)
        if failed:
            try:
                _quarantine_reserved_unit(
                    task=task, checklist=checklist, user=user, failed=failed, reason=reason, picked=True
                )
            except inv.InventoryError as exc:
                raise ScanRefused(f"Could not quarantine the unit: {exc}") from exc
            verified = {int(k): v for k, v in locked.verified.items()}
            verified[line_id] = max(0, verified.get(line_id, 0) - 1)
            locked.verified = {str(k): v for k, v in verified.items() if v}
            message = f"{due['sku']} failed ({'; '.join(failed)}): quarantine it — it does not ship."
            ok = False
        else:
            qc_record(
                checklist=checklist,
                product=task.product,
                user=user,
                failed_questions=[],
                order=locked.order,
                pick_task=task,
            )
            message, ok = f"{due['sku']} passed the check.", True
        locked.qc_due = {}
        locked.save(update_fields=["qc_due", "verified"])
        expected = pack_expected(locked)
        verified = {int(k): v for k, v in locked.verified.items()}
        left = sum(expected.values()) - sum(min(verified.get(k, 0), v) for k, v in expected.items())
        if left == 0 and expected:
            _pack_done_verifying(locked)
            return ScanResult(ok, f"{message} All items verified. Pack in the recommended box.")
        if not expected:
            return ScanResult(ok, f"{message} Nothing is left to pack for this order.")
        return ScanResult(ok, f"{message} {left} more to scan.")

    return _scan_once(scan_id=scan_id, user=user, screen="pack", code="QC", fn=run)


# --- Replenishment -------------------------------------------------------------------------------------------


def replenishment_take(*, task: ReplenishmentTask, user) -> ReplenishmentTask:
    """An associate takes a replenishment task (idempotent for the same person; someone else's is refused)."""
    with transaction.atomic():
        locked = ReplenishmentTask.objects.select_for_update().get(pk=task.pk)
        if locked.status != ReplenishmentTask.Status.OPEN:
            raise WarehouseError("This replenishment is already done.")
        if locked.taken_by_id and locked.taken_by_id != user.pk:
            raise WarehouseError("Someone else is doing this replenishment.")
        if locked.taken_by_id is None:
            locked.taken_by = user
            locked.save(update_fields=["taken_by"])
            audit_record(
                obj_type="warehouse.ReplenishmentTask",
                obj_id=locked.pk,
                action="take",
                merchant_id=locked.merchant_id,
                after={"user": user.pk},
            )
    return locked


def replenishment_scan(*, task: ReplenishmentTask, user, scan_id: str, code: str) -> ScanResult:
    """Scan the from-location (reserve), then the pick face: the units move (inventory's ``stock_move``) and
    the task is done. Moves what the task asks for, or what the reserve still holds if that is less."""

    def run() -> ScanResult:
        locked = (
            ReplenishmentTask.objects.select_for_update(of=("self",))
            .select_related("product", "from_location", "to_location")
            .get(pk=task.pk)
        )
        if locked.status != ReplenishmentTask.Status.OPEN:
            raise ScanRefused("This replenishment is done.")
        if locked.taken_by_id != user.pk:
            raise ScanRefused("Take the task first.")
        src, dst = locked.from_location, locked.to_location
        if src is None:
            raise ScanRefused("No reserve location holds this product.")
        if not locked.from_confirmed:
            if not _location_matches(code, src):
                raise ScanRefused(f"Wrong location. Go to {src.code}.")
            locked.from_confirmed = True
            locked.save(update_fields=["from_confirmed"])
            return ScanResult(
                True, f"{src.code} OK. Take {locked.quantity} × {locked.product.sku} to {dst.code}."
            )
        if not _location_matches(code, dst):
            if _location_matches(code, src):
                return ScanResult(True, f"{src.code} OK. Now scan the pick face {dst.code}.")
            raise ScanRefused(f"Wrong location. Put them into {dst.code}.")
        held = sum(
            StockQuant.objects.filter(product=locked.product, location=src).values_list("quantity", flat=True)
        )
        qty = min(locked.quantity, held)
        if qty <= 0:
            raise ScanRefused(f"{src.code} holds no {locked.product.sku}: ask for a count.")
        inv.stock_move(
            merchant=locked.merchant_id,
            product=locked.product,
            from_location=src,
            to_location=dst,
            quantity=qty,
            reason="replenishment",
            reference=f"replenish:{locked.pk}",
        )
        locked.status, locked.moved_quantity, locked.done_at = (
            ReplenishmentTask.Status.DONE,
            qty,
            timezone.now(),
        )
        locked.save(update_fields=["status", "moved_quantity", "done_at"])
        audit_record(
            obj_type="warehouse.ReplenishmentTask",
            obj_id=locked.pk,
            action="done",
            merchant_id=locked.merchant_id,
            after={"moved": qty, "from": src.code, "to": dst.code},
        )
        return ScanResult(True, f"Done: {qty} × {locked.product.sku} into {dst.code}.")

    return _scan_once(scan_id=scan_id, user=user, screen="replen", code=code, fn=run)


# --- Box catalog --------------------------------------------------------------------------------------------

DEFAULT_BOXES = [
    # code, name, kind, L, W, H (mm inside), max weight g, cost
    ("PB-S", "Poly bag S", "poly_bag", 250, 200, 50, 1500, "0.12"),
    ("PB-L", "Poly bag L", "poly_bag", 400, 300, 80, 3000, "0.20"),
    ("ML-S", "Padded mailer S", "mailer", 230, 160, 40, 1000, "0.35"),
    ("ML-L", "Padded mailer L", "mailer", 330, 250, 60, 2000, "0.55"),
    ("BX-1", "Box 6×4×4 in", "box", 152, 102, 102, 10000, "0.38"),
    ("BX-2", "Box 8×6×4 in", "box", 203, 152, 102, 15000, "0.48"),
    ("BX-3", "Box 10×8×6 in", "box", 254, 203, 152, 20000, "0.72"),
    ("BX-4", "Box 12×10×8 in", "box", 305, 254, 203, 25000, "0.95"),
    ("BX-5", "Box 14×12×10 in", "box", 356, 305, 254, 25000, "1.25"),
    ("BX-6", "Box 16×14×12 in", "box", 406, 356, 305, 30000, "1.60"),
    ("BX-7", "Box 20×16×14 in", "box", 508, 406, 356, 30000, "2.20"),
    ("BX-8", "Box 24×18×18 in", "box", 610, 457, 457, 32000, "3.10"),
]


def box_catalog_seed(*, warehouse: Warehouse) -> int:
    """Load the standard 12-box catalog into a warehouse (idempotent). Returns boxes created."""
    created = 0
    for code, name, kind, length, width, height, max_w, cost in DEFAULT_BOXES:
        _, new = BoxType.objects.get_or_create(
            warehouse=warehouse,
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "length_mm": length,
                "width_mm": width,
                "height_mm": height,
                "max_weight_g": max_w,
                "cost": Decimal(cost),
                "tare_g": 30 if kind in ("poly_bag", "mailer") else 150,
            },
        )
        created += int(new)
    return created


# --- Schedule -----------------------------------------------------------------------------------------------

CUTOFF_LEAD = dt.timedelta(minutes=60)


def waves_schedule_due(*, now: dt.datetime | None = None) -> int:
    """Create a wave in every active operator warehouse whose cut-off (local time) falls within
    ``CUTOFF_LEAD`` from ``now`` and which has no scheduled wave for that cut-off yet. Returns waves made."""
    from zoneinfo import ZoneInfo

    now = now or timezone.now()
    made = 0
    for wh in Warehouse.objects.filter(is_active=True, owner_merchant__isnull=True):
        tz = ZoneInfo(wh.timezone or "UTC")
        local = now.astimezone(tz)
        cutoff = dt.datetime.combine(local.date(), wh.cutoff_time, tzinfo=tz)
        if not (dt.timedelta(0) <= cutoff - local <= CUTOFF_LEAD):
            continue
        if Wave.objects.filter(warehouse=wh, scheduled=True, cutoff_at=cutoff).exists():
            continue
        if not selectors.releasable_orders(warehouse=wh).exists():
            continue
        wave_create(warehouse=wh, name=f"{wh.code} cut-off {cutoff:%H:%M}", cutoff_at=cutoff, scheduled=True)
        made += 1
    return made
