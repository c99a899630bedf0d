"""Demo orders for Acme Outdoor and Globex Beauty, through the one import path (idempotent: the same
external ids re-imported change nothing). Loaded only when inventory's demo products exist."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Merchant
from fulfil.audit import Actor, audit_context
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder

ADDRESSES = {
    "boston": CanonicalAddress(
        name="Ann Lee",
        street1="1 Main St",
        city="Boston",
        state="MA",
        postal_code="02110",
        email="ann.lee@example.com",
        phone="617-555-0101",
    ),
    "la": CanonicalAddress(
        name="Bo Diaz",
        street1="9 Sunset Blvd",
        city="Los Angeles",
        state="CA",
        postal_code="90028",
        email="bo.diaz@example.com",
    ),
    "chicago": CanonicalAddress(
        name="Cy Novak",
        street1="200 Lake St",
        city="Chicago",
        state="IL",
        postal_code="60601",
        email="cy@example.com",
    ),
    "bad": CanonicalAddress(
        name="Dee Ito", street1="5 Nowhere Rd", city="Springfield", state="XX", postal_code="12"
    ),
    "london": CanonicalAddress(
        name="Eve Moreau",
        street1="10 Downing St",
        city="London",
        postal_code="SW1A 2AA",
        country="GB",
        email="eve@example.co.uk",
    ),
}

ORDERS = {
    "acme-outdoor": [
        (
            "shopify",
            "5001",
            "#1001",
            "boston",
            [("ACME-TENT-2P", 1, "189.00"), ("ACME-LAMP-300", 2, "24.00")],
            {},
        ),
        (
            "shopify",
            "5002",
            "#1002",
            "la",
            [("ACME-BOTTLE-1L", 3, "12.00")],
            {"shipping_service": "expedited"},
        ),
        (
            "amazon",
            "113-0000001",
            "113-0000001",
            "chicago",
            [("ACME-BAG-20F", 1, "129.00")],
            {"gift_message": "Happy trails!"},
        ),
        ("woocommerce", "777", "WC-777", "boston", [("ACME-TENT-2P", 500, "189.00")], {}),
        ("shopify", "5003", "#1003", "boston", [("acme-tent-green", 1, "199.00")], {}),
        ("manual", "PHONE-1", "PHONE-1", "bad", [("ACME-MUG-TI", 1, "29.00")], {}),
        ("api", "API-42", "API-42", "london", [("ACME-LAMP-300", 1, "24.00")], {}),
        ("shopify", "5004", "#1004", "chicago", [("ACME-MUG-TI", 2, "29.00")], {"status": "cancelled"}),
    ],
    "globex-beauty": [
        ("shopify", "9001", "#G1001", "la", [("GLX-SERUM-30", 1, "48.00"), ("GLX-LIP-RUBY", 2, "22.00")], {}),
        (
            "walmart",
            "WM-1",
            "WM-1",
            "chicago",
            [("GLX-CREAM-50", 1, "36.00")],
            {"shipping_service": "overnight"},
        ),
        ("ebay", "EB-1", "EB-1", "boston", [("GLX-PERF-50", 1, "89.00")], {"tags": ("fragile", "gift")}),
    ],
}


def load() -> None:
    from inventory.models import Product
    from orders.services import order_import

    with audit_context(Actor(label="demo data", source="system")):
        for slug, rows in ORDERS.items():
            merchant = Merchant.objects.filter(slug=slug).first()
            if merchant is None or not Product.objects.filter(merchant=merchant).exists():
                continue
            for channel, external_id, number, where, lines, extra in rows:
                order_import(
                    merchant=merchant,
                    order=CanonicalOrder(
                        channel=channel,
                        external_id=external_id,
                        number=number,
                        channel_account={"shopify": f"{slug}.myshopify.com"}.get(channel, ""),
                        lines=tuple(
                            CanonicalLine(sku=s, quantity=q, unit_price=Decimal(p)) for s, q, p in lines
                        ),
                        ship_to=ADDRESSES[where],
                        customer_name=ADDRESSES[where].name,
                        customer_email=ADDRESSES[where].email,
                        **extra,
                    ),
                )
