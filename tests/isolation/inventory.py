"""Tenant-isolation cases for the inventory app's pages and endpoints."""

from inventory import services
from inventory.models import InboundShipment, Product, Warehouse
from tests.isolation import Case


def _warehouse() -> Warehouse:
    wh, _ = Warehouse.objects.get_or_create(code="ISO1", defaults={"name": "Isolation East"})
    return wh


def _product(merchant) -> Product:
    return services.product_create(
        merchant=merchant, sku=f"ISO-{merchant.slug}", name=f"Iso {merchant.slug}", status="draft"
    )


def _stocked(merchant) -> Product:
    p = _product(merchant)
    services.stock_receive(
        merchant=merchant, product=p, warehouse=_warehouse(), quantity=7, reference=f"isoref-{merchant.slug}"
    )
    return p


def _asn(merchant) -> InboundShipment:
    p = _product(merchant)
    return services.inbound_create(
        merchant=merchant, warehouse=_warehouse(), lines=[(p, 3)], reference=f"ISO-ASN-{merchant.slug}"
    )


CASES = [
    Case(
        name="product",
        make=_product,
        marker=lambda p: p.sku,
        html_detail=lambda p: f"/app/inventory/products/{p.pk}/",
        html_lists=["/app/inventory/products/", "/app/inventory/catalog/review/"],
        api_detail=lambda p: f"/api/v1/products/{p.sku}/",
        api_lists=["/api/v1/products/"],
        api_writes=[("patch", lambda p: f"/api/v1/products/{p.sku}/", {"name": "hijacked"})],
    ),
    Case(
        name="product edit page",
        make=_product,
        marker=lambda p: p.sku,
        html_detail=lambda p: f"/app/inventory/products/{p.pk}/edit/",
    ),
    Case(
        name="stock level and ledger",
        make=_stocked,
        marker=lambda p: p.sku,
        html_lists=["/app/inventory/", "/app/inventory/movements/", "/app/inventory/reports/"],
        api_lists=["/api/v1/inventory/", "/api/v1/inventory/movements/"],
        api_writes=[("post", lambda p: f"/app/inventory/products/{p.pk}/safety/ISO1/", {"safety_stock": 3})],
    ),
    Case(
        name="inbound shipment",
        make=_asn,
        marker=lambda s: s.reference,
        html_detail=lambda s: f"/app/inventory/inbound/{s.pk}/",
        html_lists=["/app/inventory/inbound/"],
        api_detail=lambda s: f"/api/v1/inbound-shipments/{s.pk}/",
        api_lists=["/api/v1/inbound-shipments/"],
    ),
]


def _own_warehouse(merchant) -> Warehouse:
    return Warehouse.objects.create(
        code=f"OWN-{merchant.pk}", name=f"Own store {merchant.slug}", owner_merchant=merchant
    )


CASES.append(
    Case(
        name="merchant's own warehouse",
        make=_own_warehouse,
        marker=lambda w: w.name,
        api_lists=["/api/v1/warehouses/"],
    )
)


def _kit_task(merchant):
    from warehouse.kitting import kit_task_create

    part = services.product_create(merchant=merchant, sku=f"ISO-PART-{merchant.slug}", name="part")
    kit = services.product_create(
        merchant=merchant, sku=f"ISO-KIT-{merchant.slug}", name="kit", components=[(part, 2)]
    )
    return kit_task_create(merchant=merchant, kit=kit, warehouse=_warehouse(), quantity=4)


CASES.append(
    Case(
        name="build-kit request",
        make=_kit_task,
        marker=lambda t: t.kit.sku,
        html_lists=["/app/warehouse/kits/"],
        api_writes=[("post", lambda t: f"/app/warehouse/kits/{t.pk}/cancel/", {})],
    )
)


def _photo(merchant):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    product = services.product_create(merchant=merchant, sku=f"ISO-PHOTO-{merchant.slug}", name="photo")
    return services.product_photo_add(
        product=product, image=SimpleUploadedFile("iso.png", buf.getvalue(), content_type="image/png")
    )


CASES.append(
    Case(
        name="product photo",
        make=_photo,
        marker=lambda ph: ph.image.name,
        api_detail=lambda ph: f"/api/v1/products/{ph.product.sku}/photos/{ph.pk}/",
        api_writes=[
            ("delete", lambda ph: f"/api/v1/products/{ph.product.sku}/photos/{ph.pk}/", {}),
            ("post", lambda ph: f"/api/v1/products/{ph.product.sku}/photos/", {}),
        ],
    )
)
