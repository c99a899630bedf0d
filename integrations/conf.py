"""Platform app credentials (ours, not the merchants'): from Django settings when set there, else the
environment. Merchants' own keys live encrypted on their ``ChannelConnection``."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS = {
    "SHOPIFY_API_KEY": "",
    "SHOPIFY_API_SECRET": "",
    "SHOPIFY_API_VERSION": "2025-01",
    "SHOPIFY_SCOPES": "read_orders,write_orders,read_products,read_inventory,write_inventory,"
    "read_fulfillments,write_fulfillments,read_assigned_fulfillment_orders,write_assigned_fulfillment_orders,"
    "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders",
    "EBAY_CLIENT_ID": "",
    "EBAY_CLIENT_SECRET": "",
    "AMAZON_LWA_CLIENT_ID": "",
    "AMAZON_LWA_CLIENT_SECRET": "",
    "CHANNEL_HTTP_TIMEOUT": "10",
    "CHANNEL_ALERT_AFTER_MINUTES": "30",
    # the webhook intake's INSERT as a named prepared statement ("0": parsed each time — behind a PgBouncer in
    # transaction pooling older than 1.21, which cannot keep prepared statements)
    "WEBHOOK_INTAKE_PREPARE": "1",
}


def get(name: str) -> str:
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name, DEFAULTS.get(name, ""))
    return str(value)


def timeout() -> float:
    return float(get("CHANNEL_HTTP_TIMEOUT") or 10)
