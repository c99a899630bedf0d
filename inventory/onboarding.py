"""The inventory steps of the onboarding checklist."""

from fulfil.onboarding import Step
from inventory.models import Product, StockMovement


def _has_products(merchant) -> bool:
    return Product.objects.for_merchant(merchant).exists()


def _catalog_active(merchant) -> bool:
    qs = Product.objects.for_merchant(merchant)
    return (
        qs.filter(status=Product.Status.ACTIVE).exists()
        and not qs.filter(status=Product.Status.DRAFT).exists()
    )


def _stock_received(merchant) -> bool:
    return StockMovement.objects.for_merchant(merchant).filter(type=StockMovement.Type.RECEIVE).exists()


STEPS = [
    Step(
        key="products",
        title="Add products",
        order=50,
        is_done=_has_products,
        url_name="inventory:product_list",
        help="Add them one by one or import a CSV: SKU, dimensions, weight, handling needs.",
    ),
    Step(
        key="catalog_review",
        title="Review and activate your catalog",
        order=55,
        is_done=_catalog_active,
        url_name="inventory:catalog_review",
        help="Check every product, then activate: only active products can be ordered.",
    ),
    Step(
        key="send_inventory",
        title="Send inventory",
        order=60,
        is_done=_stock_received,
        url_name="inventory:inbound_new",
        help="Tell us what is coming (an inbound shipment); stock is available as soon as we receive it.",
    ),
]
