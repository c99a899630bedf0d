"""Outbound floor fixtures: a generated warehouse (4 aisles × 10 bays × 2 levels), merchant A's products
on its pick faces, the standard box catalog, and a helper that imports an order and lets the order book
process it to ``released``."""

from __future__ import annotations

import itertools
from datetime import time
from decimal import Decimal

import pytest

from inventory import services as inventory
from inventory.models import Location, Warehouse
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.models import Order
from orders.services import order_import
from tests.carriers.conftest import fake_easypost  # noqa: F401 — the fake EasyPost server fixture
from tests.inventory.factories import ProductFactory
from warehouse.services import box_catalog_seed

ADDRESS = CanonicalAddress(
    name="Ann Lee",
    street1="1 Main St",
    city="Boston",
    state="MA",
    postal_code="02110",
    email="ann@example.com",
)
_ids = itertools.count(1)

# sku -> (aisle, bay) of its pick face, units on it
SHELVES = {
    "TEE": ((1, 2), 20),
    "MUG": ((3, 9), 20),
    "CAP": ((2, 5), 20),
    "SOCK": ((4, 1), 3),
}


@pytest.fixture
def wh(db):
    warehouse = Warehouse.objects.create(
        code="WH1",
        name="Main",
        street1="1 Dock Rd",
        city="Allentown",
        state="PA",
        postal_code="18101",
        timezone="UTC",
        cutoff_time=time(23, 59),
    )
    inventory.layout_generate(warehouse=warehouse, spec=inventory.LayoutSpec(aisles=4, bays=10, levels=2))
    box_catalog_seed(warehouse=warehouse)
    return warehouse


@pytest.fixture
def products(merchant_a, wh):
    made = {}
    for sku, ((aisle, bay), qty) in SHELVES.items():
        p = ProductFactory(
            merchant=merchant_a,
            sku=sku,
            name=sku.title(),
            barcode="",
            weight_g=300,
            length_mm=200,
            width_mm=150,
            height_mm=40,
            fragile=(sku == "MUG"),
        )
        loc = Location.objects.get(warehouse=wh, code=inventory.location_code("A", aisle, bay, 1))
        inventory.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=qty, location=loc)
        made[sku] = p
    # a second home for socks in reserve (level 2 of another bay)
    reserve = Location.objects.get(warehouse=wh, code=inventory.location_code("A", 4, 6, 2))
    inventory.stock_receive(
        merchant=merchant_a, product=made["SOCK"], warehouse=wh, quantity=10, location=reserve
    )
    return made


@pytest.fixture
def released(merchant_a, products, django_capture_on_commit_callbacks):
    def make(*lines, service="standard", priority=0) -> Order:
        n = next(_ids)
        canon = CanonicalOrder(
            channel="api",
            external_id=f"W-{n}",
            number=f"#W{n}",
            lines=tuple(CanonicalLine(sku=s, quantity=q, unit_price=Decimal("10")) for s, q in lines),
            ship_to=ADDRESS,
            shipping_service=service,
            priority=priority,
        )
        with django_capture_on_commit_callbacks(execute=True):
            order, _ = order_import(merchant=merchant_a, order=canon)
        order.refresh_from_db()
        assert order.status == Order.Status.RELEASED, (order.status, order.exception_reason)
        return order

    return make


# Staff work only in the warehouses they are assigned to (warehouse.access): the floor's staff are assigned to
# this package's warehouse, WH1.
@pytest.fixture
def associate(associate):
    associate.warehouse_codes = ["WH1"]
    associate.save(update_fields=["warehouse_codes"])
    return associate


@pytest.fixture
def manager(manager):
    manager.warehouse_codes = ["WH1"]
    manager.save(update_fields=["warehouse_codes"])
    return manager
