"""WooCommerce REST v3 payloads ⇄ our dataclasses. Pure: no I/O."""

from __future__ import annotations

import html

from integrations.base import ChannelProduct
from integrations.common import address, clean, money, parse_time, service_level
from orders.canonical import CanonicalLine, CanonicalOrder

OPEN_STATUSES = ("pending", "processing", "on-hold")
CANCELLED_STATUSES = ("cancelled", "refunded", "failed", "trash")


def _addr(data: dict | None, email: str = ""):
    data = data or {}
    return address(
        name=" ".join(p for p in (clean(data.get("first_name")), clean(data.get("last_name"))) if p),
        company=data.get("company"),
        street1=data.get("address_1"),
        street2=data.get("address_2"),
        city=data.get("city"),
        state=data.get("state"),
        postal_code=data.get("postcode"),
        country=data.get("country") or "US",
        phone=data.get("phone"),
        email=email or data.get("email"),
    )


def _gmt(value):
    parsed = parse_time(value)
    return parsed


def order_from_woocommerce(
    data: dict, *, store: str = "", shipping_map: dict | None = None
) -> CanonicalOrder:
    billing = data.get("billing") or {}
    email = clean(billing.get("email"))
    shipping = data.get("shipping") or {}
    if not clean(shipping.get("address_1")):
        shipping = billing
    lines = []
    for item in data.get("line_items") or []:
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        subtotal, total = money(item.get("subtotal")), money(item.get("total"))
        lines.append(
            CanonicalLine(
                sku=clean(item.get("sku")) or f"woo-{item.get('variation_id') or item.get('product_id')}",
                quantity=quantity,
                unit_price=money(item.get("price")),
                tax=money(item.get("total_tax")),
                discount=max(subtotal - total, money(0)),
                name=html.unescape(clean(item.get("name"))),
                external_line_id=clean(item.get("id")),
            )
        )
    shipping_lines = data.get("shipping_lines") or []
    method = clean(shipping_lines[0].get("method_title")) if shipping_lines else ""
    status = clean(data.get("status"))
    return CanonicalOrder(
        channel="woocommerce",
        external_id=clean(data.get("id")),
        number=f"#{clean(data.get('number') or data.get('id'))}",
        channel_account=store,
        lines=tuple(lines),
        ship_to=_addr(shipping, email),
        bill_to=_addr(billing, email) if billing else None,
        customer_name=" ".join(
            p for p in (clean(billing.get("first_name")), clean(billing.get("last_name"))) if p
        ),
        customer_email=email,
        currency=clean(data.get("currency")) or "USD",
        shipping_service=service_level(method, shipping_map),
        shipping_paid=money(data.get("shipping_total")),
        total=money(data.get("total")) if data.get("total") is not None else None,
        note=clean(data.get("customer_note")),
        placed_at=_gmt(data.get("date_created_gmt") or data.get("date_created")),
        updated_at=_gmt(data.get("date_modified_gmt") or data.get("date_modified")),
        status="cancelled" if status in CANCELLED_STATUSES else "open",
        raw=data,
    )


def product_from_woocommerce(data: dict, *, parent: dict | None = None) -> ChannelProduct:
    name = html.unescape(clean(data.get("name")))
    if parent is not None:
        attrs = ", ".join(clean(a.get("option")) for a in data.get("attributes") or [] if a.get("option"))
        name = html.unescape(clean(parent.get("name"))) + (f" - {attrs}" if attrs else "")
    weight = data.get("weight") or ""
    try:
        weight_g = int(float(weight) * 1000) if weight else 0  # WooCommerce default unit: kg
    except ValueError:
        weight_g = 0
    return ChannelProduct(
        external_id=clean(data.get("id")),
        parent_id=clean(parent.get("id")) if parent else "",
        sku=clean(data.get("sku")),
        name=name or clean(data.get("slug")),
        price=money(data.get("price") or data.get("regular_price")),
        weight_g=weight_g,
        quantity=data.get("stock_quantity"),
    )
