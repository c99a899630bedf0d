"""Kits built ahead: assembly (``kit_build``), breakdown (``kit_unbuild``) and the prebuilt half of a kit's
reservation.

A kit SKU has no stock of its own until the warehouse assembles kits ahead of orders: ``kit_build`` takes free
component units off their shelves (``kit_use`` movements) and puts kit units on hand at a location
(``kit_build``), so the kit gets a level like any product. ``kit_unbuild`` is the reverse (``kit_break`` /
``kit_part``). Both are ordinary append-only ledger movements, so ``check_inventory`` reconciles them.

A kit's availability is its free built units plus the minimum over its components. Reserving a kit takes free
built units first (the parent allocation's ``prebuilt``, counted in the kit level's ``reserved``), then
components (the children, as before). Picking a kit picks built units first (a scan of the kit's own
barcode), then components; shipping, releasing and backorder fill handle both halves. The helpers below named
with a leading underscore are called by ``inventory.services.stock`` at those points.

Invariants of a kit parent ``P`` with children ``c``: ``P.allocated = P.prebuilt + c.allocated / c.per_kit``;
``c.requested - c.allocated - c.shipped = c.per_kit × (P.requested - P.allocated - P.shipped)``;
``P.picked <= P.prebuilt`` (built kits picked).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.locks import lock_allocations, lock_levels, retry_on_deadlock
from inventory.models import Allocation, Location, Product, StockLevel, StockMovement, Warehouse
from inventory.services.ledger import (
    MT,
    OPEN,
    _check_owner,
    _close_if_done,
    _components,
    _Effects,
    _free,
    _mid,
    _movement,
    _quant_add,
    _quant_take,
    _save_alloc,
    receiving_location,
)
from inventory.services.shipping import _pick_units
from inventory.services.stock import _fill_backorders, _unpick, _upsert_allocation

EV_KITS_BUILT = "inventory.kits_built"
EV_KITS_UNBUILT = "inventory.kits_unbuilt"


def _kit_home(mid: int, kit: Product, warehouse_id: int) -> Location:
    """Where built kits go by default: the pickable shelf already holding most of them, else the dock."""
    from inventory.models import StockQuant

    row = (
        StockQuant.objects.filter(
            merchant_id=mid,
            product_id=kit.pk,
            warehouse_id=warehouse_id,
            quantity__gt=0,
            location__type__in=Location.PICKABLE,
            location__is_active=True,
        )
        .select_related("location")
        .order_by("-quantity", "pk")
        .first()
    )
    return row.location if row is not None else receiving_location(warehouse_id)


def _check_kit(mid: int, kit: Product, warehouse: Warehouse, quantity: int) -> list[tuple[Product, int]]:
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    _check_owner(mid, kit)
    if not kit.is_kit:
        raise InventoryError(f"{kit.sku} is not a kit.")
    if kit.requires_lot_tracking:
        raise InventoryError(
            f"{kit.sku} is lot-tracked: built kits carry no lot, so they cannot be built here."
        )
    if warehouse.owner_merchant_id not in (None, mid):
        raise InventoryError("That warehouse is not available to this merchant.")
    return _components(kit)


def _take_off_shelves(
    *,
    mid: int,
    product: Product,
    warehouse_id: int,
    quantity: int,
    type_: str,
    reason: str,
    reference: str,
    short: str,
) -> list[tuple[Location, int, StockMovement]]:
    """Takes ``quantity`` free units of ``product`` off the warehouse's shelves (pick face first, soonest
    expiry first) as ``type_`` ledger movements; ``InsufficientStock(short)`` when the shelves hold fewer.
    Returns (shelf, units, movement) per lot taken. The caller updates the level."""
    from inventory.selectors import pick_candidates

    cands = pick_candidates(merchant=mid, product=product, warehouse=warehouse_id, quantity=quantity)
    if sum(c.quantity for c in cands) < quantity:
        raise InsufficientStock(short)
    took = []
    for cand in cands:
        for lot, exp, taken in _quant_take(
            product=product, location=cand.location, quantity=cand.quantity, lot=cand.lot
        ):
            movement = _movement(
                merchant_id=mid,
                type=type_,
                product_id=product.pk,
                warehouse_id=warehouse_id,
                quantity=taken,
                from_location=cand.location,
                lot=lot,
                expires_on=exp,
                reason=reason,
                reference=reference,
            )
            took.append((cand.location, taken, movement))
    return took


@retry_on_deadlock
def kit_build(
    *,
    merchant,
    kit: Product,
    warehouse: Warehouse,
    quantity: int,
    location: Location | None = None,
    reference: str = "",
    task_id: int | None = None,
) -> list[StockMovement]:
    """Assembles ``quantity`` kits ahead of orders: free component units (never reserved, held or safety
    stock) leave their shelves (FEFO/FIFO, pick face first), kit units arrive at ``location`` (default: the
    shelf already holding the kit, else the dock). Kit orders waiting on a backorder get the new kits at once.
    Emits ``inventory.kits_built`` (billing charges kitting from it). Raises ``InsufficientStock`` and
    changes nothing when a component is short."""
    mid = _mid(merchant)
    comps = _check_kit(mid, kit, warehouse, quantity)
    wid = warehouse.pk
    if location is None:
        location = _kit_home(mid, kit, wid)
    elif location.warehouse_id != wid:
        raise InventoryError("That location is in another warehouse.")
    elif location.type not in Location.PICKABLE:
        raise InventoryError(f"{location.code} is not a shelf kits can be picked from.")
    reference = reference or (f"kit_build_task:{task_id}" if task_id else f"kit_build:{kit.sku}")
    levels = lock_levels(merchant_id=mid, pairs=[(kit.pk, wid), *[(c.pk, wid) for c, _ in comps]])
    for comp, per in comps:
        free = _free(levels[(comp.pk, wid)])
        if free < per * quantity:
            raise InsufficientStock(
                f"Building {quantity} × {kit.sku} needs {per * quantity} of {comp.sku}; {max(0, free)} are free."
            )
    fx = _Effects(mid)
    movements: list[StockMovement] = []
    for comp, per in comps:
        need = per * quantity
        took = _take_off_shelves(
            mid=mid,
            product=comp,
            warehouse_id=wid,
            quantity=need,
            type_=MT.KIT_USE,
            reason=f"built into {quantity} × {kit.sku}",
            reference=reference,
            short=f"Fewer than {need} of {comp.sku} on the shelves.",
        )
        movements.extend(movement for _, _, movement in took)
        StockLevel.objects.filter(pk=levels[(comp.pk, wid)].pk).update(on_hand=F("on_hand") - need)
        fx.touch(comp, wid)
    _quant_add(
        merchant_id=mid, product_id=kit.pk, location=location, lot="", expires_on=None, quantity=quantity
    )
    movements.append(
        _movement(
            merchant_id=mid,
            type=MT.KIT_BUILD,
            product_id=kit.pk,
            warehouse_id=wid,
            quantity=quantity,
            to_location=location,
            reason="kits built ahead",
            reference=reference,
        )
    )
    kit_level = levels[(kit.pk, wid)]
    StockLevel.objects.filter(pk=kit_level.pk).update(on_hand=F("on_hand") + quantity)
    kit_level.on_hand += quantity
    fx.touch(kit, wid)
    audit_record(
        obj_type="product",
        obj_id=kit.pk,
        action="kit_build",
        merchant_id=mid,
        after={
            "sku": kit.sku,
            "warehouse": warehouse.code,
            "quantity": quantity,
            "location": location.code,
            "reference": reference,
            "components": {c.sku: per * quantity for c, per in comps},
        },
    )
    _fill_prebuilt(mid=mid, kit_id=kit.pk, warehouse_id=wid, fx=fx)
    outbox.emit(
        EV_KITS_BUILT,
        {
            "merchant_id": mid,
            "kit_id": kit.pk,
            "sku": kit.sku,
            "warehouse_id": wid,
            "warehouse": warehouse.code,
            "quantity": quantity,
            "task_id": task_id,
            "reference": reference,
        },
        merchant_id=mid,
    )
    fx.flush()
    return movements


@retry_on_deadlock
def kit_unbuild(
    *,
    merchant,
    kit: Product,
    warehouse: Warehouse,
    quantity: int,
    location: Location | None = None,
    reference: str = "",
) -> list[StockMovement]:
    """Takes ``quantity`` free built kits apart: kit units leave their shelves (``kit_break``), their
    components arrive at ``location`` (default: the shelf each kit came from) (``kit_part``). Freed components
    fill waiting backorders at once. Never touches kits reserved for orders."""
    mid = _mid(merchant)
    comps = _check_kit(mid, kit, warehouse, quantity)
    wid = warehouse.pk
    if location is not None and location.warehouse_id != wid:
        raise InventoryError("That location is in another warehouse.")
    reference = reference or f"kit_unbuild:{kit.sku}"
    levels = lock_levels(merchant_id=mid, pairs=[(kit.pk, wid), *[(c.pk, wid) for c, _ in comps]])
    kit_level = levels[(kit.pk, wid)]
    if kit_level.on_hand - kit_level.reserved - kit_level.held < quantity:
        raise InsufficientStock(
            f"Only {max(0, kit_level.on_hand - kit_level.reserved - kit_level.held)} built {kit.sku} are not "
            "reserved or held."
        )
    took = _take_off_shelves(
        mid=mid,
        product=kit,
        warehouse_id=wid,
        quantity=quantity,
        type_=MT.KIT_BREAK,
        reason="kits taken apart",
        reference=reference,
        short=f"Fewer than {quantity} built {kit.sku} on the shelves.",
    )
    fx = _Effects(mid)
    movements: list[StockMovement] = []
    for shelf, taken, movement in took:
        movements.append(movement)
        dest = location or shelf
        for comp, per in comps:
            _quant_add(
                merchant_id=mid,
                product_id=comp.pk,
                location=dest,
                lot="",
                expires_on=None,
                quantity=taken * per,
            )
            movements.append(
                _movement(
                    merchant_id=mid,
                    type=MT.KIT_PART,
                    product_id=comp.pk,
                    warehouse_id=wid,
                    quantity=taken * per,
                    to_location=dest,
                    reason=f"from {taken} × {kit.sku} taken apart",
                    reference=reference,
                )
            )
    StockLevel.objects.filter(pk=kit_level.pk).update(on_hand=F("on_hand") - quantity)
    fx.touch(kit, wid)
    for comp, per in comps:
        level = levels[(comp.pk, wid)]
        StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + per * quantity)
        level.on_hand += per * quantity
        fx.touch(comp, wid)
    audit_record(
        obj_type="product",
        obj_id=kit.pk,
        action="kit_unbuild",
        merchant_id=mid,
        after={"sku": kit.sku, "warehouse": warehouse.code, "quantity": quantity, "reference": reference},
    )
    for comp, _ in comps:
        _fill_backorders(mid=mid, product_id=comp.pk, warehouse_id=wid, fx=fx)
    outbox.emit(
        EV_KITS_UNBUILT,
        {
            "merchant_id": mid,
            "kit_id": kit.pk,
            "sku": kit.sku,
            "warehouse_id": wid,
            "warehouse": warehouse.code,
            "quantity": quantity,
            "reference": reference,
        },
        merchant_id=mid,
    )
    fx.flush()
    return movements


# --- The prebuilt half of a kit reservation (called by inventory.services.stock) -------------------------


def _reserve_kit(
    mid: int,
    kit: Product,
    wid: int,
    qty: int,
    reference: str,
    priority: int,
    requested_at: datetime,
    fx: _Effects,
) -> Allocation:
    comps = _components(kit)
    # Built kits first (the kit's own level, when it has one), then components; all levels locked at once.
    kit_pairs = _kit_level_pairs(mid, [(kit.pk, wid)])
    levels = lock_levels(merchant_id=mid, pairs=[*[(c.pk, wid) for c, _ in comps], *kit_pairs])
    prebuilt = 0
    if kit_pairs:
        prebuilt = max(0, min(qty, _free(levels[(kit.pk, wid)])))
        if prebuilt:
            StockLevel.objects.filter(pk=levels[(kit.pk, wid)].pk).update(reserved=F("reserved") + prebuilt)
            fx.touch(kit, wid)
    rest = qty - prebuilt
    kits_free = min(max(0, _free(levels[(c.pk, wid)])) // per for c, per in comps)
    grant = min(rest, kits_free)
    for comp, per in comps:
        StockLevel.objects.filter(pk=levels[(comp.pk, wid)].pk).update(
            reserved=F("reserved") + grant * per, backordered=F("backordered") + (rest - grant) * per
        )
        if grant:
            fx.touch(comp, wid)
    parent = _upsert_allocation(
        mid=mid,
        reference=reference,
        product_id=kit.pk,
        warehouse_id=wid,
        add_requested=qty,
        add_allocated=prebuilt + grant,
        add_prebuilt=prebuilt,
        priority=priority,
        requested_at=requested_at,
    )
    for comp, per in comps:
        _upsert_allocation(
            mid=mid,
            reference=reference,
            product_id=comp.pk,
            warehouse_id=wid,
            add_requested=rest * per,
            add_allocated=grant * per,
            priority=priority,
            requested_at=parent.requested_at,
            parent=parent,
            per_kit=per,
        )
    return parent


def _fill_kit(*, mid: int, parent_id: int, fx: _Effects) -> None:
    parent = Allocation.objects.get(pk=parent_id)
    children = list(Allocation.objects.filter(parent_id=parent_id).order_by("pk"))
    wid = parent.warehouse_id
    levels = lock_levels(merchant_id=mid, pairs=[(c.product_id, wid) for c in children])
    locked = lock_allocations([parent.pk, *[c.pk for c in children]])
    parent = next(a for a in locked if a.pk == parent_id)
    children = [a for a in locked if a.pk != parent_id]
    kits_free = min(max(0, _free(levels[(c.product_id, wid)])) // c.per_kit for c in children)
    take = min(kits_free, parent.backordered)
    if take <= 0:
        return
    for child in children:
        units = take * child.per_kit
        StockLevel.objects.filter(pk=levels[(child.product_id, wid)].pk).update(
            reserved=F("reserved") + units, backordered=F("backordered") - units
        )
        child.allocated += units
        _save_alloc(child, "allocated")
        fx.touch(child.product_id, wid)
    parent.allocated += take
    _save_alloc(parent, "allocated")
    fx.allocation_changed(parent)


def _kit_level_pairs(mid: int, kit_pairs) -> list[tuple[int, int]]:
    """The (kit, warehouse) pairs that have a level (built kits only ever sit on an existing level)."""
    kit_pairs = set(kit_pairs)
    if not kit_pairs:
        return []
    return [
        pair
        for pair in StockLevel.objects.filter(
            merchant_id=mid, product_id__in={p for p, _ in kit_pairs}
        ).values_list("product_id", "warehouse_id")
        if pair in kit_pairs
    ]


def _fill_prebuilt(*, mid: int, kit_id: int, warehouse_id: int, fx: _Effects) -> None:
    """Gives free built kits to kit orders waiting on a backorder (priority first, then the oldest): each
    filled kit becomes a prebuilt reservation and its components' backorder shrinks by the kit's recipe."""
    wid = warehouse_id
    waiting = list(
        Allocation.objects.filter(
            merchant_id=mid,
            product_id=kit_id,
            warehouse_id=wid,
            parent__isnull=True,
            status=OPEN,
            requested__gt=F("allocated") + F("shipped"),
        ).values_list("pk", flat=True)
    )
    if not waiting:
        return
    children_rows = list(
        Allocation.objects.filter(parent_id__in=waiting).values_list("pk", "product_id", "warehouse_id")
    )
    levels = lock_levels(merchant_id=mid, pairs=[(kit_id, wid), *[(p, w) for _, p, w in children_rows]])
    kit_level = levels[(kit_id, wid)]
    locked = lock_allocations([*waiting, *[pk for pk, _, _ in children_rows]])
    parents = [a for a in locked if a.pk in set(waiting)]
    parents.sort(key=lambda a: (-a.priority, a.requested_at, a.pk))
    for parent in parents:
        free = _free(kit_level)
        if free <= 0:
            break
        take = min(free, parent.backordered)
        if take <= 0:
            continue
        StockLevel.objects.filter(pk=kit_level.pk).update(reserved=F("reserved") + take)
        kit_level.reserved += take
        for child in (a for a in locked if a.parent_id == parent.pk):
            units = take * child.per_kit
            StockLevel.objects.filter(pk=levels[(child.product_id, child.warehouse_id)].pk).update(
                backordered=F("backordered") - units
            )
            child.requested -= units
            _close_if_done(child)
            _save_alloc(child, "requested", "status")
        parent.allocated += take
        parent.prebuilt += take
        _save_alloc(parent, "allocated", "prebuilt")
        fx.allocation_changed(parent)
        fx.touch(kit_id, wid)


def _release_prebuilt(
    mid: int, parent: Allocation, kit_level: StockLevel, quantity: int, fx: _Effects
) -> None:
    """``quantity`` of a parent's built kits go back to free stock (picked ones back to their shelf). The
    caller adjusts the parent's requested/allocated; this adjusts ``prebuilt`` and ``picked``."""
    if quantity <= 0:
        return
    unpicked = parent.prebuilt - parent.picked
    from_picked = max(0, quantity - unpicked)
    if from_picked:
        _unpick(mid, parent, from_picked)
        parent.picked -= from_picked
    StockLevel.objects.filter(pk=kit_level.pk).update(reserved=F("reserved") - quantity)
    kit_level.reserved -= quantity
    parent.prebuilt -= quantity
    fx.touch(parent.product_id, parent.warehouse_id)


def _pick_prebuilt(
    mid: int, reference: str, kit: Product, wid: int, quantity: int, location: Location | None
) -> tuple[int, list[StockMovement]]:
    """Picks up to ``quantity`` of the reference's unpicked built kits (the kit units themselves, from
    ``location`` when it holds them, else the best shelves). Returns (kits picked, movements)."""
    parent = (
        Allocation.objects.filter(
            merchant_id=mid, reference=reference, product_id=kit.pk, warehouse_id=wid, status=OPEN
        )
        .values_list("prebuilt", "picked")
        .first()
    )
    if parent is None:
        return 0, []
    n = min(quantity, parent[0] - parent[1])
    if n <= 0:
        return 0, []
    return n, _pick_units(mid, reference, kit, wid, n, location=location, lot=None)


def _ship_prebuilt(mid: int, parent: Allocation, kit: Product, fx: _Effects) -> int:
    """The parent's built kits leave the building (picked first when they are not yet). The caller locked the
    kit's level and updates the parent's counters. Returns kits shipped."""
    from inventory.services.shipping import _ship_from_packing

    n = parent.prebuilt
    if n <= 0:
        return 0
    if parent.picked < n:
        _pick_units(
            mid, parent.reference, kit, parent.warehouse_id, n - parent.picked, location=None, lot=None
        )
    _ship_from_packing(mid, parent.reference, kit, parent.warehouse_id, n)
    StockLevel.objects.filter(merchant_id=mid, product_id=kit.pk, warehouse_id=parent.warehouse_id).update(
        on_hand=F("on_hand") - n, reserved=F("reserved") - n
    )
    fx.touch(kit, parent.warehouse_id)
    return n


def _unreserve_prebuilt(*, mid: int, kit: Product, warehouse_id: int, quantity: int, fx: _Effects) -> None:
    """Built kits that physically vanished (a count found fewer) cannot stay promised: the newest,
    lowest-priority unpicked prebuilt reservations become kit backorders again (waiting on components)."""
    wid = warehouse_id
    parent_ids = list(
        Allocation.objects.filter(
            merchant_id=mid,
            product_id=kit.pk,
            warehouse_id=wid,
            parent__isnull=True,
            status=OPEN,
            prebuilt__gt=F("picked"),
        ).values_list("pk", flat=True)
    )
    child_rows = list(Allocation.objects.filter(parent_id__in=parent_ids).values_list("pk", "product_id"))
    levels = lock_levels(merchant_id=mid, pairs=[(kit.pk, wid), *[(p, wid) for _, p in child_rows]])
    kit_level = levels[(kit.pk, wid)]
    short = quantity - (kit_level.on_hand - kit_level.reserved - kit_level.held)
    if short <= 0:
        return
    locked = lock_allocations([*parent_ids, *[pk for pk, _ in child_rows]])
    parents = sorted(
        (a for a in locked if a.pk in set(parent_ids)),
        key=lambda a: (a.priority, -a.requested_at.timestamp(), -a.pk),
    )
    for parent in parents:
        if short <= 0:
            break
        take = min(short, parent.prebuilt - parent.picked)
        StockLevel.objects.filter(pk=kit_level.pk).update(reserved=F("reserved") - take)
        parent.prebuilt -= take
        parent.allocated -= take
        _save_alloc(parent, "prebuilt", "allocated")
        for child in (a for a in locked if a.parent_id == parent.pk):
            units = take * child.per_kit
            StockLevel.objects.filter(pk=levels[(child.product_id, wid)].pk).update(
                backordered=F("backordered") + units
            )
            child.requested += units
            child.status = OPEN
            _save_alloc(child, "requested", "status")
        fx.allocation_changed(parent)
        short -= take
    for parent in parents:  # the new backorders may be fillable from free components at once
        if parent.backordered > 0:
            _fill_kit(mid=mid, parent_id=parent.pk, fx=fx)
    if short > 0:
        raise InsufficientStock(
            f"{kit.sku}: {short} of the missing kits are picked or held; resolve those first."
        )


__all__ = ["EV_KITS_BUILT", "EV_KITS_UNBUILT", "kit_build", "kit_unbuild"]
