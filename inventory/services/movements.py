"""Physical movements: receive, move, adjust and count — each an append-only ledger entry beside the
quantities."""

from __future__ import annotations

from datetime import date

from django.db.models import F

from inventory.exceptions import InsufficientStock, InventoryError
from inventory.locks import lock_allocations, lock_levels, retry_on_deadlock
from inventory.models import (
    Allocation,
    Location,
    Product,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)
from inventory.services.ledger import (
    MT,
    OPEN,
    _check_owner,
    _Effects,
    _level_add,
    _level_take_free,
    _mid,
    _movement,
    _quant_add,
    _quant_take,
    _quant_transfer,
    _save_alloc,
    quarantine_location,
    receiving_location,
)
from inventory.services.stock import _fill_backorders, _fill_freed, _fill_scope

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
    movements = _quant_transfer(
        merchant_id=mid,
        product=product,
        warehouse_id=wid,
        from_location=from_location,
        to_location=to_location,
        quantity=quantity,
        lot=lot,
        type=movement_type,
        reason=reason,
        reference=reference,
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
