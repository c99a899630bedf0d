"""A customer's personal data erased from the order book is erased from its shipments too.

The orders app redacts an order's customer (a Shopify ``customers/redact`` or ``shop/redact``, an eBay account
deletion) and emits ``order.customer_redacted``. Shipments keep their own copy of the ship-to address, the
address-check proposals keep two more, and a bought label is a picture of the address: all of them go. What
billing and claims need stays — carrier, service, tracking number, rate, weight, country, state and the
first three characters of the postal code, the same as the order keeps.
"""

from __future__ import annotations

from django.db import transaction

from fulfil import outbox
from fulfil.audit import audit_record

from .models import AddressProposal, Shipment

REDACTED = "[redacted]"
KEPT = frozenset({"country", "state"})
POSTAL_KEYS = frozenset({"zip", "postal_code"})
POSTAL_PREFIX = 3


def redact_address(address: dict) -> dict:
    """The address with every personal value replaced; country and state kept, the postal code cut to its prefix."""
    out = {}
    for key, value in address.items():
        if key in KEPT or value in (None, "", [], {}):
            out[key] = value
        elif key in POSTAL_KEYS and isinstance(value, str):
            out[key] = value[:POSTAL_PREFIX]
        elif isinstance(value, dict):
            out[key] = redact_address(value)
        elif isinstance(value, bool | int | float):
            out[key] = value
        else:
            out[key] = REDACTED
    return out


def shipments_redact(*, merchant_id: int, order_id: int) -> int:
    """Erases the customer from one order's shipments and address proposals; returns how many rows changed."""
    changed = 0
    with transaction.atomic():
        for shipment in Shipment.objects.select_for_update().filter(
            merchant_id=merchant_id, order_id=order_id
        ):
            to_address = redact_address(shipment.to_address)
            if to_address == shipment.to_address and not shipment.label_file and not shipment.label_url:
                continue
            shipment.to_address = to_address
            if shipment.label_file:
                shipment.label_file.delete(save=False)
            shipment.label_url = ""
            shipment.save(update_fields=["to_address", "label_file", "label_url", "updated_at"])
            changed += 1
        for proposal in AddressProposal.objects.select_for_update().filter(
            merchant_id=merchant_id, order_id=order_id
        ):
            original, proposed = redact_address(proposal.original), redact_address(proposal.proposed)
            if (original, proposed) == (proposal.original, proposal.proposed):
                continue
            proposal.original, proposal.proposed = original, proposed
            proposal.save(update_fields=["original", "proposed"])
            changed += 1
        if changed:
            audit_record(
                obj_type="order",
                obj_id=order_id,
                action="shipment.redacted",
                merchant_id=merchant_id,
                after={"rows": changed},
                message="Customer personal data erased from shipments and labels",
            )
    return changed


@outbox.handles("order.customer_redacted")
def on_customer_redacted(event) -> None:
    shipments_redact(merchant_id=event.payload["merchant_id"], order_id=event.payload["order_id"])
