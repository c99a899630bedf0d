"""The canonical order: the one shape every source (API, CSV, manual entry, each channel connector) hands to
``orders.services.order_import``. Connectors map a platform's payload to these dataclasses (pure code, in
their ``mapper.py``); the import path validates, normalises and upserts on (merchant, channel, external_id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

CHANNELS = ("manual", "api", "csv", "shopify", "woocommerce", "amazon", "ebay", "walmart")
SHIPPING_SERVICES = ("standard", "expedited", "overnight")


@dataclass(frozen=True)
class CanonicalAddress:
    name: str = ""
    company: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = "US"  # ISO 3166-1 alpha-2
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class CanonicalLine:
    sku: str
    quantity: int
    unit_price: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    name: str = ""
    external_line_id: str = ""


@dataclass(frozen=True)
class CanonicalOrder:
    channel: str  # one of CHANNELS
    external_id: str  # unique per (merchant, channel)
    lines: tuple[CanonicalLine, ...]
    ship_to: CanonicalAddress
    number: str = ""  # the customer-facing order number on the channel, e.g. "#1001"
    channel_account: str = ""  # which store/account of that channel (e.g. the Shopify shop domain)
    bill_to: CanonicalAddress | None = None
    customer_name: str = ""
    customer_email: str = ""
    currency: str = "USD"
    shipping_service: str = "standard"  # one of SHIPPING_SERVICES
    shipping_paid: Decimal = Decimal("0")
    total: Decimal | None = None  # the channel's total, when it states one
    priority: int = 0  # higher first
    tags: tuple[str, ...] = ()
    note: str = ""
    gift_message: str = ""
    placed_at: datetime | None = None  # timezone-aware UTC
    updated_at: datetime | None = None  # the channel's last update time, for ordering out-of-order updates
    status: str = "open"  # the channel's view: open | cancelled
    raw: dict = field(default_factory=dict, compare=False)  # the source payload, kept for support
