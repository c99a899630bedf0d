"""Pick and ship: units leave their shelf for the packing location against an allocation, then leave the
building.
"""

from __future__ import annotations

from django.db.models import F, Sum

from inventory.exceptions import AllocationOnHold, InsufficientStock, InventoryError
from inventory.locks import retry_on_deadlock
from inventory.models import (
    Allocation,
    Location,
    Product,
    StockLevel,
    StockMovement,
    StockQuant,
)
from inventory.services.ledger import (
    MT,
    OPEN,
    _check_owner,
    _close_if_done,
    _components,
    _Effects,
    _mid,
    _movement,
    _quant_take,
    _quant_transfer,
    _save_alloc,
    packing_location,
)
from inventory.services.stock import _in_packing, _lock_reference

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
        movements += _quant_transfer(
            merchant_id=mid,
            product=product,
            warehouse_id=wid,
            from_location=src,
            to_location=packing,
            quantity=n,
            lot=lot,
            type=MT.PICK,
            reference=reference,
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
    locked = _lock_reference(mid, reference)
    if locked is None:
        return 0
    levels, allocs, parent_ids = locked
    from inventory.services.kits import _ship_prebuilt

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
