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


# --- The customer return portal -------------------------------------------------------------------------


def make_shipped_order(merchant, lines, *, number="1001", email="jack@example.com", postal="94107", **fields):
    """A shipped order (ship-to in San Francisco) with ``lines`` = [(product, quantity, unit price)]."""
    from django.utils import timezone

    from orders.models import Order, OrderLine

    fields.setdefault("shipped_at", timezone.now())
    order = Order.objects.create(
        merchant=merchant,
        external_id=f"ext-{number}",
        number=number,
        status="shipped",
        ship_to_name="Jack Sparrow",
        ship_to_street1="388 Townsend St",
        ship_to_city="San Francisco",
        ship_to_state="CA",
        ship_to_postal_code=postal,
        ship_to_country="US",
        ship_to_email=email,
        **fields,
    )
    for product, qty, price in lines:
        OrderLine.objects.create(
            order=order,
            product=product,
            sku=product.sku,
            quantity=qty,
            shipped_quantity=qty,
            unit_price=price,
        )
    return order


@pytest.fixture
def return_wh(wh):
    """The test warehouse with a street address (a return label needs one)."""
    wh.street1, wh.city, wh.state, wh.postal_code, wh.country = (
        "179 N Harbor Dr",
        "Redondo Beach",
        "CA",
        "90277",
        "US",
    )
    wh.save()
    return wh


@pytest.fixture
def portal_a(merchant_a):
    from warehouse.inbound import services

    return services.return_portal_update(
        merchant=merchant_a, enabled=True, window_days=30, allowed_reasons=[], prepaid_labels=False
    )


@pytest.fixture
def fake_easypost(settings):
    """The carriers' fake EasyPost server (tests/carriers/fake_easypost.py) for the real ``easypost`` client."""
    from tests.carriers.fake_easypost import FakeEasyPost

    fake = FakeEasyPost().start()
    settings.EASYPOST_API_BASE = fake.api_base
    settings.CARRIER_BREAKER_THRESHOLD = 3
    settings.CARRIER_BREAKER_COOLDOWN = 30
    yield fake
    fake.stop()


@pytest.fixture
def usps_account(fake_easypost):
    from integrations.carriers.models import CarrierAccount

    key = "EZTK-usps-returns"
    fake_easypost.carriers_for(key, "USPS")
    return CarrierAccount.objects.create(
        merchant=None, name="USPS account", carrier="usps", api_key=key, timeout_seconds=Decimal("2.00")
    )
