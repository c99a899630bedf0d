"""The one place this app calls the inventory app's stock services (the contract in ARCHITECTURE.md).

Keeping the calls here means the floor code reads ``inv.stock_move(...)`` and a change in inventory's
signatures is fixed in one file. Nothing here writes a quantity itself.
"""

from __future__ import annotations

from datetime import date

from inventory import services as _services
from inventory.models import InboundShipment, Product

receiving_location = _services.receiving_location
quarantine_location = _services.quarantine_location
stock_receive = _services.stock_receive
stock_move = _services.stock_move
stock_adjust = _services.stock_adjust
inbound_create = _services.inbound_create


def receive_into_asn(
    *,
    merchant,
    shipment: InboundShipment,
    product: Product,
    quantity: int,
    damaged: bool,
    lot: str,
    expires_on: date | None,
    on_asn: bool,
) -> None:
    """Receives units against the ASN through inventory's ``inbound_receive`` (it updates the ASN's
    received/damaged counts, puts good units on hand — filling backorders — and damaged ones in quarantine).

    ``inbound_receive`` marks the ASN received as soon as every line is complete; units scanned after that
    (an over-count arriving one scan at a time) are received with ``stock_receive`` under the ASN's
    reference, so the ledger and levels stay right and our receipt lines record the over-count."""
    shipment.refresh_from_db(fields=["status"])
    if shipment.status == InboundShipment.Status.RECEIVED:
        stock_receive(
            merchant=merchant,
            product=product,
            warehouse=shipment.warehouse,
            quantity=quantity,
            lot=lot or "",
            expires_on=expires_on,
            damaged=damaged,
            reference=f"asn:{shipment.pk}",
            reason="over-receipt after the ASN was complete",
        )
        return
    line = _services.ReceiptLine(
        product=product,
        quantity=0 if damaged else quantity,
        damaged=quantity if damaged else 0,
        lot=lot or "",
        expires_on=expires_on,
    )
    _services.inbound_receive(merchant=merchant, shipment=shipment, lines=[line])


def asn_close(*, shipment: InboundShipment) -> None:
    """Marks the ASN received; a shortfall stops counting as inbound."""
    shipment.refresh_from_db(fields=["status"])
    if shipment.status in (InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING):
        _services.inbound_receive(merchant=shipment.merchant_id, shipment=shipment, lines=[], close=True)
