"""Stock services: every write to quantities goes through here.

Rules (see ``inventory.locks``): a single-row change is a conditional UPDATE through ``F()``; a multi-row
change locks rows in pk order first (levels → allocations → quants); every physical change appends a
``StockMovement`` in the same transaction; events are emitted once per service call, at the end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record, current_actor
from inventory.exceptions import AllocationOnHold, InsufficientStock, InventoryError
from inventory.locks import level_get_or_create, lock_allocations, lock_levels, retry_on_deadlock
from inventory.models import (
    Allocation,
    KitComponent,
    Location,
    LowStockAlert,
    Product,
    StockHold,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)
from inventory.services import fastpath

EV_ALLOCATION_CHANGED = "inventory.allocation_changed"
EV_AVAILABLE_CHANGED = "inventory.available_changed"
EV_LOW_STOCK = "inventory.low_stock"
EV_RECEIVED = "inventory.received"

OPEN = Allocation.Status.OPEN
CLOSED = Allocation.Status.CLOSED
MT = StockMovement.Type


def _mid(merchant) -> int:
    return merchant if isinstance(merchant, int) else merchant.pk


def _check_owner(merchant_id: int, product: Product) -> None:
    if product.merchant_id != merchant_id:
        raise InventoryError("That product does not belong to this merchant.")


def _free(level: StockLevel) -> int:
    return level.on_hand - level.reserved - level.held - level.safety_stock


# --- Effects: what a call changed, emitted once at its end ---------------------------------------------


@dataclass
class _Effects:
    merchant_id: int
    touched: dict[tuple[int, int], Product | None] = field(default_factory=dict)
    allocations: dict[int, Allocation] = field(default_factory=dict)
    emitted: set[tuple[int, int]] = field(default_factory=set)  # available_changed already written

    def touch(self, product: Product | int, warehouse_id: int) -> None:
        if isinstance(product, Product):
            self.touched[(product.pk, warehouse_id)] = product
        else:
            self.touched.setdefault((product, warehouse_id), None)

    def allocation_changed(self, alloc: Allocation) -> None:
        self.allocations[alloc.pk] = alloc

    def flush(self) -> None:
        mid = self.merchant_id
        keys = dict(self.touched)
        kit_parents: set[tuple[int, int]] = set()
        thresholds: dict[int, int | None] = {}
        if keys:
            # One query: each touched product's alert threshold and the kits it is a component of (asked of
            # the database: a caller's Product object may predate the kit).
            kits_of: dict[int, set[int]] = defaultdict(set)
            for pid, threshold, kit_id in Product.objects.filter(pk__in={pid for pid, _ in keys}).values_list(
                "pk", "low_stock_threshold", "used_in_kits__kit_id"
            ):
                thresholds[pid] = threshold
                if kit_id:
                    kits_of[pid].add(kit_id)
            for pid, wid in keys:
                for kit_id in kits_of.get(pid, ()):
                    kit_parents.add((kit_id, wid))
        # One bulk insert for all of the call's events (one available_changed per product and warehouse).
        events = [
            (EV_AVAILABLE_CHANGED, {"merchant_id": mid, "product_id": pid, "warehouse_id": wid}, mid)
            for pid, wid in sorted((set(keys) | kit_parents) - self.emitted)
        ]
        events += [
            (
                EV_ALLOCATION_CHANGED,
                {
                    "merchant_id": mid,
                    "reference": alloc.reference,
                    "product_id": alloc.product_id,
                    "warehouse_id": alloc.warehouse_id,
                    "requested": alloc.requested,
                    "allocated": alloc.allocated,
                },
                mid,
            )
            for alloc in self.allocations.values()
        ]
        outbox.emit_many(events)
        for pid in sorted({pid for pid, _ in keys}):
            if thresholds.get(pid) is not None:
                product = next((p for (k, _), p in keys.items() if k == pid and p is not None), None)
                _low_stock_check(Product.objects.get(pk=pid) if product is None else product)


def _low_stock_check(product: Product) -> None:
    from inventory.selectors import stock_available

    threshold = product.low_stock_threshold
    if threshold is None:
        return
    available = stock_available(merchant=product.merchant_id, product=product)
    open_alert = LowStockAlert.objects.filter(product=product, resolved_at__isnull=True).first()
    if available < threshold and open_alert is None:
        try:
            with transaction.atomic():
                alert = LowStockAlert.objects.create(
                    merchant_id=product.merchant_id, product=product, available=available, threshold=threshold
                )
        except IntegrityError:  # a concurrent call raised it first
            return
        outbox.emit(
            EV_LOW_STOCK,
            {
                "merchant_id": product.merchant_id,
                "product_id": product.pk,
                "sku": product.sku,
                "available": available,
                "threshold": threshold,
                "alert_id": alert.pk,
            },
            merchant_id=product.merchant_id,
        )
        transaction.on_commit(partial(_send_low_stock_email, alert_id=alert.pk))
    elif available >= threshold and open_alert is not None:
        LowStockAlert.objects.filter(pk=open_alert.pk).update(resolved_at=timezone.now())


def _send_low_stock_email(*, alert_id: int) -> None:
    from inventory.tasks import low_stock_email

    low_stock_email.delay(alert_id=alert_id)


# --- Small building blocks -----------------------------------------------------------------------------


def _movement(
    *,
    merchant_id: int,
    type: str,
    product_id: int,
    warehouse_id: int,
    quantity: int,
    from_location: Location | None = None,
    to_location: Location | None = None,
    lot: str = "",
    expires_on: date | None = None,
    reason: str = "",
    reference: str = "",
) -> StockMovement:
    actor = current_actor()
    return StockMovement.objects.create(
        merchant_id=merchant_id,
        type=type,
        product_id=product_id,
        warehouse_id=warehouse_id,
        quantity=quantity,
        from_location=from_location,
        to_location=to_location,
        lot=lot or "",
        expires_on=expires_on,
        reason=reason[:200],
        reference=reference[:100],
        actor_id=actor.user_id,
        actor_label=actor.label[:200],
    )


def _quant_add(
    *, merchant_id: int, product_id: int, location: Location, lot: str, expires_on: date | None, quantity: int
) -> None:
    qs = StockQuant.objects.filter(product_id=product_id, location_id=location.pk, lot=lot or "")
    if qs.update(quantity=F("quantity") + quantity):
        if expires_on:
            qs.filter(expires_on__isnull=True).update(expires_on=expires_on)
        return
    try:
        with transaction.atomic():
            StockQuant.objects.create(
                merchant_id=merchant_id,
                product_id=product_id,
                warehouse_id=location.warehouse_id,
                location=location,
                lot=lot or "",
                expires_on=expires_on,
                quantity=quantity,
            )
    except IntegrityError:
        qs.update(quantity=F("quantity") + quantity)


def _quant_take(
    *, product: Product, location: Location, quantity: int, lot: str | None
) -> list[tuple[str, date | None, int]]:
    """Takes ``quantity`` units from a location: from one lot when ``lot`` is given, else from the lots there
    in FEFO/FIFO order. Returns ``[(lot, expires_on, taken)]``; raises ``InsufficientStock``."""
    if lot is not None and (lot != "" or not product.requires_lot_tracking):
        row = (
            StockQuant.objects.filter(product_id=product.pk, location_id=location.pk, lot=lot)
            .values_list("expires_on", flat=True)
            .first()
        )
        taken = StockQuant.objects.filter(
            product_id=product.pk, location_id=location.pk, lot=lot, quantity__gte=quantity
        ).update(quantity=F("quantity") - quantity)
        if taken:
            return [(lot, row, quantity)]
        if lot != "":
            raise InsufficientStock(
                f"{location.code} holds fewer than {quantity} of {product.sku} lot {lot}."
            )
    quants = list(
        StockQuant.objects.select_for_update()
        .filter(product_id=product.pk, location_id=location.pk, quantity__gt=0)
        .order_by(F("expires_on").asc(nulls_last=True), "received_at", "pk")
    )
    if sum(q.quantity for q in quants) < quantity:
        raise InsufficientStock(f"{location.code} holds fewer than {quantity} of {product.sku}.")
    out, need = [], quantity
    for q in quants:
        take = min(need, q.quantity)
        StockQuant.objects.filter(pk=q.pk).update(quantity=F("quantity") - take)
        out.append((q.lot, q.expires_on, take))
        need -= take
        if not need:
            break
    return out


def _level_add(*, merchant_id: int, product_id: int, warehouse_id: int, **deltas: int) -> None:
    changes = {k: F(k) + v for k, v in deltas.items() if v}
    if not changes:
        return
    qs = StockLevel.objects.filter(merchant_id=merchant_id, product_id=product_id, warehouse_id=warehouse_id)
    if not qs.update(**changes):
        level_get_or_create(merchant_id=merchant_id, product_id=product_id, warehouse_id=warehouse_id)
        qs.update(**changes)


def _level_take_free(
    *, merchant_id: int, product: Product, warehouse_id: int, quantity: int, **extra: int
) -> None:
    """on_hand -= quantity, but only from units nobody holds (on hand − reserved − held)."""
    changes = {"on_hand": F("on_hand") - quantity, **{k: F(k) + v for k, v in extra.items() if v}}
    done = StockLevel.objects.filter(
        merchant_id=merchant_id,
        product_id=product.pk,
        warehouse_id=warehouse_id,
        on_hand__gte=F("reserved") + F("held") + quantity,
    ).update(**changes)
    if not done:
        raise InsufficientStock(
            f"Only units nobody has reserved can be taken; {product.sku} has fewer than {quantity} free."
        )


def _special_location(warehouse_id: int, type_: str, code: str) -> Location:
    loc = (
        Location.objects.filter(warehouse_id=warehouse_id, type=type_, is_active=True).order_by("pk").first()
    )
    if loc is None:
        loc, _ = Location.objects.get_or_create(
            warehouse_id=warehouse_id, code=code, defaults={"type": type_, "zone": code}
        )
    return loc


def receiving_location(warehouse: Warehouse | int) -> Location:
    return _special_location(getattr(warehouse, "pk", warehouse), Location.Type.RECEIVING, "RCV")


def quarantine_location(warehouse: Warehouse | int) -> Location:
    return _special_location(getattr(warehouse, "pk", warehouse), Location.Type.QUARANTINE, "QC")


def packing_location(warehouse: Warehouse | int) -> Location:
    return _special_location(getattr(warehouse, "pk", warehouse), Location.Type.PACKING, "PACK")


def _components(kit: Product) -> list[tuple[Product, int]]:
    rows = list(KitComponent.objects.filter(kit=kit).select_related("component").order_by("component_id"))
    if not rows:
        raise InventoryError(f"Kit {kit.sku} has no components.")
    return [(r.component, r.quantity) for r in rows]


def _save_alloc(alloc: Allocation, *fields: str) -> None:
    alloc.updated_at = timezone.now()
    Allocation.objects.filter(pk=alloc.pk).update(
        **{f: getattr(alloc, f) for f in fields}, updated_at=alloc.updated_at
    )


def _close_if_done(alloc: Allocation) -> None:
    if alloc.requested <= alloc.shipped and alloc.allocated == 0:
        alloc.status = CLOSED


# --- Reservation ---------------------------------------------------------------------------------------


def stock_reserve(
    *,
    merchant,
    product: Product,
    warehouse: Warehouse,
    quantity: int,
    reference: str,
    priority: int = 0,
    requested_at: datetime | None = None,
) -> Allocation:
    """Reserves ``quantity`` of ``product`` in ``warehouse`` for ``reference``: allocates what is free (never
    more), the rest waits as a backorder filled in priority-then-time order when stock arrives. Calling it
    again for the same reference adds to the request. A kit reserves its components."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    requested_at = requested_at or timezone.now()
    if connection.vendor == "postgresql" and not product.is_kit:
        fast = fastpath.reserve_fast(
            merchant_id=mid,
            product=product,
            warehouse_id=warehouse.pk,
            quantity=quantity,
            reference=reference,
            priority=priority,
            requested_at=requested_at,
        )
        if fast is not None:
            alloc, threshold = fast
            if threshold is not None:
                _low_stock_after(product.pk)
            return alloc
    return _stock_reserve_locked(
        mid=mid,
        product=product,
        warehouse=warehouse,
        quantity=quantity,
        reference=reference,
        priority=priority,
        requested_at=requested_at,
    )


def _low_stock_after(product_id: int) -> None:
    with transaction.atomic():
        _low_stock_check(Product.objects.get(pk=product_id))


@retry_on_deadlock
def _stock_reserve_locked(
    *,
    mid: int,
    product: Product,
    warehouse: Warehouse,
    quantity: int,
    reference: str,
    priority: int,
    requested_at: datetime,
) -> Allocation:
    """The locking path of ``stock_reserve`` (kits, SQLite, or when the one-statement path declines); the
    caller has validated the quantity and the product's owner."""
    fx = _Effects(mid)
    if product.is_kit:
        from inventory.services.kits import _reserve_kit

        alloc = _reserve_kit(mid, product, warehouse.pk, quantity, reference, priority, requested_at, fx)
    else:
        alloc = _reserve_simple(mid, product, warehouse.pk, quantity, reference, priority, requested_at, fx)
    fx.flush()
    return alloc


def _upsert_allocation(
    *,
    mid: int,
    reference: str,
    product_id: int,
    warehouse_id: int,
    add_requested: int,
    add_allocated: int,
    priority: int,
    requested_at: datetime,
    parent: Allocation | None = None,
    per_kit: int = 1,
    add_prebuilt: int = 0,
) -> Allocation:
    alloc = (
        Allocation.objects.select_for_update()
        .filter(merchant_id=mid, reference=reference, product_id=product_id, warehouse_id=warehouse_id)
        .first()
    )
    if alloc is None:
        return Allocation.objects.create(
            merchant_id=mid,
            reference=reference,
            product_id=product_id,
            warehouse_id=warehouse_id,
            parent=parent,
            per_kit=per_kit,
            requested=add_requested,
            allocated=add_allocated,
            prebuilt=add_prebuilt,
            priority=priority,
            requested_at=requested_at,
        )
    alloc.requested += add_requested
    alloc.allocated += add_allocated
    alloc.prebuilt += add_prebuilt
    alloc.priority = max(alloc.priority, priority)
    if alloc.status == CLOSED:
        alloc.requested_at = requested_at
    alloc.status = OPEN
    _save_alloc(alloc, "requested", "allocated", "prebuilt", "priority", "status", "requested_at")
    return alloc


def _reserve_simple(
    mid: int,
    product: Product,
    wid: int,
    qty: int,
    reference: str,
    priority: int,
    requested_at: datetime,
    fx: _Effects,
) -> Allocation:
    # The whole request in one conditional UPDATE: the database decides, under its row lock.
    done = StockLevel.objects.filter(
        merchant_id=mid,
        product_id=product.pk,
        warehouse_id=wid,
        on_hand__gte=F("reserved") + F("held") + F("safety_stock") + qty,
    ).update(reserved=F("reserved") + qty)
    if done:
        grant = qty
    else:  # short: lock the level and allocate what is free; the rest is a backorder
        level = lock_levels(merchant_id=mid, pairs=[(product.pk, wid)])[(product.pk, wid)]
        grant = max(0, min(qty, _free(level)))
        StockLevel.objects.filter(pk=level.pk).update(
            reserved=F("reserved") + grant, backordered=F("backordered") + (qty - grant)
        )
    alloc = _upsert_allocation(
        mid=mid,
        reference=reference,
        product_id=product.pk,
        warehouse_id=wid,
        add_requested=qty,
        add_allocated=grant,
        priority=priority,
        requested_at=requested_at,
    )
    if grant:
        fx.touch(product, wid)
    return alloc


def _fill_backorders(
    *, mid: int, product_id: int, warehouse_id: int, fx: _Effects, level: StockLevel | None = None
) -> None:
    """Gives free units of a product to waiting demand: priority first, then the oldest request. ``level``
    may be passed when the caller holds its lock and its values are current."""
    if level is None:
        level = lock_levels(merchant_id=mid, pairs=[(product_id, warehouse_id)])[(product_id, warehouse_id)]
    if level.backordered <= 0 or _free(level) <= 0:
        return
    queue = lock_allocations(
        Allocation.objects.filter(
            merchant_id=mid,
            product_id=product_id,
            warehouse_id=warehouse_id,
            status=OPEN,
            requested__gt=F("allocated") + F("shipped"),
        ).values_list("pk", flat=True)
    )
    queue.sort(key=lambda a: (-a.priority, a.requested_at, a.pk))
    kits_done: set[int] = set()
    for alloc in queue:
        free = _free(level)
        if free <= 0:
            break
        if alloc.parent_id:
            if alloc.parent_id not in kits_done:
                from inventory.services.kits import _fill_kit

                kits_done.add(alloc.parent_id)
                _fill_kit(mid=mid, parent_id=alloc.parent_id, fx=fx)
                level.refresh_from_db()
            continue
        take = min(free, alloc.backordered)
        if take <= 0:
            continue
        StockLevel.objects.filter(pk=level.pk).update(
            reserved=F("reserved") + take, backordered=F("backordered") - take
        )
        level.reserved += take
        level.backordered -= take
        alloc.allocated += take
        _save_alloc(alloc, "allocated")
        fx.allocation_changed(alloc)
        fx.touch(product_id, warehouse_id)


def _fill_freed(*, mid: int, product: Product, warehouse_id: int, fx: _Effects) -> None:
    """Freed units go to waiting demand: a kit's built units to kit backorders, anything else as usual."""
    if product.is_kit:
        from inventory.services.kits import _fill_prebuilt

        _fill_prebuilt(mid=mid, kit_id=product.pk, warehouse_id=warehouse_id, fx=fx)
    else:
        _fill_backorders(mid=mid, product_id=product.pk, warehouse_id=warehouse_id, fx=fx)


def _fill_scope(mid: int, product_id: int, warehouse_id: int) -> list[tuple[int, int]]:
    """The levels a backorder fill of one product may lock: its own plus the components of kits waiting on it."""
    parents = Allocation.objects.filter(
        merchant_id=mid,
        product_id=product_id,
        warehouse_id=warehouse_id,
        status=OPEN,
        parent__isnull=False,
        requested__gt=F("allocated") + F("shipped"),
    ).values("parent_id")
    pairs = set(
        Allocation.objects.filter(parent_id__in=parents).values_list("product_id", "warehouse_id").distinct()
    )
    return sorted(pairs | {(product_id, warehouse_id)})


def backorders_fill(*, merchant, product: Product, warehouse: Warehouse) -> None:
    """Fills waiting backorders from free stock (run after anything that frees stock)."""

    @retry_on_deadlock
    def run() -> None:
        fx = _Effects(_mid(merchant))
        _fill_backorders(mid=fx.merchant_id, product_id=product.pk, warehouse_id=warehouse.pk, fx=fx)
        fx.flush()

    run()


# --- Release -------------------------------------------------------------------------------------------


def stock_release(*, merchant, reference: str, quantity: int | None = None) -> int:
    """Releases a reference's demand: everything (``quantity=None``) or ``quantity`` units of it (kits: kit
    units), the unfilled backorder first, then the reserved units. Freed stock goes to the next backorder in
    line at once. Returns how many reserved units (kits: kits) were freed."""
    if quantity is not None and quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    if quantity is None and connection.vendor == "postgresql":
        result = fastpath.release_fast(merchant_id=mid, reference=reference)
        if result.done:
            for pid in result.low_stock_product_ids:
                _low_stock_after(pid)
            return result.freed
    return _stock_release_locked(merchant=mid, reference=reference, quantity=quantity)


@retry_on_deadlock
def _stock_release_locked(*, merchant, reference: str, quantity: int | None = None) -> int:
    if quantity is not None and quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    rows = list(
        Allocation.objects.filter(merchant_id=mid, reference=reference, status=OPEN).values_list(
            "pk", "product_id", "warehouse_id", "parent_id"
        )
    )
    if not rows:
        return 0
    parent_ids = {r[3] for r in rows if r[3]}
    from inventory.services.kits import _fill_prebuilt, _kit_level_pairs, _release_prebuilt

    kit_pairs = _kit_level_pairs(mid, [(r[1], r[2]) for r in rows if r[0] in parent_ids])
    levels = lock_levels(
        merchant_id=mid, pairs=[*[(r[1], r[2]) for r in rows if r[0] not in parent_ids], *kit_pairs]
    )
    allocs = {a.pk: a for a in lock_allocations(r[0] for r in rows)}
    fx = _Effects(mid)
    kit_refill: set[tuple[int, int]] = set()
    remaining = quantity
    freed_total = 0
    refill: set[tuple[int, int]] = set()
    for alloc in sorted((a for a in allocs.values() if a.parent_id is None), key=lambda a: a.pk):
        if remaining is not None and remaining <= 0:
            break
        outstanding = alloc.requested - alloc.shipped
        n = outstanding if remaining is None else min(remaining, outstanding)
        from_backorder = min(n, alloc.backordered)
        from_allocated = min(n - from_backorder, alloc.allocated)
        if alloc.pk in parent_ids:
            # unpicked kits first (component kits, then built ones: ``prebuilt``, ``picked`` counts those
            # picked), then picked ones, so what is in a tote stays reserved as long as possible
            children = [a for a in allocs.values() if a.parent_id == alloc.pk]
            comp_kits = alloc.allocated - alloc.prebuilt
            unpicked_comp = min(((c.allocated - c.picked) // c.per_kit for c in children), default=0)
            from_comp = min(from_allocated, unpicked_comp, comp_kits)
            from_pre = min(from_allocated - from_comp, alloc.prebuilt - alloc.picked)
            from_comp += min(from_allocated - from_comp - from_pre, comp_kits - from_comp)
            from_pre = from_allocated - from_comp
            for child in children:
                _release_units(
                    mid,
                    child,
                    levels[(child.product_id, child.warehouse_id)],
                    from_backorder * child.per_kit,
                    from_comp * child.per_kit,
                    fx,
                )
                refill.add((child.product_id, child.warehouse_id))
            if from_pre:
                _release_prebuilt(mid, alloc, levels[(alloc.product_id, alloc.warehouse_id)], from_pre, fx)
                kit_refill.add((alloc.product_id, alloc.warehouse_id))
            alloc.requested -= from_backorder + from_allocated
            alloc.allocated -= from_allocated
            alloc.picked = min(alloc.picked, alloc.prebuilt)
            _close_if_done(alloc)
            _save_alloc(alloc, "requested", "allocated", "prebuilt", "picked", "status")
        else:
            _release_units(
                mid, alloc, levels[(alloc.product_id, alloc.warehouse_id)], from_backorder, from_allocated, fx
            )
            refill.add((alloc.product_id, alloc.warehouse_id))
        freed_total += from_allocated
        if remaining is not None:
            remaining -= from_backorder + from_allocated
    for pid, wid in sorted(refill):
        level = levels[(pid, wid)]
        if level.backordered > 0 and _free(level) > 0:
            _fill_backorders(mid=mid, product_id=pid, warehouse_id=wid, fx=fx)
    for pid, wid in sorted(kit_refill):
        _fill_prebuilt(mid=mid, kit_id=pid, warehouse_id=wid, fx=fx)
    fx.flush()
    return freed_total


def _release_units(
    mid: int, alloc: Allocation, level: StockLevel, from_backorder: int, from_allocated: int, fx: _Effects
) -> None:
    unpicked = alloc.allocated - alloc.picked
    from_picked = max(0, from_allocated - unpicked)
    if from_picked:
        _unpick(mid, alloc, from_picked)
    StockLevel.objects.filter(pk=level.pk).update(
        reserved=F("reserved") - from_allocated, backordered=F("backordered") - from_backorder
    )
    level.reserved -= from_allocated
    level.backordered -= from_backorder
    alloc.requested -= from_backorder + from_allocated
    alloc.allocated -= from_allocated
    alloc.picked -= from_picked
    _close_if_done(alloc)
    _save_alloc(alloc, "requested", "allocated", "picked", "status")
    if from_allocated:
        fx.touch(alloc.product_id, alloc.warehouse_id)


def _in_packing(mid: int, reference: str, product_id: int) -> dict[str, tuple[int, int | None]]:
    """Units of a reference's product picked into packing and not yet shipped or put back, per lot, with
    the location the last of them came from."""
    out: dict[str, list] = {}
    for type_, lot, from_id, qty in (
        StockMovement.objects.filter(
            merchant_id=mid,
            reference=reference,
            product_id=product_id,
            type__in=[MT.PICK, MT.SHIP, MT.MOVE],
        )
        .order_by("pk")
        .values_list("type", "lot", "from_location_id", "quantity")
    ):
        entry = out.setdefault(lot, [0, None])
        if type_ == MT.PICK:
            entry[0] += qty
            entry[1] = from_id
        else:
            entry[0] -= qty
    return {lot: (n, origin) for lot, (n, origin) in out.items() if n > 0}


def _unpick(mid: int, alloc: Allocation, quantity: int) -> None:
    """Picked units of a released reference go back to where they were picked from."""
    packing = packing_location(alloc.warehouse_id)
    product = Product.objects.get(pk=alloc.product_id)
    need = quantity
    for lot, (n, origin_id) in _in_packing(mid, alloc.reference, alloc.product_id).items():
        take = min(need, n)
        origin = Location.objects.get(pk=origin_id) if origin_id else receiving_location(alloc.warehouse_id)
        for lot_, exp, taken in _quant_take(product=product, location=packing, quantity=take, lot=lot):
            _quant_add(
                merchant_id=mid,
                product_id=product.pk,
                location=origin,
                lot=lot_,
                expires_on=exp,
                quantity=taken,
            )
            _movement(
                merchant_id=mid,
                type=MT.MOVE,
                product_id=product.pk,
                warehouse_id=alloc.warehouse_id,
                quantity=taken,
                from_location=packing,
                to_location=origin,
                lot=lot_,
                expires_on=exp,
                reason="released before shipping: back to stock",
                reference=alloc.reference,
            )
        need -= take
        if need <= 0:
            break


# --- Holds ---------------------------------------------------------------------------------------------


@retry_on_deadlock
def allocation_hold(*, merchant, reference: str, on_hold: bool = True) -> int:
    """Puts a reference's reserved stock on hold (it stays reserved, but may not be picked) or releases the
    hold. Returns the number of allocations changed."""
    mid = _mid(merchant)
    changed = Allocation.objects.filter(merchant_id=mid, reference=reference, status=OPEN).update(
        on_hold=on_hold, updated_at=timezone.now()
    )
    if changed:
        audit_record(
            obj_type="allocation",
            obj_id=reference,
            action="hold" if on_hold else "unhold",
            merchant_id=mid,
            after={"on_hold": on_hold},
        )
    return changed


@retry_on_deadlock
def stock_hold(*, merchant, product: Product, warehouse: Warehouse, quantity: int, reason: str) -> StockHold:
    """Takes free units out of availability (QC, a recall, a dispute) until ``stock_hold_release``."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    done = StockLevel.objects.filter(
        merchant_id=mid,
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        on_hand__gte=F("reserved") + F("held") + quantity,
    ).update(held=F("held") + quantity)
    if not done:
        raise InsufficientStock(f"Fewer than {quantity} unreserved units of {product.sku} to hold.")
    hold = StockHold.objects.create(
        merchant_id=mid, product=product, warehouse=warehouse, quantity=quantity, reason=reason
    )
    audit_record(
        obj_type="stock_hold",
        obj_id=hold.pk,
        action="create",
        merchant_id=mid,
        after={"sku": product.sku, "warehouse": warehouse.code, "quantity": quantity, "reason": reason},
    )
    fx = _Effects(mid)
    fx.touch(product, warehouse.pk)
    fx.flush()
    return hold


@retry_on_deadlock
def stock_hold_release(*, merchant, hold: StockHold) -> None:
    mid = _mid(merchant)
    if hold.merchant_id != mid:
        raise InventoryError("That hold does not belong to this merchant.")
    if not StockHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(released_at=timezone.now()):
        return
    _level_add(
        merchant_id=mid, product_id=hold.product_id, warehouse_id=hold.warehouse_id, held=-hold.quantity
    )
    audit_record(obj_type="stock_hold", obj_id=hold.pk, action="release", merchant_id=mid)
    fx = _Effects(mid)
    _fill_backorders(mid=mid, product_id=hold.product_id, warehouse_id=hold.warehouse_id, fx=fx)
    fx.touch(hold.product_id, hold.warehouse_id)
    fx.flush()


@retry_on_deadlock
def stock_set_safety_stock(*, merchant, product: Product, warehouse: Warehouse, safety_stock: int) -> None:
    if safety_stock < 0:
        raise ValueError("safety stock cannot be negative")
    mid = _mid(merchant)
    _check_owner(mid, product)
    level = lock_levels(merchant_id=mid, pairs=[(product.pk, warehouse.pk)])[(product.pk, warehouse.pk)]
    before = level.safety_stock
    StockLevel.objects.filter(pk=level.pk).update(safety_stock=safety_stock)
    audit_record(
        obj_type="product",
        obj_id=product.pk,
        action="safety_stock",
        merchant_id=mid,
        before={"safety_stock": before, "warehouse": warehouse.code},
        after={"safety_stock": safety_stock, "warehouse": warehouse.code},
    )
    fx = _Effects(mid)
    if safety_stock < before:
        _fill_backorders(mid=mid, product_id=product.pk, warehouse_id=warehouse.pk, fx=fx)
    fx.touch(product, warehouse.pk)
    fx.flush()


# --- Physical movements --------------------------------------------------------------------------------


@retry_on_deadlock
def stock_receive(
    *,
    merchant,
    product: Product,
    warehouse: Warehouse,
    quantity: int,
    location: Location | None = None,
    lot: str = "",
    expires_on: date | None = None,
    damaged: bool = False,
    reference: str = "",
    reason: str = "",
    movement_type: str = MT.RECEIVE,
) -> StockMovement:
    """Puts received units on hand (in the receiving location unless told), or into quarantine when
    damaged. Good units fill waiting backorders at once."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    if product.is_kit:
        raise InventoryError(f"{product.sku} is a kit: receive its components (or build kits).")
    if product.requires_lot_tracking and not lot:
        raise InventoryError(f"{product.sku} is lot-tracked: a lot number is required.")
    if location is None:
        location = quarantine_location(warehouse) if damaged else receiving_location(warehouse)
    elif location.warehouse_id != warehouse.pk:
        raise InventoryError("That location is in another warehouse.")
    elif damaged and location.sellable:
        location = quarantine_location(warehouse)
    _quant_add(
        merchant_id=mid,
        product_id=product.pk,
        location=location,
        lot=lot,
        expires_on=expires_on,
        quantity=quantity,
    )
    movement = _movement(
        merchant_id=mid,
        type=MT.DAMAGE if damaged and movement_type == MT.RECEIVE else movement_type,
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        to_location=location,
        lot=lot,
        expires_on=expires_on,
        reason=reason or ("received damaged" if damaged else ""),
        reference=reference,
    )
    fx = _Effects(mid)
    if location.sellable:
        # Lock, in pk order, every level the backorder fill may touch (kits waiting on this product).
        lock_levels(merchant_id=mid, pairs=_fill_scope(mid, product.pk, warehouse.pk))
        _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=warehouse.pk, on_hand=quantity)
        _fill_backorders(mid=mid, product_id=product.pk, warehouse_id=warehouse.pk, fx=fx)
        fx.touch(product, warehouse.pk)
    else:
        _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=warehouse.pk, quarantined=quantity)
    fx.flush()
    return movement


@retry_on_deadlock
def stock_move(
    *,
    merchant,
    product: Product,
    from_location: Location,
    to_location: Location,
    quantity: int,
    lot: str | None = None,
    reason: str = "",
    reference: str = "",
    movement_type: str = MT.MOVE,
) -> list[StockMovement]:
    """Moves units between two locations of one warehouse (putaway, replenishment, to quarantine and back)."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    if from_location.warehouse_id != to_location.warehouse_id:
        raise InventoryError(
            "Both locations must be in the same warehouse (transfers are inbound shipments)."
        )
    if from_location.pk == to_location.pk:
        raise InventoryError("From and to are the same location.")
    wid = from_location.warehouse_id
    fx = _Effects(mid)
    if from_location.sellable and not to_location.sellable:
        _level_take_free(
            merchant_id=mid, product=product, warehouse_id=wid, quantity=quantity, quarantined=quantity
        )
        fx.touch(product, wid)
    elif not from_location.sellable and to_location.sellable:
        _level_add(
            merchant_id=mid, product_id=product.pk, warehouse_id=wid, on_hand=quantity, quarantined=-quantity
        )
    pieces = _quant_take(product=product, location=from_location, quantity=quantity, lot=lot)
    movements = []
    for lot_, exp, taken in pieces:
        _quant_add(
            merchant_id=mid,
            product_id=product.pk,
            location=to_location,
            lot=lot_,
            expires_on=exp,
            quantity=taken,
        )
        movements.append(
            _movement(
                merchant_id=mid,
                type=movement_type,
                product_id=product.pk,
                warehouse_id=wid,
                quantity=taken,
                from_location=from_location,
                to_location=to_location,
                lot=lot_,
                expires_on=exp,
                reason=reason,
                reference=reference,
            )
        )
    if not from_location.sellable and to_location.sellable:
        _fill_freed(mid=mid, product=product, warehouse_id=wid, fx=fx)
        fx.touch(product, wid)
    fx.flush()
    return movements


@retry_on_deadlock
def stock_adjust(
    *,
    merchant,
    product: Product,
    location: Location,
    quantity: int,
    lot: str | None = None,
    expires_on: date | None = None,
    reason: str = "",
    reference: str = "",
    movement_type: str = MT.ADJUST,
    unreserve_shortfall: bool = False,
) -> list[StockMovement]:
    """Adds (``quantity`` > 0) or removes (< 0) units at a location — found, lost, damaged, counted.
    Removing never takes units that are reserved or held, unless ``unreserve_shortfall``: then the units
    that are gone are taken back from the newest, lowest-priority reservations (not yet picked), which become
    backorders again (``inventory.allocation_changed`` tells their owners)."""
    if quantity == 0:
        return []
    mid = _mid(merchant)
    _check_owner(mid, product)
    wid = location.warehouse_id
    fx = _Effects(mid)
    movements = []
    if quantity > 0:
        if product.requires_lot_tracking and not lot:
            raise InventoryError(f"{product.sku} is lot-tracked: a lot number is required.")
        _quant_add(
            merchant_id=mid,
            product_id=product.pk,
            location=location,
            lot=lot or "",
            expires_on=expires_on,
            quantity=quantity,
        )
        movements.append(
            _movement(
                merchant_id=mid,
                type=movement_type,
                product_id=product.pk,
                warehouse_id=wid,
                quantity=quantity,
                to_location=location,
                lot=lot or "",
                expires_on=expires_on,
                reason=reason,
                reference=reference,
            )
        )
        if location.sellable:
            _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=wid, on_hand=quantity)
            _fill_freed(mid=mid, product=product, warehouse_id=wid, fx=fx)
            fx.touch(product, wid)
        else:
            _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=wid, quarantined=quantity)
    else:
        n = -quantity
        if location.sellable:
            if unreserve_shortfall:
                _unreserve_for(mid=mid, product=product, warehouse_id=wid, quantity=n, fx=fx)
            _level_take_free(merchant_id=mid, product=product, warehouse_id=wid, quantity=n)
            fx.touch(product, wid)
        else:
            _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=wid, quarantined=-n)
        for lot_, exp, taken in _quant_take(product=product, location=location, quantity=n, lot=lot):
            movements.append(
                _movement(
                    merchant_id=mid,
                    type=movement_type,
                    product_id=product.pk,
                    warehouse_id=wid,
                    quantity=taken,
                    from_location=location,
                    lot=lot_,
                    expires_on=exp,
                    reason=reason,
                    reference=reference,
                )
            )
    fx.flush()
    return movements


def _unreserve_for(*, mid: int, product: Product, warehouse_id: int, quantity: int, fx: _Effects) -> None:
    """Makes ``quantity`` units free by turning the newest, lowest-priority unpicked reservations back into
    backorders (stock that physically vanished cannot stay promised)."""
    if product.is_kit:
        from inventory.services.kits import _unreserve_prebuilt

        _unreserve_prebuilt(mid=mid, kit=product, warehouse_id=warehouse_id, quantity=quantity, fx=fx)
        return
    level = lock_levels(merchant_id=mid, pairs=[(product.pk, warehouse_id)])[(product.pk, warehouse_id)]
    short = quantity - (level.on_hand - level.reserved - level.held)
    if short <= 0:
        return
    queue = lock_allocations(
        Allocation.objects.filter(
            merchant_id=mid,
            product_id=product.pk,
            warehouse_id=warehouse_id,
            status=OPEN,
            parent__isnull=True,
            allocated__gt=F("picked"),
        ).values_list("pk", flat=True)
    )
    queue.sort(key=lambda a: (a.priority, -a.requested_at.timestamp(), -a.pk))
    for alloc in queue:
        if short <= 0:
            break
        take = min(short, alloc.allocated - alloc.picked)
        StockLevel.objects.filter(pk=level.pk).update(
            reserved=F("reserved") - take, backordered=F("backordered") + take
        )
        alloc.allocated -= take
        _save_alloc(alloc, "allocated")
        fx.allocation_changed(alloc)
        short -= take
    if short > 0:
        raise InsufficientStock(
            f"{product.sku}: {short} of the missing units are picked or held by kits; resolve those first."
        )


def stock_count(
    *, merchant, product: Product, location: Location, counted: int, lot: str = ""
) -> list[StockMovement]:
    """A cycle count: sets a location's lot to the counted figure through a ``count`` movement."""
    if counted < 0:
        raise ValueError("a count cannot be negative")
    current = (
        StockQuant.objects.filter(product=product, location=location, lot=lot)
        .values_list("quantity", flat=True)
        .first()
        or 0
    )
    return stock_adjust(
        merchant=merchant,
        product=product,
        location=location,
        quantity=counted - current,
        lot=lot,
        reason=f"counted {counted} (system had {current})",
        movement_type=MT.COUNT,
        unreserve_shortfall=True,
    )


# --- Pick and ship -------------------------------------------------------------------------------------


@retry_on_deadlock
def stock_pick(
    *,
    merchant,
    reference: str,
    product: Product,
    location: Location,
    quantity: int,
    lot: str = "",
) -> list[StockMovement]:
    """A picker took ``quantity`` reserved units of ``product`` for ``reference`` from ``location``: they leave
    it for the warehouse's packing location (still on hand and reserved until shipped). A kit picks its built
    kit units reserved for the reference first (the kit itself), then its components (from the location when
    it holds them, else from the best candidates)."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    _check_owner(mid, product)
    wid = location.warehouse_id
    if product.is_kit:
        from inventory.services.kits import _pick_prebuilt

        done, movements = _pick_prebuilt(mid, reference, product, wid, quantity, location)
        if quantity - done:
            for comp, per in _components(product):
                movements += _pick_units(
                    mid, reference, comp, wid, (quantity - done) * per, location=location, lot=None
                )
        return movements
    return _pick_units(mid, reference, product, wid, quantity, location=location, lot=lot or None)


def _pick_units(
    mid: int,
    reference: str,
    product: Product,
    wid: int,
    quantity: int,
    *,
    location: Location | None,
    lot: str | None,
) -> list[StockMovement]:
    alloc = (
        Allocation.objects.select_for_update(of=("self",))
        .select_related("parent")
        .filter(merchant_id=mid, reference=reference, product_id=product.pk, warehouse_id=wid, status=OPEN)
        .first()
    )
    if alloc is None:
        raise InventoryError(f"{reference} has no reservation of {product.sku} in this warehouse.")
    if alloc.on_hold or (alloc.parent is not None and alloc.parent.on_hold):
        raise AllocationOnHold(f"{reference} is on hold: its stock may not be picked.")
    if alloc.allocated - alloc.picked < quantity:
        raise InsufficientStock(
            f"Only {alloc.allocated - alloc.picked} of {product.sku} are reserved for {reference} and not yet picked."
        )
    packing = packing_location(wid)
    sources: list[tuple[Location, int]] = []
    if location is not None and location.pk != packing.pk and location.type in Location.PICKABLE:
        held = (
            StockQuant.objects.filter(
                product_id=product.pk, location_id=location.pk, quantity__gt=0
            ).aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        if held >= quantity or lot is not None:
            sources.append((location, quantity))
    elif location is not None and location.type not in Location.PICKABLE:
        raise InventoryError(
            f"{location.code} is a {location.get_type_display().lower()} location: nothing is picked from it."
        )
    if not sources:
        from inventory.selectors import pick_candidates

        got = 0
        for cand in pick_candidates(merchant=mid, product=product, warehouse=wid, quantity=quantity):
            sources.append((cand.location, cand.quantity))
            got += cand.quantity
        if got < quantity:
            raise InsufficientStock(f"Fewer than {quantity} of {product.sku} on the shelves.")
    movements = []
    for src, n in sources:
        for lot_, exp, taken in _quant_take(product=product, location=src, quantity=n, lot=lot):
            _quant_add(
                merchant_id=mid,
                product_id=product.pk,
                location=packing,
                lot=lot_,
                expires_on=exp,
                quantity=taken,
            )
            movements.append(
                _movement(
                    merchant_id=mid,
                    type=MT.PICK,
                    product_id=product.pk,
                    warehouse_id=wid,
                    quantity=taken,
                    from_location=src,
                    to_location=packing,
                    lot=lot_,
                    expires_on=exp,
                    reference=reference,
                )
            )
    alloc.picked += quantity
    _save_alloc(alloc, "picked")
    return movements


def _ship_from_packing(mid: int, reference: str, product: Product, warehouse_id: int, quantity: int) -> None:
    """``quantity`` picked units of ``reference`` leave the warehouse's packing location (lot by lot, as they
    were picked), one SHIP ledger movement per lot. The caller updates the level and the allocation."""
    packing = packing_location(warehouse_id)
    left = quantity
    for lot, (in_pack, _) in _in_packing(mid, reference, product.pk).items():
        if left <= 0:
            break
        now_ = min(in_pack, left)
        left -= now_
        for lot_, exp, taken in _quant_take(product=product, location=packing, quantity=now_, lot=lot):
            _movement(
                merchant_id=mid,
                type=MT.SHIP,
                product_id=product.pk,
                warehouse_id=warehouse_id,
                quantity=taken,
                from_location=packing,
                lot=lot_,
                expires_on=exp,
                reference=reference,
            )


@retry_on_deadlock
def stock_ship(*, merchant, reference: str) -> int:
    """The reference's reserved units leave the building: picked units go out of packing (units not yet
    picked are picked first from the best locations). Unfilled backorder stays open. Returns units shipped."""
    mid = _mid(merchant)
    rows = list(
        Allocation.objects.filter(merchant_id=mid, reference=reference, status=OPEN).values_list(
            "pk", "product_id", "warehouse_id", "parent_id"
        )
    )
    if not rows:
        return 0
    parent_ids = {r[3] for r in rows if r[3]}
    from inventory.services.kits import _kit_level_pairs, _ship_prebuilt

    kit_pairs = _kit_level_pairs(mid, [(r[1], r[2]) for r in rows if r[0] in parent_ids])
    levels = lock_levels(
        merchant_id=mid, pairs=[*[(r[1], r[2]) for r in rows if r[0] not in parent_ids], *kit_pairs]
    )
    allocs = {a.pk: a for a in lock_allocations(r[0] for r in rows)}
    for a in allocs.values():
        if a.on_hold:
            raise AllocationOnHold(f"{reference} is on hold: it may not ship.")
    fx = _Effects(mid)
    shipped_total = 0
    products = {p.pk: p for p in Product.objects.filter(pk__in=[a.product_id for a in allocs.values()])}
    # kits shipped as components so far, per parent (every child ships the same kits)
    comp_before = {
        pid: min((c.shipped // c.per_kit for c in allocs.values() if c.parent_id == pid), default=0)
        for pid in parent_ids
    }
    pre_shipped: dict[int, int] = {}
    for alloc in sorted(allocs.values(), key=lambda a: a.pk):
        if alloc.pk in parent_ids:
            if alloc.prebuilt:
                pre_shipped[alloc.pk] = _ship_prebuilt(mid, alloc, products[alloc.product_id], fx)
                shipped_total += pre_shipped[alloc.pk]
            continue
        if alloc.allocated == 0:
            continue
        product = products[alloc.product_id]
        if alloc.picked < alloc.allocated:
            _pick_units(
                mid,
                reference,
                product,
                alloc.warehouse_id,
                alloc.allocated - alloc.picked,
                location=None,
                lot=None,
            )
            alloc.refresh_from_db()
        n = alloc.picked
        _ship_from_packing(mid, reference, product, alloc.warehouse_id, n)
        level = levels[(alloc.product_id, alloc.warehouse_id)]
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") - n, reserved=F("reserved") - n)
        alloc.allocated -= n
        alloc.picked = 0
        alloc.shipped += n
        _close_if_done(alloc)
        _save_alloc(alloc, "allocated", "picked", "shipped", "status")
        shipped_total += n
        fx.touch(product, alloc.warehouse_id)
    for pid in parent_ids:
        parent = allocs[pid]
        children = [a for a in allocs.values() if a.parent_id == pid]
        comp_delta = min((c.shipped // c.per_kit for c in children), default=0) - comp_before[pid]
        pre = pre_shipped.get(pid, 0)
        delta = max(0, comp_delta) + pre
        if delta > 0:
            parent.shipped += delta
            parent.allocated = max(0, parent.allocated - delta)
            parent.prebuilt -= pre
            parent.picked = 0 if pre else min(parent.picked, parent.prebuilt)
            _close_if_done(parent)
            _save_alloc(parent, "allocated", "prebuilt", "picked", "shipped", "status")
    fx.flush()
    return shipped_total


__all__ = [
    "EV_ALLOCATION_CHANGED",
    "EV_AVAILABLE_CHANGED",
    "EV_LOW_STOCK",
    "EV_RECEIVED",
    "allocation_hold",
    "backorders_fill",
    "packing_location",
    "quarantine_location",
    "receiving_location",
    "stock_adjust",
    "stock_count",
    "stock_hold",
    "stock_hold_release",
    "stock_move",
    "stock_pick",
    "stock_receive",
    "stock_release",
    "stock_reserve",
    "stock_set_safety_stock",
    "stock_ship",
]
