"""Customer emails at the moments customers expect, in the merchant's name, each switchable per merchant
(``OrderSettings.notify_*``). Sent after commit by a Celery task; every email sent is in the timeline."""

from __future__ import annotations

import logging
from email.utils import formataddr, parseaddr
from functools import partial

from django.conf import settings as django_settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string

from fulfil.audit import audit_record
from orders.models import Order, OrderSettings

log = logging.getLogger(__name__)

MOMENTS = {
    "released": ("notify_received", "Your order {number} is being prepared"),
    "backordered": ("notify_backordered", "Your order {number} is delayed"),
    "shipped": ("notify_shipped", "Your order {number} has shipped"),
    "cancelled": ("notify_cancelled", "Your order {number} was cancelled"),
    "modified": ("notify_modified", "Your order {number} was updated"),
    "delivered": ("notify_delivered", "Your order {number} was delivered"),
    "delivery_exception": ("notify_delivery_exception", "A problem with the delivery of your order {number}"),
}
TRACKING_MOMENTS = ("shipped", "delivered", "delivery_exception")  # the email shows the tracking


def queue_notification(*, order: Order, moment: str, key: str = "") -> None:
    """Send the ``moment`` email after commit. With a ``key`` (e.g. the event that caused it) the email is
    sent at most once per key, however often the task runs."""
    if moment not in MOMENTS or not (order.customer_email or order.ship_to_email):
        return
    transaction.on_commit(partial(_send_later, order_id=order.pk, moment=moment, key=key))


def _send_later(*, order_id: int, moment: str, key: str = "") -> None:
    from orders.tasks import order_notify

    try:
        order_notify.delay(order_id=order_id, moment=moment, **({"key": key} if key else {}))
    except Exception:  # broker down: a lost courtesy email is acceptable, but say so
        log.warning("orders: could not queue the %s email of order %s", moment, order_id, exc_info=True)


def order_notify(*, order_id: int, moment: str, key: str = "") -> bool:
    order = Order.objects.select_related("merchant").filter(pk=order_id).first()
    if order is None or moment not in MOMENTS:
        return False
    if key and _already_sent(order_id=order.pk, key=key):
        return False
    switch, subject = MOMENTS[moment]
    prefs = OrderSettings.objects.filter(merchant_id=order.merchant_id).first() or OrderSettings()
    if not getattr(prefs, switch):
        return False
    to = order.customer_email or order.ship_to_email
    shipments = []
    if moment in TRACKING_MOMENTS and hasattr(order, "shipments"):
        shipments = [s for s in order.shipments.all() if s.tracking_number]
    body = render_to_string(
        f"orders/email/{moment}.txt",
        {
            "order": order,
            "merchant": order.merchant,
            "shipments": shipments,
            "lines": list(order.lines.all()),
        },
    )
    _, address = parseaddr(django_settings.DEFAULT_FROM_EMAIL)
    message = EmailMessage(
        subject=subject.format(number=order.number),
        body=body,
        from_email=formataddr((order.merchant.name, address)),
        to=[to],
        reply_to=[prefs.reply_to or order.merchant.contact_email]
        if (prefs.reply_to or order.merchant.contact_email)
        else None,
    )
    message.send()
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action="order.customer_notified",
        merchant_id=order.merchant_id,
        message=f"{moment} email to {to}",
        after={"moment": moment, **({"key": key} if key else {})},
    )
    return True


def _already_sent(*, order_id: int, key: str) -> bool:
    from fulfil.models import AuditEntry

    return AuditEntry.objects.filter(
        object_type="order", object_id=str(order_id), action="order.customer_notified", after__key=key
    ).exists()
