"""Inbound shipments (ASNs): what a merchant sends us, and the receive service the receiving floor builds on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record, current_actor
from inventory.exceptions import InventoryError
from inventory.locks import lock_levels, retry_on_deadlock
from inventory.models import (
    Allocation,
    InboundShipment,
    InboundShipmentLine,
    Location,
    Product,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)
from inventory.services.ledger import (
    EV_RECEIVED,
    _Effects,
    _free,
    _level_add,
    _mid,
    _quant_add,
    quarantine_location,
    receiving_location,
)
from inventory.services.stock import _fill_backorders


@dataclass(frozen=True)
class ReceiptLine:
    product: Product
    quantity: int = 0
    damaged: int = 0
    lot: str = ""
    expires_on: date | None = None


def inbound_create(
    *,
    merchant,
    warehouse: Warehouse,
    lines: Iterable[tuple[Product, int]],
    reference: str = "",
    expected_at: date | None = None,
    carrier: str = "",
    tracking_number: str = "",
    notes: str = "",
) -> InboundShipment:
    """Announces a shipment to a warehouse; its units count as ``inbound`` until received."""
    mid = _mid(merchant)
    merged: dict[int, tuple[Product, int]] = {}
    for product, qty in lines:
        if product.merchant_id != mid:
            raise InventoryError("That product does not belong to this merchant.")
        if product.is_kit:
            raise InventoryError(f"{product.sku} is a kit: send its components.")
        if qty <= 0:
            raise InventoryError(f"{product.sku}: the quantity must be positive.")
        prev = merged.get(product.pk, (product, 0))[1]
        merged[product.pk] = (product, prev + qty)
    if not merged:
        raise InventoryError("An inbound shipment needs at least one line.")
    with transaction.atomic():
        shipment = InboundShipment.objects.create(
            merchant_id=mid,
            warehouse=warehouse,
            reference=reference,
            expected_at=expected_at,
            carrier=carrier,
            tracking_number=tracking_number,
            notes=notes,
        )
        InboundShipmentLine.objects.bulk_create(
            [
                InboundShipmentLine(shipment=shipment, product=p, quantity_expected=q)
                for p, q in merged.values()
            ]
        )
        for product, qty in sorted(merged.values(), key=lambda pq: pq[0].pk):
            _level_add(merchant_id=mid, product_id=product.pk, warehouse_id=warehouse.pk, inbound=qty)
        audit_record(
            obj_type="inbound_shipment",
            obj_id=shipment.pk,
            action="create",
            merchant_id=mid,
            after={
                "warehouse": warehouse.code,
                "reference": reference,
                "lines": {p.sku: q for p, q in merged.values()},
            },
        )
    return shipment


@retry_on_deadlock
def inbound_receive(
    *,
    merchant,
    shipment: InboundShipment,
    lines: Iterable[ReceiptLine],
    location: Location | None = None,
    close: bool = False,
) -> InboundShipment:
    """Receives units against an ASN: good units go on hand in the receiving location (available at once),
    damaged ones into quarantine (never available). Units not on the ASN are received as an over-shipment.
    ``close`` marks the shipment received even if lines are short (the shortfall stops counting inbound).

    Set-based, whatever the number of lines: every line is validated before anything is written; then the
    levels the receipt (and the backorder fill of kits waiting on its products) touches are locked once in pk
    order, the quants upserted, the ledger rows bulk-inserted, each level updated once with its summed deltas,
    waiting backorders filled (priority, then time) and one ``available_changed`` emitted per product."""
    mid = _mid(merchant)
    if shipment.merchant_id != mid:
        raise InventoryError("That shipment does not belong to this merchant.")
    shipment = InboundShipment.objects.select_for_update().select_related("warehouse").get(pk=shipment.pk)
    if shipment.status in (InboundShipment.Status.RECEIVED, InboundShipment.Status.CANCELLED):
        raise InventoryError(f"This shipment is already {shipment.get_status_display().lower()}.")
    warehouse = shipment.warehouse
    wid = warehouse.pk
    lines = list(lines)
    if not lines and not close:
        raise InventoryError("Nothing to receive.")
    for rl in lines:
        if rl.product.merchant_id != mid:
            raise InventoryError("That product does not belong to this merchant.")
        if rl.quantity < 0 or rl.damaged < 0 or rl.quantity + rl.damaged == 0:
            raise InventoryError(f"{rl.product.sku}: give a positive quantity or damaged count.")
        if rl.product.is_kit:
            raise InventoryError(f"{rl.product.sku} is a kit: receive its components (or build kits).")
        if rl.product.requires_lot_tracking and not rl.lot:
            raise InventoryError(f"{rl.product.sku} is lot-tracked: a lot number is required.")
    if location is not None and location.warehouse_id != wid and any(rl.quantity for rl in lines):
        raise InventoryError("That location is in another warehouse.")
    existing = {ln.product_id: ln for ln in shipment.lines.select_for_update().order_by("pk")}
    new_lines = {}
    for rl in lines:
        if rl.product.pk not in existing and rl.product.pk not in new_lines:
            new_lines[rl.product.pk] = InboundShipmentLine(
                shipment=shipment, product=rl.product, quantity_expected=0
            )
    if new_lines:
        InboundShipmentLine.objects.bulk_create(list(new_lines.values()))
        existing.update(new_lines)
    reference = f"asn:{shipment.pk}"

    good_loc = None
    if any(rl.quantity for rl in lines):
        good_loc = location or receiving_location(warehouse)
    quarantine = quarantine_location(warehouse) if any(rl.damaged for rl in lines) else None
    sellable = good_loc is not None and good_loc.sellable

    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    quants: dict[tuple[int, int, str], list] = {}  # (location, product, lot) -> [quantity, expires_on]
    movements: list[StockMovement] = []
    actor = current_actor()
    changed: dict[int, InboundShipmentLine] = {}
    for rl in lines:
        pid = rl.product.pk
        line = existing[pid]
        outstanding_before = line.outstanding
        for qty, damaged in ((rl.quantity, False), (rl.damaged, True)):
            if not qty:
                continue
            loc = quarantine if damaged else good_loc
            entry = quants.setdefault((loc.pk, pid, rl.lot or ""), [0, None])
            entry[0] += qty
            entry[1] = entry[1] or rl.expires_on
            if damaged or not sellable:
                deltas[pid]["quarantined"] += qty
            else:
                deltas[pid]["on_hand"] += qty
            movements.append(
                StockMovement(
                    merchant_id=mid,
                    type=StockMovement.Type.DAMAGE if damaged else StockMovement.Type.RECEIVE,
                    product_id=pid,
                    warehouse_id=wid,
                    quantity=qty,
                    to_location=loc,
                    lot=rl.lot or "",
                    expires_on=rl.expires_on,
                    reason="received damaged" if damaged else "",
                    reference=reference[:100],
                    actor_id=actor.user_id,
                    actor_label=actor.label[:200],
                )
            )
        line.quantity_received += rl.quantity
        line.quantity_damaged += rl.damaged
        changed[pid] = line
        arrived = min(outstanding_before, rl.quantity + rl.damaged)
        if arrived:
            deltas[pid]["inbound"] -= arrived
    all_in = all(ln.outstanding == 0 for ln in existing.values())
    if close or all_in:
        for ln in existing.values():
            if ln.outstanding:
                deltas[ln.product_id]["inbound"] -= ln.outstanding
        shipment.status = InboundShipment.Status.RECEIVED
        shipment.received_at = timezone.now()
    else:
        shipment.status = InboundShipment.Status.RECEIVING

    fx = _Effects(mid)
    received_good = sorted({pid for pid, d in deltas.items() if d.get("on_hand")})
    # Levels first (the app's lock order: levels -> allocations -> quants), with those of kits waiting on them.
    levels = lock_levels(
        merchant_id=mid, pairs=[(pid, wid) for pid in deltas] + _fill_scope_many(mid, received_good, wid)
    )
    _levels_apply(levels={pid: levels[(pid, wid)] for pid in deltas}, deltas=deltas)
    _quants_add(merchant_id=mid, warehouse_id=wid, quants=quants)
    StockMovement.objects.bulk_create(movements)
    if changed:
        InboundShipmentLine.objects.bulk_update(
            list(changed.values()), ["quantity_received", "quantity_damaged"]
        )
    products = {rl.product.pk: rl.product for rl in lines}
    for pid in received_good:
        level = levels[(pid, wid)]
        if level.backordered > 0 and _free(level) > 0:
            _fill_backorders(mid=mid, product_id=pid, warehouse_id=wid, fx=fx, level=level)
        fx.touch(products[pid], wid)
    fx.flush()
    shipment.save(update_fields=["status", "received_at"])
    audit_record(
        obj_type="inbound_shipment",
        obj_id=shipment.pk,
        action="receive",
        merchant_id=mid,
        after={
            "status": shipment.status,
            "lines": {
                rl.product.sku: {"quantity": rl.quantity, "damaged": rl.damaged, "lot": rl.lot}
                for rl in lines
            },
        },
    )
    outbox.emit(EV_RECEIVED, {"merchant_id": mid, "inbound_shipment_id": shipment.pk}, merchant_id=mid)
    return shipment


def _fill_scope_many(mid: int, product_ids: list[int], warehouse_id: int) -> list[tuple[int, int]]:
    """The component levels of kits waiting on any of these products (a backorder fill may lock them)."""
    if not product_ids:
        return []
    parents = Allocation.objects.filter(
        merchant_id=mid,
        product_id__in=product_ids,
        warehouse_id=warehouse_id,
        status=Allocation.Status.OPEN,
        parent__isnull=False,
        requested__gt=F("allocated") + F("shipped"),
    ).values("parent_id")
    return list(
        Allocation.objects.filter(parent_id__in=parents).values_list("product_id", "warehouse_id").distinct()
    )


_LEVEL_FIELDS = ("on_hand", "quarantined", "inbound")


def _levels_apply(*, levels: dict[int, StockLevel], deltas: dict[int, dict[str, int]]) -> None:
    """Adds each product's deltas to its (locked) level — one statement on Postgres — and to the objects."""
    rows = [(levels[pid].pk, *(d.get(f, 0) for f in _LEVEL_FIELDS)) for pid, d in sorted(deltas.items())]
    rows = [r for r in rows if any(r[1:])]
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = StockLevel._meta.db_table
        values = ", ".join(["(%s::bigint, %s::integer, %s::integer, %s::integer)"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} l SET on_hand = l.on_hand + v.on_hand, "  # noqa: S608 - meta table name
                "quarantined = l.quarantined + v.quarantined, inbound = l.inbound + v.inbound, updated_at = %s "
                f"FROM (VALUES {values}) AS v(id, on_hand, quarantined, inbound) WHERE l.id = v.id",
                [timezone.now(), *(x for r in rows for x in r)],
            )
    else:
        for pk, *ds in rows:
            StockLevel.objects.filter(pk=pk).update(
                **{f: F(f) + d for f, d in zip(_LEVEL_FIELDS, ds, strict=True) if d}
            )
    for level in levels.values():
        for f in _LEVEL_FIELDS:
            setattr(level, f, getattr(level, f) + deltas.get(level.product_id, {}).get(f, 0))


def _quants_add(*, merchant_id: int, warehouse_id: int, quants: dict[tuple[int, int, str], list]) -> None:
    """Adds units to the quants of (location, product, lot) — one upsert on Postgres."""
    if not quants:
        return
    if connection.vendor != "postgresql":
        locations = {loc.pk: loc for loc in Location.objects.filter(pk__in={k[0] for k in quants})}
        for (loc_id, pid, lot), (qty, exp) in sorted(quants.items()):
            _quant_add(
                merchant_id=merchant_id,
                product_id=pid,
                location=locations[loc_id],
                lot=lot,
                expires_on=exp,
                quantity=qty,
            )
        return
    table = StockQuant._meta.db_table
    now = timezone.now()
    rows = sorted(quants.items())
    values = ", ".join(["(%s, %s, %s, %s, %s, %s::date, %s, %s)"] * len(rows))
    params = [
        x
        for (loc_id, pid, lot), (qty, exp) in rows
        for x in (merchant_id, pid, warehouse_id, loc_id, lot, exp, qty, now)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS q (merchant_id, product_id, warehouse_id, location_id, lot, expires_on, "  # noqa: S608
            f"quantity, received_at) VALUES {values} ON CONFLICT (product_id, location_id, lot) DO UPDATE "
            "SET quantity = q.quantity + EXCLUDED.quantity, expires_on = COALESCE(q.expires_on, EXCLUDED.expires_on)",
            params,
        )


def inbound_cancel(*, merchant, shipment: InboundShipment) -> InboundShipment:
    mid = _mid(merchant)
    with transaction.atomic():
        shipment = InboundShipment.objects.select_for_update().get(pk=shipment.pk, merchant_id=mid)
        if shipment.status != InboundShipment.Status.EXPECTED:
            raise InventoryError("Only a shipment nothing has been received on can be cancelled.")
        for ln in shipment.lines.order_by("product_id"):
            if ln.outstanding:
                _level_add(
                    merchant_id=mid,
                    product_id=ln.product_id,
                    warehouse_id=shipment.warehouse_id,
                    inbound=-ln.outstanding,
                )
        shipment.status = InboundShipment.Status.CANCELLED
        shipment.save(update_fields=["status"])
        audit_record(obj_type="inbound_shipment", obj_id=shipment.pk, action="cancel", merchant_id=mid)
    return shipment
