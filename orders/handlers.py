"""Outbox handlers of the order book (registered when the app is ready). Idempotent."""

from __future__ import annotations

from fulfil import outbox
from fulfil.audit import Actor, audit_context
from orders.services import redaction  # noqa: F401  (its order.status_changed / privacy handlers)

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


CARRIERS = Actor(label="carriers", source="worker")


def _order_for(event):
    from orders.models import Order

    p = event.payload
    if not p.get("order_id"):
        return None
    return Order.objects.filter(pk=p["order_id"], merchant_id=p.get("merchant_id")).first()


@outbox.handles("carrier.label_failed")
def on_label_failed(event) -> None:
    """No label could be bought (no rate, every account failed): an exception on the order, in the queue,
    with the carrier layer's plain-language message ("no rate available: FedEx timeout, ...")."""
    from orders.models import CARRIER_LABEL
    from orders.services.exceptions import order_exception_raise

    order = _order_for(event)
    if order is None or event.payload.get("return_label"):  # the return screen shows its own failure
        return
    message = str(event.payload.get("message") or "The label could not be bought.")
    with audit_context(CARRIERS):
        order_exception_raise(order=order, reason=CARRIER_LABEL, detail=message, action="order.label_failed")


@outbox.handles("carrier.label_purchased")
def on_label_purchased(event) -> None:
    """A label was bought after all (a retry, another carrier): the label exception is resolved."""
    from orders.models import CARRIER_LABEL
    from orders.services.exceptions import order_exception_resolve

    order = _order_for(event)
    if order is None:
        return
    with audit_context(CARRIERS):
        order_exception_resolve(
            order=order,
            reason=CARRIER_LABEL,
            resolution=f"label bought: {event.payload.get('carrier', '')} "
            f"{event.payload.get('tracking_number', '')}".strip(),
        )


@outbox.handles("carrier.tracking_updated")
def on_tracking_updated(event) -> None:
    """Delivered → the customer's "delivered" email (and any delivery exception is resolved); exception →
    an exception on the order and the customer's "delivery problem" email. Each email once per event, per
    the merchant's switches. (The order's status itself is moved by the carrier layer through the
    workflow transitions.)"""
    from orders.models import DELIVERY_EXCEPTION
    from orders.services.exceptions import order_exception_raise, order_exception_resolve
    from orders.services.notifications import queue_notification

    order = _order_for(event)
    if order is None:
        return
    p = event.payload
    to = p.get("to")
    tracking = f"{p.get('tracking_number') or 'shipment ' + str(p.get('shipment_id'))}"
    with audit_context(CARRIERS):
        if to == "delivered":
            order_exception_resolve(
                order=order, reason=DELIVERY_EXCEPTION, resolution=f"{tracking} delivered"
            )
            queue_notification(order=order, moment="delivered", key=f"event:{event.pk}")
        elif to == "exception":
            order_exception_raise(
                order=order,
                reason=DELIVERY_EXCEPTION,
                detail=f"The carrier reported a delivery exception for {tracking}.",
                action="order.delivery_exception",
            )
            queue_notification(order=order, moment="delivery_exception", key=f"event:{event.pk}")
