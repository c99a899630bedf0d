"""Tenant isolation of the order book: pages, API list/detail/history and every write."""

from orders.models import Order, OrderLine
from tests.isolation import Case


def _order(merchant):
    order = Order.objects.create(
        merchant=merchant,
        channel="api",
        external_id=f"ISO-{merchant.slug}",
        number=f"ISO-{merchant.slug}-ORDER",
        customer_name="Isolation Customer",
        search_text=f"iso-{merchant.slug}-order",
    )
    OrderLine.objects.create(order=order, sku="ISO-SKU", quantity=1)
    return order


def _exception(merchant):
    from orders.models import OrderException

    order = _order(merchant)
    order.status = "exception"
    order.save()
    OrderException.objects.create(
        merchant=merchant, order=order, reason="unknown_sku", sku="ISO-SKU", detail="x"
    )
    return order


CASES = [
    Case(
        name="order",
        make=_order,
        marker=lambda o: o.number,
        html_detail=lambda o: f"/app/orders/{o.pk}/",
        html_lists=["/app/orders/", "/app/orders/?q=iso"],
        api_detail=lambda o: f"/api/v1/orders/{o.pk}/",
        api_lists=["/api/v1/orders/", "/api/v1/orders/?q=iso"],
        api_writes=[
            ("patch", lambda o: f"/api/v1/orders/{o.pk}/", {"priority": 5}),
            ("post", lambda o: f"/api/v1/orders/{o.pk}/cancel/", {}),
            ("post", lambda o: f"/api/v1/orders/{o.pk}/hold/", {}),
            ("post", lambda o: f"/api/v1/orders/{o.pk}/release/", {}),
            ("post", lambda o: f"/app/orders/{o.pk}/cancel/", {}),
            ("post", lambda o: f"/app/orders/{o.pk}/hold/", {}),
            ("post", lambda o: f"/app/orders/{o.pk}/address/", {"city": "Nowhere"}),
        ],
    ),
    Case(
        name="order history",
        make=_order,
        marker=lambda o: o.number,
        api_detail=lambda o: f"/api/v1/orders/{o.pk}/",
    ),
    Case(
        name="order exception",
        make=_exception,
        marker=lambda o: o.number,
        html_lists=["/app/orders/exceptions/", "/app/orders/?exception=unknown_sku"],
    ),
]
