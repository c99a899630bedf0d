"""Inbound shipments (ASNs): what a merchant sends us, and the receive service the receiving floor builds on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.exceptions import InventoryError
from inventory.locks import retry_on_deadlock
from inventory.models import InboundShipment, InboundShipmentLine, Location, Product, Warehouse
from inventory.services.stock import EV_RECEIVED, _level_add, _mid, stock_receive


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
    ``close`` marks the shipment received even if lines are short (the shortfall stops counting inbound)."""
    mid = _mid(merchant)
    if shipment.merchant_id != mid:
        raise InventoryError("That shipment does not belong to this merchant.")
    shipment = InboundShipment.objects.select_for_update().get(pk=shipment.pk)
    if shipment.status in (InboundShipment.Status.RECEIVED, InboundShipment.Status.CANCELLED):
        raise InventoryError(f"This shipment is already {shipment.get_status_display().lower()}.")
    warehouse = shipment.warehouse
    lines = list(lines)
    if not lines and not close:
        raise InventoryError("Nothing to receive.")
    existing = {ln.product_id: ln for ln in shipment.lines.select_for_update().order_by("pk")}
    reference = f"asn:{shipment.pk}"
    for rl in lines:
        if rl.product.merchant_id != mid:
            raise InventoryError("That product does not belong to this merchant.")
        if rl.quantity < 0 or rl.damaged < 0 or rl.quantity + rl.damaged == 0:
            raise InventoryError(f"{rl.product.sku}: give a positive quantity or damaged count.")
        line = existing.get(rl.product.pk)
        if line is None:
            line = InboundShipmentLine.objects.create(
                shipment=shipment, product=rl.product, quantity_expected=0
            )
            existing[rl.product.pk] = line
        outstanding_before = line.outstanding
        if rl.quantity:
            stock_receive(
                merchant=mid,
                product=rl.product,
                warehouse=warehouse,
                quantity=rl.quantity,
                location=location,
                lot=rl.lot or "",
                expires_on=rl.expires_on,
                reference=reference,
            )
        if rl.damaged:
            stock_receive(
                merchant=mid,
                product=rl.product,
                warehouse=warehouse,
                quantity=rl.damaged,
                lot=rl.lot or "",
                expires_on=rl.expires_on,
                damaged=True,
                reference=reference,
            )
        line.quantity_received += rl.quantity
        line.quantity_damaged += rl.damaged
        line.save(update_fields=["quantity_received", "quantity_damaged"])
        arrived = min(outstanding_before, rl.quantity + rl.damaged)
        if arrived:
            _level_add(merchant_id=mid, product_id=rl.product.pk, warehouse_id=warehouse.pk, inbound=-arrived)
    all_in = all(ln.outstanding == 0 for ln in existing.values())
    if close or all_in:
        for ln in existing.values():
            if ln.outstanding:
                _level_add(
                    merchant_id=mid,
                    product_id=ln.product_id,
                    warehouse_id=warehouse.pk,
                    inbound=-ln.outstanding,
                )
        shipment.status = InboundShipment.Status.RECEIVED
        shipment.received_at = timezone.now()
    else:
        shipment.status = InboundShipment.Status.RECEIVING
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
