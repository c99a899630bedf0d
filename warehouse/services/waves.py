"""Waves and batches: released orders → carts of pick tasks on a planned route (with the replenishment
the wave calls for), and the cut-off schedule that creates waves on time."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from inventory.models import Allocation, Location, Product, StockQuant, Warehouse
from inventory.selectors import pick_candidates
from orders.models import Order, OrderLine, OrderLineAllocation
from warehouse import selectors
from warehouse.batching import Cart, OrderPicks, batch_orders
from warehouse.models import Batch, BatchOrder, PickTask, ReplenishmentTask, Wave
from warehouse.routing import RANK_LAST, RANK_NORMAL, RANK_PRIORITY, Stop, plan_route

REPLENISH_BELOW = 5  # units left on a pick face after a wave's picks
EXPEDITED = {"expedited", "overnight"}


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
