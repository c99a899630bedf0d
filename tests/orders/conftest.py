"""Order-book fixtures: two operator warehouses (East in NJ, West in CA) with stock of merchant A's
products, and helpers to import canonical orders and run the after-commit processing."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from inventory import services as inventory
from inventory.models import Warehouse
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.services import order_import
from tests.inventory.factories import ProductFactory

BOSTON = CanonicalAddress(
    name="Ann Lee",
    street1="1 Main St",
    city="Boston",
    state="MA",
    postal_code="02110",
    email="ann@example.com",
)
LA = CanonicalAddress(
    name="Bo Diaz",
    street1="9 Sunset Blvd",
    city="Los Angeles",
    state="CA",
    postal_code="90028",
    email="bo@example.com",
)


def canonical(external_id="X-1", lines=(("TENT", 1),), ship_to=BOSTON, **kw) -> CanonicalOrder:
    return CanonicalOrder(
        channel=kw.pop("channel", "api"),
        external_id=external_id,
        lines=tuple(
            CanonicalLine(sku=sku, quantity=qty, unit_price=Decimal(kw.pop("unit_price", "10.00")))
            for sku, qty in lines
        ),
        ship_to=ship_to,
        **kw,
    )


@pytest.fixture
def east(db):
    return Warehouse.objects.create(
        code="EAST", name="East", postal_code="07001", state="NJ", timezone="UTC", cutoff_time=time(23, 59)
    )


@pytest.fixture
def west(db):
    return Warehouse.objects.create(
        code="WEST", name="West", postal_code="90001", state="CA", timezone="UTC", cutoff_time=time(23, 59)
    )


@pytest.fixture
def products(merchant_a):
    return {
        sku: ProductFactory(merchant=merchant_a, sku=sku, weight_g=500) for sku in ("TENT", "STOVE", "LAMP")
    }


@pytest.fixture
def stocked(merchant_a, products, east, west):
    """East: 10 TENT, 5 STOVE. West: 10 TENT, 10 LAMP."""
    for wh, sku, qty in ((east, "TENT", 10), (east, "STOVE", 5), (west, "TENT", 10), (west, "LAMP", 10)):
        inventory.stock_receive(merchant=merchant_a, product=products[sku], warehouse=wh, quantity=qty)
    return products


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    """Import and run everything queued after commit (processing, outbox handlers), like the worker."""

    def run(merchant, order: CanonicalOrder):
        with django_capture_on_commit_callbacks(execute=True):
            result, _created = order_import(merchant=merchant, order=order)
        result.refresh_from_db()
        return result

    return run


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """``with after_commit(): ...`` runs the on-commit work the block queued."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
