"""The building blocks of the stock services: ledger entries, quants and levels, special locations, effects
(events and low-stock checks emitted once at the end of a call), the event names.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import current_actor
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.locks import level_get_or_create
from inventory.models import (
    Allocation,
    KitComponent,
    Location,
    LowStockAlert,
    Product,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)

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


def _quant_transfer(
    *,
    merchant_id: int,
    product: Product,
    warehouse_id: int,
    from_location: Location,
    to_location: Location,
    quantity: int,
    lot: str | None,
    type: str,
    reason: str = "",
    reference: str = "",
) -> list[StockMovement]:
    """``quantity`` units taken from one location's quants (``_quant_take``: the lot asked for, or lot by lot
    as it picks them) and put on another's, with one ledger movement per lot moved."""
    movements = []
    for lot_, exp, taken in _quant_take(product=product, location=from_location, quantity=quantity, lot=lot):
        _quant_add(
            merchant_id=merchant_id,
            product_id=product.pk,
            location=to_location,
            lot=lot_,
            expires_on=exp,
            quantity=taken,
        )
        movements.append(
            _movement(
                merchant_id=merchant_id,
                type=type,
                product_id=product.pk,
                warehouse_id=warehouse_id,
                quantity=taken,
                from_location=from_location,
                to_location=to_location,
                lot=lot_,
                expires_on=exp,
                reason=reason,
                reference=reference,
            )
        )
    return movements


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
