"""Reservation and release of stock (and the backorder fill of freed units). With ``ledger`` (the building
blocks), ``holds``, ``movements`` and ``shipping``, every write to quantities goes through these modules.

Rules (see ``inventory.locks``): a single-row change is a conditional UPDATE through ``F()``; a multi-row
change locks rows in pk order first (levels → allocations → quants); every physical change appends a
``StockMovement`` in the same transaction; events are emitted once per service call, at the end.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.locks import lock_allocations, lock_levels, retry_on_deadlock
from inventory.models import (
    Allocation,
    Location,
    Product,
    StockLevel,
    StockMovement,
    Warehouse,
)
from inventory.services import fastpath
from inventory.services.ledger import (
    CLOSED,
    MT,
    OPEN,
    _check_owner,
    _close_if_done,
    _Effects,
    _free,
    _low_stock_check,
    _mid,
    _quant_transfer,
    _save_alloc,
    packing_location,
    receiving_location,
)

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


def _lock_reference(
    mid: int, reference: str
) -> tuple[dict[tuple[int, int], StockLevel], dict[int, Allocation], set[int]] | None:
    """A reference's open allocations, locked in the app's order with every level they draw on — levels (a kit
    row's are its own and its components') first, then the allocations. Returns (levels by (product,
    warehouse), allocations by pk, the pks of kit rows), or None when the reference has nothing open."""
    rows = list(
        Allocation.objects.filter(merchant_id=mid, reference=reference, status=OPEN).values_list(
            "pk", "product_id", "warehouse_id", "parent_id"
        )
    )
    if not rows:
        return None
    parent_ids = {r[3] for r in rows if r[3]}
    from inventory.services.kits import _kit_level_pairs

    kit_pairs = _kit_level_pairs(mid, [(r[1], r[2]) for r in rows if r[0] in parent_ids])
    levels = lock_levels(
        merchant_id=mid, pairs=[*[(r[1], r[2]) for r in rows if r[0] not in parent_ids], *kit_pairs]
    )
    allocs = {a.pk: a for a in lock_allocations(r[0] for r in rows)}
    return levels, allocs, parent_ids


@retry_on_deadlock
def _stock_release_locked(*, merchant, reference: str, quantity: int | None = None) -> int:
    if quantity is not None and quantity <= 0:
        raise ValueError("quantity must be positive")
    mid = _mid(merchant)
    locked = _lock_reference(mid, reference)
    if locked is None:
        return 0
    levels, allocs, parent_ids = locked
    from inventory.services.kits import _fill_prebuilt, _release_prebuilt

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
        _quant_transfer(
            merchant_id=mid,
            product=product,
            warehouse_id=alloc.warehouse_id,
            from_location=packing,
            to_location=origin,
            quantity=take,
            lot=lot,
            type=MT.MOVE,
            reason="released before shipping: back to stock",
            reference=alloc.reference,
        )
        need -= take
        if need <= 0:
            break
