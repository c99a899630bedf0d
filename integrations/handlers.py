"""Outbox reactions: stock and order changes from the apps below become pushes to the channels.
Each handler is idempotent (pushes coalesce on their key)."""

from __future__ import annotations

from fulfil import outbox
from integrations import privacy, services


@outbox.handles("inventory.available_changed")
def on_available_changed(event) -> None:
    payload = event.payload
    services.inventory_changed(merchant_id=payload["merchant_id"], product_id=payload["product_id"])


@outbox.handles("order.shipped")
def on_order_shipped(event) -> None:
    services.order_shipped(order_id=event.payload["order_id"], shipment_id=event.payload.get("shipment_id"))


@outbox.handles("order.cancelled")
def on_order_cancelled(event) -> None:
    payload = event.payload
    services.order_cancelled(
        order_id=payload["order_id"], reason=payload.get("reason") or "", partial=bool(payload.get("lines"))
    )


# order.status_changed is not needed: the two statuses a channel hears about (shipped, cancelled) arrive as their
# own events, with the shipment and the reason (so a channel's own cancellation is not echoed back to it).


@outbox.handles("order.customer_redacted")
def on_customer_redacted(event) -> None:
    """An order waiting for its customer to be erased (it was in flight) has been: complete the privacy
    requests that were only waiting for it."""
    privacy.privacy_requests_settle(merchant_id=event.payload["merchant_id"])
