"""Outbox handlers: billing reacts to what the lower apps did. Each is idempotent (charge lines are unique
on their source key; estimates are recomputed)."""

from __future__ import annotations

from billing import services
from fulfil import outbox


@outbox.handles("order.created")
def estimate_on_created(event) -> None:
    p = event.payload
    services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.status_changed")
def estimate_on_status_changed(event) -> None:
    p = event.payload
    if p.get("to") in ("shipped", "partially_shipped", "delivered", "cancelled"):
        return
    services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.changed")
def estimate_on_changed(event) -> None:
    p = event.payload
    if p.get("order_id") and p.get("merchant_id"):
        services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.shipped")
def bill_order_shipped(event) -> None:
    p = event.payload
    services.order_charge_shipped(
        merchant_id=p["merchant_id"],
        order_id=p["order_id"],
        shipment_id=p.get("shipment_id"),
        event_id=event.pk,
    )


@outbox.handles("inventory.received")
def bill_units_received(event) -> None:
    p = event.payload
    services.inbound_charge_received(
        merchant_id=p["merchant_id"], inbound_shipment_id=p["inbound_shipment_id"], event_id=event.pk
    )


@outbox.handles("return.processed")
def bill_return_processed(event) -> None:
    p = event.payload
    services.return_charge_processed(merchant_id=p["merchant_id"], payload=p, event_id=event.pk)
