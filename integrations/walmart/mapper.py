"""Walmart Marketplace API payloads ⇄ our dataclasses. Pure: no I/O."""

from __future__ import annotations

from integrations.base import ChannelProduct
from integrations.common import address, clean, money, parse_time, service_level
from orders.canonical import CanonicalLine, CanonicalOrder

METHOD_LEVEL = {"OneDay": "overnight", "Express": "expedited", "Premium": "expedited"}
COUNTRY = {"USA": "US", "US": "US", "CAN": "CA", "MEX": "MX"}


def _list(container: dict | None, key: str) -> list:
    value = (container or {}).get(key) or []
    return value if isinstance(value, list) else [value]


def line_status(line: dict) -> str:
    statuses = _list(line.get("orderLineStatuses"), "orderLineStatus")
    return clean(statuses[-1].get("status")) if statuses else ""


def order_from_walmart(data: dict, *, partner: str = "", shipping_map: dict | None = None) -> CanonicalOrder:
    info = data.get("shippingInfo") or {}
    postal = info.get("postalAddress") or {}
    lines = []
    statuses = []
    for line in _list(data.get("orderLines"), "orderLine"):
        status = line_status(line)
        statuses.append(status)
        quantity = int(float(((line.get("orderLineQuantity") or {}).get("amount")) or 0))
        if quantity <= 0:
            continue
        price = tax = money(0)
        for charge in _list(line.get("charges"), "charge"):
            if charge.get("chargeType") == "PRODUCT":
                price += money(charge.get("chargeAmount"))
                tax += money((charge.get("tax") or {}).get("taxAmount"))
        item = line.get("item") or {}
        lines.append(
            CanonicalLine(
                sku=clean(item.get("sku")),
                quantity=quantity,
                unit_price=(price / quantity).quantize(money(0)) if quantity else price,
                tax=tax,
                name=clean(item.get("productName")),
                external_line_id=clean(line.get("lineNumber")),
            )
        )
    method = clean(info.get("methodCode"))
    level = service_level(method, shipping_map)
    if level == "standard":
        level = METHOD_LEVEL.get(method, "standard")
    cancelled = bool(statuses) and all(s == "Cancelled" for s in statuses)
    return CanonicalOrder(
        channel="walmart",
        external_id=clean(data.get("purchaseOrderId")),
        number=clean(data.get("customerOrderId")) or clean(data.get("purchaseOrderId")),
        channel_account=partner,
        lines=tuple(lines),
        ship_to=address(
            name=postal.get("name"),
            street1=postal.get("address1"),
            street2=postal.get("address2"),
            city=postal.get("city"),
            state=postal.get("state"),
            postal_code=postal.get("postalCode"),
            country=COUNTRY.get(
                clean(postal.get("country")).upper(), clean(postal.get("country"))[:2] or "US"
            ),
            phone=info.get("phone"),
            email=data.get("customerEmailId"),
        ),
        customer_name=clean(postal.get("name")),
        customer_email=clean(data.get("customerEmailId")),
        shipping_service=level,
        placed_at=parse_time(data.get("orderDate")),
        updated_at=parse_time(data.get("lastModified") or data.get("orderDate")),
        status="cancelled" if cancelled else "open",
        raw={**data, "status": statuses[0] if statuses else ""},
    )


def product_from_walmart(item: dict) -> ChannelProduct:
    return ChannelProduct(
        external_id=clean(item.get("sku")),
        sku=clean(item.get("sku")),
        name=clean(item.get("productName")) or clean(item.get("sku")),
        barcode=clean(item.get("upc") or item.get("gtin")),
        price=money(item.get("price")),
        parent_id=clean(item.get("wpid")),
    )
