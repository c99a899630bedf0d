"""The other apps' functions this app calls, resolved in one place (the cross-app contracts in
ARCHITECTURE.md). Connectors never write orders or stock themselves: they go through these."""

from __future__ import annotations

import importlib
from typing import Any


def _resolve(module: str, name: str, *fallbacks: str):
    for mod in (module, *fallbacks):
        try:
            fn = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            fn = None
        if fn is not None:
            return fn
    return None


def order_import(*, merchant, order) -> tuple[Any, bool]:
    fn = _resolve("orders.services", "order_import", "orders.services.importing")
    if fn is None:
        raise RuntimeError("orders.services.order_import is not available")
    return fn(merchant=merchant, order=order)


def order_import_many(*, merchant, orders: list) -> list[tuple[Any, bool, dict]]:
    """Many orders through the one import path at once: ``(order or None, created, errors)`` per order."""
    fn = _resolve("orders.services", "order_import_many", "orders.services.batch")
    if fn is None:
        return [_import_one(merchant, order) for order in orders]
    return fn(merchant=merchant, orders=orders)


def _import_one(merchant, order) -> tuple[Any, bool, dict]:
    from orders.exceptions import InvalidOrder

    try:
        result, created = order_import(merchant=merchant, order=order)
    except InvalidOrder as exc:
        return None, False, getattr(exc, "errors", {"order": [str(exc)]})
    return result, created, {}


def orders_existing(*, merchant, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (channel, external id) pairs are already orders of the merchant (one query)."""
    from orders.models import Order

    if not keys:
        return set()
    # channel too, so the unique (merchant, channel, external_id) index finds each key by descent instead of
    # reading every index entry of the merchant
    found = Order.objects.filter(
        merchant=merchant, channel__in={ch for ch, _ in keys}, external_id__in={ext for _, ext in keys}
    ).values_list("channel", "external_id")
    return {pair for pair in found if pair in keys}


def order_hold(*, order, reason: str) -> None:
    fn = _resolve("orders.services", "order_hold", "orders.services.workflow")
    if fn is not None:
        fn(order=order, reason=reason)


def order_unhold(*, order) -> None:
    fn = _resolve("orders.services", "order_unhold", "orders.services.workflow")
    if fn is not None:
        fn(order=order)


def order_cancel(*, order, reason: str) -> Any:
    fn = _resolve("orders.services", "order_cancel", "orders.services.changes")
    if fn is None:
        raise RuntimeError("orders.services.order_cancel is not available")
    return fn(order=order, reason=reason)


def order_find(*, merchant, channel: str, external_id: str):
    from orders.models import Order

    return Order.objects.filter(merchant=merchant, channel=channel, external_id=external_id).first()


def order_get(*, order_id: int):
    from orders.models import Order

    return Order.objects.filter(pk=order_id).first()


def available_to_sell(*, merchant, product, channel: str, warehouses: list[int] | None = None) -> int:
    """The one figure a channel may sell: inventory's ``available_to_sell`` (its channel rules applied),
    summed over the connection's chosen warehouses when it has chosen some."""
    fn = _resolve("inventory.selectors", "available_to_sell")
    if fn is None:
        fn = _resolve("inventory.selectors", "stock_available")
        if fn is None:
            return 0
        if warehouses:
            return sum(int(fn(merchant=merchant, product=product, warehouse=w)) for w in warehouses)
        return int(fn(merchant=merchant, product=product))
    if warehouses:
        return sum(
            int(fn(merchant=merchant, product=product, channel=channel, warehouse=w)) for w in warehouses
        )
    return int(fn(merchant=merchant, product=product, channel=channel))


def product_create(*, merchant, sku: str, name: str, barcode: str = "", weight_g: int = 0, value=None):
    """Create a catalog product through inventory's service (``product_create``/``product_upsert``)."""
    fn = _resolve("inventory.services", "product_upsert") or _resolve("inventory.services", "product_create")
    if fn is None:
        raise RuntimeError("inventory offers no product_create/product_upsert service yet")
    kwargs: dict[str, Any] = {"merchant": merchant, "sku": sku, "name": name}
    check = _resolve("inventory.barcodes", "validate_barcode")
    if barcode and check is not None and check(barcode):
        barcode = ""  # channels hold all sorts of "barcodes"; keep only a valid UPC/EAN/GTIN
    if barcode:
        kwargs["barcode"] = barcode
    if weight_g:
        kwargs["weight_g"] = weight_g
    if value is not None:
        kwargs["value"] = value
    result = fn(**kwargs)
    return result[0] if isinstance(result, tuple) else result


def products_for(*, merchant):
    from inventory.models import Product

    return Product.objects.for_merchant(merchant)
