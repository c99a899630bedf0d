"""Outbox handlers of the order book (registered when the app is ready). Idempotent."""

from __future__ import annotations

from fulfil import outbox
from fulfil.audit import Actor, audit_context

INVENTORY = Actor(label="inventory", source="worker")


@outbox.handles("inventory.allocation_changed")
def on_allocation_changed(event) -> None:
    """A backorder was filled (or inventory changed an allocation): refresh the line and move the order."""
    reference = str(event.payload.get("reference", ""))
    if not reference.startswith("order_line:"):
        return
    try:
        line_id = int(reference.split(":", 1)[1])
    except ValueError:
        return
    from orders.models import Order, OrderLine
    from orders.services.processing import reconcile_allocation

    order_id = OrderLine.objects.filter(pk=line_id).values_list("order_id", flat=True).first()
    if order_id is None:
        return
    order = Order.objects.filter(pk=order_id, merchant_id=event.payload.get("merchant_id")).first()
    if order is None:
        return
    with audit_context(INVENTORY):
        reconcile_allocation(order=order)
