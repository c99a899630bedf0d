"""The one place this app calls the inventory app's stock services (the contract in ARCHITECTURE.md).

Keeping the calls here means the floor code reads ``inv.stock_move(...)`` and a change in inventory's
signatures is fixed in one file. Nothing here writes a quantity itself.
"""

from __future__ import annotations

from inventory import services as _services
from inventory.models import InboundShipment

receiving_location = _services.receiving_location
quarantine_location = _services.quarantine_location
stock_receive = _services.stock_receive
stock_move = _services.stock_move
stock_adjust = _services.stock_adjust
inbound_create = _services.inbound_create
inbound_receive = _services.inbound_receive
ReceiptLine = _services.ReceiptLine


def asn_close(*, shipment: InboundShipment) -> None:
    """Marks the ASN received; a shortfall stops counting as inbound."""
    shipment.refresh_from_db(fields=["status"])
    if shipment.status in (InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING):
        _services.inbound_receive(merchant=shipment.merchant_id, shipment=shipment, lines=[], close=True)
