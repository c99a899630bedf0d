"""eBay Sell Fulfillment / Inventory API payloads ⇄ our dataclasses. Pure: no I/O."""

from __future__ import annotations

from decimal import Decimal

from integrations.base import ChannelProduct
from integrations.common import address, clean, money, parse_time, service_level
from orders.canonical import CanonicalLine, CanonicalOrder


def order_from_ebay(data: dict, *, account: str = "", shipping_map: dict | None = None) -> CanonicalOrder:
    step = ((data.get("fulfillmentStartInstructions") or [{}])[0]).get("shippingStep") or {}
    ship_to = step.get("shipTo") or {}
    contact = ship_to.get("contactAddress") or {}
    email = clean(ship_to.get("email")) or clean(
        ((data.get("buyer") or {}).get("buyerRegistrationAddress") or {}).get("email")
    )
    cancelled = ((data.get("cancelStatus") or {}).get("cancelState")) == "CANCELED"
    lines = []
    for item in data.get("lineItems") or []:
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        cost = money(item.get("lineItemCost"))
        lines.append(
            CanonicalLine(
                sku=clean(item.get("sku")) or f"ebay-{item.get('legacyItemId')}",
                quantity=quantity,
                unit_price=(cost / quantity).quantize(Decimal("0.01")),
                tax=sum((money(t.get("amount")) for t in item.get("taxes") or []), money(0)),
                discount=sum((money(d.get("amount")) for d in item.get("appliedPromotions") or []), money(0)),
                name=clean(item.get("title")),
                external_line_id=clean(item.get("lineItemId")),
            )
        )
    pricing = data.get("pricingSummary") or {}
    total = pricing.get("total") or {}
    return CanonicalOrder(
        channel="ebay",
        external_id=clean(data.get("orderId")),
        number=clean(data.get("orderId")),
        channel_account=account,
        lines=tuple(lines),
        ship_to=address(
            name=ship_to.get("fullName"),
            company=ship_to.get("companyName"),
            street1=contact.get("addressLine1"),
            street2=contact.get("addressLine2"),
            city=contact.get("city"),
            state=contact.get("stateOrProvince"),
            postal_code=contact.get("postalCode"),
            country=contact.get("countryCode") or "US",
            phone=(ship_to.get("primaryPhone") or {}).get("phoneNumber"),
            email=email,
        ),
        customer_name=clean(ship_to.get("fullName")) or clean((data.get("buyer") or {}).get("username")),
        customer_email=email,
        currency=clean(total.get("currency")) or "USD",
        shipping_service=service_level(clean(step.get("shippingServiceCode")), shipping_map),
        shipping_paid=money(pricing.get("deliveryCost")),
        total=money(total) if total else None,
        note=clean(data.get("buyerCheckoutNotes")),
        placed_at=parse_time(data.get("creationDate")),
        updated_at=parse_time(data.get("lastModifiedDate")),
        status="cancelled" if cancelled else "open",
        raw=data,
    )


def product_from_ebay(item: dict) -> ChannelProduct:
    product = item.get("product") or {}
    codes = (product.get("upc") or []) + (product.get("ean") or [])
    avail = ((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get("quantity")
    return ChannelProduct(
        external_id=clean(item.get("sku")),
        sku=clean(item.get("sku")),
        name=clean(product.get("title")) or clean(item.get("sku")),
        barcode=clean(codes[0]) if codes else "",
        quantity=avail,
    )
