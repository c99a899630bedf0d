"""Merchant-facing pages of the receiving floor app: inbound shipments (receiving report), vendors, purchase
orders and returns."""

from decimal import Decimal

from inventory import services as inv
from inventory.models import Product, Warehouse
from tests.isolation import Case


def _warehouse():
    wh = Warehouse.objects.filter(code="ISO1").first()
    return wh or inv.warehouse_create(code="ISO1", name="Isolation DC")


def _product(merchant, sku):
    return Product.objects.create(
        merchant=merchant, sku=sku, name=sku, status="active", value=Decimal("1.00")
    )


def _asn(merchant):
    return inv.inbound_create(
        merchant=merchant,
        warehouse=_warehouse(),
        reference=f"ISO-ASN-{merchant.slug}",
        lines=[(_product(merchant, f"ISO-ASN-SKU-{merchant.slug}"), 3)],
    )


def _vendor(merchant):
    from warehouse.inbound import services

    return services.vendor_create(merchant=merchant, name=f"ISO-VENDOR-{merchant.slug}")


def _po(merchant):
    from warehouse.inbound import services

    vendor = _vendor(merchant)
    return services.purchase_order_create(
        merchant=merchant,
        vendor=vendor,
        warehouse=_warehouse(),
        number=f"ISO-PO-{merchant.slug}",
        lines=[(_product(merchant, f"ISO-PO-SKU-{merchant.slug}"), 5, Decimal("1.00"))],
    )


def _rma(merchant):
    from orders.models import Order, OrderLine
    from warehouse.inbound import services

    product = _product(merchant, f"ISO-RMA-SKU-{merchant.slug}")
    order = Order.objects.create(
        merchant=merchant, external_id=f"ISO-{merchant.slug}", number="ISO-1", status="shipped"
    )
    OrderLine.objects.create(order=order, product=product, sku=product.sku, quantity=1, shipped_quantity=1)
    return services.return_open(
        merchant=merchant,
        order=order,
        reason="other",
        lines=[(product, 1)],
        warehouse=_warehouse(),
        customer_note="ISO-RMA-NOTE",
    )


def _customer_rma(merchant):
    """A return the customer opened on the merchant's portal (flagged in the merchant's list)."""
    from orders.models import Order, OrderLine
    from warehouse.inbound import services

    product = _product(merchant, f"ISO-PORTAL-SKU-{merchant.slug}")
    order = Order.objects.create(
        merchant=merchant,
        external_id=f"ISO-P-{merchant.slug}",
        number="ISO-P-1",
        status="shipped",
        ship_to_email=f"buyer@{merchant.slug}.example",
    )
    OrderLine.objects.create(order=order, product=product, sku=product.sku, quantity=1, shipped_quantity=1)
    return services.return_open(
        merchant=merchant,
        order=order,
        reason="damaged",
        lines=[(product, 1)],
        warehouse=_warehouse(),
        opened_by="customer",
        customer_note=f"ISO-PORTAL-NOTE-{merchant.slug}",
        customer_email=f"buyer@{merchant.slug}.example",
    )


def _portal(merchant):
    from warehouse.inbound import services

    return services.return_portal_update(
        merchant=merchant, enabled=True, window_days=30, allowed_reasons=[], prepaid_labels=False
    )


CASES = [
    Case(
        name="inbound shipment (receiving report)",
        make=_asn,
        marker=lambda s: s.reference,
        html_detail=lambda s: f"/app/warehouse/inbound/shipments/{s.pk}/",
        html_lists=["/app/warehouse/inbound/"],
    ),
    Case(
        name="vendor",
        make=_vendor,
        marker=lambda v: v.name,
        html_lists=["/app/warehouse/inbound/vendors/", "/app/warehouse/inbound/purchase-orders/"],
        api_detail=lambda v: f"/api/v1/vendors/{v.pk}/",
        api_lists=["/api/v1/vendors/"],
    ),
    Case(
        name="purchase order",
        make=_po,
        marker=lambda po: po.number,
        html_detail=lambda po: f"/app/warehouse/inbound/purchase-orders/{po.pk}/",
        html_lists=["/app/warehouse/inbound/purchase-orders/"],
        api_detail=lambda po: f"/api/v1/purchase-orders/{po.pk}/",
        api_lists=["/api/v1/purchase-orders/"],
    ),
    Case(
        name="return (RMA)",
        make=_rma,
        marker=lambda r: r.customer_note,
        html_detail=lambda r: f"/app/warehouse/inbound/returns/{r.pk}/",
        api_detail=lambda r: f"/api/v1/returns/{r.pk}/",
        api_lists=["/api/v1/returns/"],
    ),
    Case(
        name="return opened by the customer on the portal",
        make=_customer_rma,
        marker=lambda r: r.customer_note,
        html_detail=lambda r: f"/app/warehouse/inbound/returns/{r.pk}/",
        html_lists=[],
        api_detail=lambda r: f"/api/v1/returns/{r.pk}/",
        api_lists=["/api/v1/returns/"],
    ),
    Case(
        name="return portal settings (its public link)",
        make=_portal,
        marker=lambda p: p.token,
        html_lists=["/app/warehouse/inbound/returns/portal/"],
    ),
]
