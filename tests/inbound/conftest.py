"""Fixtures for the receiving floor: a small warehouse (dock, quarantine, pick faces, reserve, a cold and a
hazmat slot), products of merchant A, and an ASN."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory import services as inv
from inventory.models import Location, Product
from warehouse.inbound.models import LocationProfile


@pytest.fixture
def wh(db):
    wh = inv.warehouse_create(code="TST1", name="Test DC")
    Location.objects.create(warehouse=wh, code="RCV", type="receiving", x=0, y=0)
    Location.objects.create(warehouse=wh, code="QC", type="quarantine", x=1, y=0)
    for i in range(1, 5):
        Location.objects.create(
            warehouse=wh, code=f"A-01-0{i}-1-A", type="pick", x=2.0 * i, y=6, capacity=100
        )
    Location.objects.create(warehouse=wh, code="R-01-01-3-A", type="reserve", x=3, y=20, capacity=1000)
    cold = Location.objects.create(warehouse=wh, code="C-01-01-1-A", type="pick", x=30, y=6, capacity=100)
    LocationProfile.objects.create(location=cold, cold=True)
    haz = Location.objects.create(warehouse=wh, code="H-01-01-1-A", type="pick", x=40, y=6, capacity=100)
    LocationProfile.objects.create(location=haz, hazmat=True)
    return wh


def loc(wh, code) -> Location:
    return Location.objects.get(warehouse=wh, code=code)


def make_product(merchant, sku, **kw) -> Product:
    defaults = {
        "name": sku.title(),
        "value": Decimal("10.00"),
        "status": Product.Status.ACTIVE,
        "barcode": "",
    }
    defaults.update(kw)
    return Product.objects.create(merchant=merchant, sku=sku, **defaults)


@pytest.fixture
def products(merchant_a):
    return {
        "mug": make_product(merchant_a, "MUG", barcode="036000291452"),
        "lamp": make_product(merchant_a, "LAMP", value=Decimal("40.00"), barcode="4006381333931"),
        "serum": make_product(
            merchant_a, "SERUM", requires_lot_tracking=True, barcode="09506000134352", value=Decimal("25.00")
        ),
    }


@pytest.fixture
def asn(merchant_a, wh, products):
    return inv.inbound_create(
        merchant=merchant_a,
        warehouse=wh,
        reference="PO-1",
        expected_at=None,
        carrier="UPS",
        lines=[(products["mug"], 10), (products["lamp"], 5), (products["serum"], 6)],
    )


# Staff work only in the warehouses they are assigned to (warehouse.access): the floor's staff are assigned to
# this package's warehouse, TST1.
@pytest.fixture
def associate(associate):
    associate.warehouse_codes = ["TST1"]
    associate.save(update_fields=["warehouse_codes"])
    return associate


@pytest.fixture
def manager(manager):
    manager.warehouse_codes = ["TST1"]
    manager.save(update_fields=["warehouse_codes"])
    return manager
