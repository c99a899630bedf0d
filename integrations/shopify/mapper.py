"""Shopify payloads ⇄ our dataclasses. Pure: no I/O."""

from __future__ import annotations

from integrations.base import ChannelProduct
from integrations.common import address, clean, money, parse_time, service_level
from orders.canonical import CanonicalLine, CanonicalOrder


def _address(data: dict | None, email: str = ""):
    data = data or {}
    name = clean(data.get("name")) or " ".join(
        p for p in (clean(data.get("first_name")), clean(data.get("last_name"))) if p
    )
    return address(
        name=name,
        company=data.get("company"),
        street1=data.get("address1"),
        street2=data.get("address2"),
        city=data.get("city"),
        state=data.get("province_code") or data.get("province"),
        postal_code=data.get("zip"),
        country=data.get("country_code") or "US",
        phone=data.get("phone"),
        email=email,
    )


def order_from_shopify(data: dict, *, shop: str = "", shipping_map: dict | None = None) -> CanonicalOrder:
    """A Shopify order (REST/webhook JSON) → the canonical order."""
    email = clean(data.get("email") or data.get("contact_email"))
    customer = data.get("customer") or {}
    customer_name = " ".join(
        p for p in (clean(customer.get("first_name")), clean(customer.get("last_name"))) if p
    )
    lines = []
    for item in data.get("line_items") or []:
        if item.get("requires_shipping") is False:
            continue
        quantity = int(item.get("fulfillable_quantity") or item.get("quantity") or 0)
        if data.get("cancelled_at"):
            quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        tax = sum((money(t.get("price")) for t in item.get("tax_lines") or []), money(0))
        discount = sum((money(d.get("amount")) for d in item.get("discount_allocations") or []), money(0))
        lines.append(
            CanonicalLine(
                sku=clean(item.get("sku")) or f"shopify-variant-{item.get('variant_id')}",
                quantity=quantity,
                unit_price=money(item.get("price")),
                tax=tax,
                discount=discount,
                name=clean(item.get("name") or item.get("title")),
                external_line_id=clean(item.get("id")),
            )
        )
    shipping_lines = data.get("shipping_lines") or []
    method = clean(shipping_lines[0].get("title") or shipping_lines[0].get("code")) if shipping_lines else ""
    ship_to = data.get("shipping_address") or data.get("billing_address")
    gift = ""
    for attr in data.get("note_attributes") or []:
        if "gift" in clean(attr.get("name")).lower():
            gift = clean(attr.get("value"))
    tags = tuple(t.strip() for t in clean(data.get("tags")).split(",") if t.strip())
    return CanonicalOrder(
        channel="shopify",
        external_id=clean(data.get("id")),
        number=clean(data.get("name")) or f"#{data.get('order_number', '')}",
        channel_account=shop,
        lines=tuple(lines),
        ship_to=_address(ship_to, email),
        bill_to=_address(data["billing_address"], email) if data.get("billing_address") else None,
        customer_name=customer_name or clean((ship_to or {}).get("name")),
        customer_email=email,
        currency=clean(data.get("currency")) or "USD",
        shipping_service=service_level(method, shipping_map),
        shipping_paid=sum((money(s.get("price")) for s in shipping_lines), money(0)),
        total=money(data.get("total_price")) if data.get("total_price") is not None else None,
        tags=tags,
        note=clean(data.get("note")),
        gift_message=gift,
        placed_at=parse_time(data.get("created_at")),
        updated_at=parse_time(data.get("updated_at")),
        status="cancelled" if data.get("cancelled_at") else "open",
        raw=data,
    )


def products_from_shopify(data: dict) -> list[ChannelProduct]:
    """One Shopify product → one ChannelProduct per variant."""
    out = []
    title = clean(data.get("title"))
    for variant in data.get("variants") or []:
        vtitle = clean(variant.get("title"))
        name = title if vtitle in ("", "Default Title") else f"{title} - {vtitle}"
        grams = variant.get("grams") or 0
        out.append(
            ChannelProduct(
                external_id=clean(variant.get("id")),
                parent_id=clean(data.get("id")),
                sku=clean(variant.get("sku")),
                barcode=clean(variant.get("barcode")),
                name=name,
                price=money(variant.get("price")),
                weight_g=int(grams),
                inventory_item_id=clean(variant.get("inventory_item_id")),
                quantity=variant.get("inventory_quantity"),
            )
        )
    return out
