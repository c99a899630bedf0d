"""Amazon SP-API (Orders v0, Listings Items) payloads ⇄ our dataclasses. Pure: no I/O."""

from __future__ import annotations

from decimal import Decimal

from integrations.base import ChannelProduct
from integrations.common import address, clean, money, parse_time, service_level
from orders.canonical import CanonicalLine, CanonicalOrder

CATEGORY_LEVEL = {
    "NextDay": "overnight",
    "SameDay": "overnight",
    "SecondDay": "expedited",
    "Expedited": "expedited",
}


def order_from_amazon(
    order: dict, items: list[dict], *, seller: str = "", shipping_map: dict | None = None
) -> CanonicalOrder:
    ship = order.get("ShippingAddress") or {}
    buyer = order.get("BuyerInfo") or {}
    email = clean(buyer.get("BuyerEmail"))
    lines = []
    for item in items:
        quantity = int(item.get("QuantityOrdered") or 0) - int(item.get("QuantityShipped") or 0)
        if order.get("OrderStatus") == "Canceled":
            quantity = int(item.get("QuantityOrdered") or 0)
        if quantity <= 0:
            continue
        ordered = max(int(item.get("QuantityOrdered") or 1), 1)
        lines.append(
            CanonicalLine(
                sku=clean(item.get("SellerSKU")) or clean(item.get("ASIN")),
                quantity=quantity,
                unit_price=(money(item.get("ItemPrice")) / ordered).quantize(Decimal("0.01")),
                tax=money(item.get("ItemTax")),
                discount=money(item.get("PromotionDiscount")),
                name=clean(item.get("Title")),
                external_line_id=clean(item.get("OrderItemId")),
            )
        )
    category = clean(order.get("ShipmentServiceLevelCategory"))
    level = service_level(clean(order.get("ShipServiceLevel")), shipping_map)
    if level == "standard":
        level = CATEGORY_LEVEL.get(category, "standard")
    total = order.get("OrderTotal") or {}
    return CanonicalOrder(
        channel="amazon",
        external_id=clean(order.get("AmazonOrderId")),
        number=clean(order.get("AmazonOrderId")),
        channel_account=seller,
        lines=tuple(lines),
        ship_to=address(
            name=ship.get("Name"),
            company=ship.get("CompanyName"),
            street1=ship.get("AddressLine1"),
            street2=" ".join(clean(ship.get(k)) for k in ("AddressLine2", "AddressLine3") if ship.get(k)),
            city=ship.get("City"),
            state=ship.get("StateOrRegion"),
            postal_code=ship.get("PostalCode"),
            country=ship.get("CountryCode") or "US",
            phone=ship.get("Phone"),
            email=email,
        ),
        customer_name=clean(buyer.get("BuyerName")) or clean(ship.get("Name")),
        customer_email=email,
        currency=clean(total.get("CurrencyCode")) or "USD",
        shipping_service=level,
        total=money(total) if total else None,
        priority=50 if order.get("IsPrime") else 0,
        placed_at=parse_time(order.get("PurchaseDate")),
        updated_at=parse_time(order.get("LastUpdateDate")),
        status="cancelled" if order.get("OrderStatus") == "Canceled" else "open",
        raw={"order": order, "items": items, "OrderStatus": order.get("OrderStatus")},
    )


def product_from_amazon(item: dict) -> ChannelProduct:
    summary = (item.get("summaries") or [{}])[0]
    quantity = None
    for avail in item.get("fulfillmentAvailability") or []:
        if avail.get("fulfillmentChannelCode") == "DEFAULT":
            quantity = avail.get("quantity")
    return ChannelProduct(
        external_id=clean(item.get("sku")),
        sku=clean(item.get("sku")),
        name=clean(summary.get("itemName")) or clean(item.get("sku")),
        parent_id=clean(summary.get("asin")),
        quantity=quantity,
    )
