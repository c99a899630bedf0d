"""Emails to merchants about their stock."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from inventory.models import LowStockAlert


def low_stock_email_send(*, alert_id: int) -> None:
    alert = LowStockAlert.objects.select_related("product", "merchant").filter(pk=alert_id).first()
    if alert is None:
        return
    merchant = alert.merchant
    owners = [
        m.user.email for m in merchant.memberships.select_related("user").filter(role="owner") if m.user.email
    ] or ([merchant.contact_email] if merchant.contact_email else [])
    if not owners:
        return
    product = alert.product
    send_mail(
        subject=f"[Fulfil] Low stock: {product.sku} has {alert.available} available",
        message=(
            f"{product.sku} — {product.name} is down to {alert.available} available units across our "
            f"warehouses (your alert threshold is {alert.threshold}).\n\n"
            "Send more stock with an inbound shipment from the Inventory page.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=owners,
    )
