"""Fixtures for the carrier layer: a fake EasyPost server per test, accounts pointing at it, an order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.carriers.base import Address, Parcel
from integrations.carriers.models import CarrierAccount

from .fake_easypost import FakeEasyPost

WAREHOUSE = Address(
    name="Fulfil East",
    street1="179 N Harbor Dr",
    city="Redondo Beach",
    state="CA",
    postal_code="90277",
    country="US",
    phone="5555555555",
)
CUSTOMER = Address(
    name="Jack Sparrow",
    street1="388 Townsend St",
    street2="Apt 20",
    city="San Francisco",
    state="CA",
    postal_code="94107",
    country="US",
    email="jack@example.com",
)
BOX = Parcel(weight_g=437, length_mm=254, width_mm=203, height_mm=102)  # 15.4 oz, 10 x 8 x 4 in


@pytest.fixture
def fake_easypost(settings):
    fake = FakeEasyPost().start()
    settings.EASYPOST_API_BASE = fake.api_base
    settings.CARRIER_BREAKER_THRESHOLD = 3
    settings.CARRIER_BREAKER_COOLDOWN = 30
    yield fake
    fake.stop()


def make_account(fake, *, merchant=None, carrier="usps", key=None, **fields) -> CarrierAccount:
    key = key or f"EZTK-{carrier}-{merchant.pk if merchant else 'op'}"
    name = {"usps": "USPS", "ups": "UPS", "fedex": "FedEx", "dhl_express": "DHLExpress"}[carrier]
    fake.carriers_for(key, name)
    fields.setdefault("timeout_seconds", Decimal("2.00"))
    return CarrierAccount.objects.create(
        merchant=merchant, name=fields.pop("name", f"{name} account"), carrier=carrier, api_key=key, **fields
    )


@pytest.fixture
def four_accounts(fake_easypost):
    return {c: make_account(fake_easypost, carrier=c) for c in ("usps", "ups", "fedex", "dhl_express")}


def make_order(merchant, *, external_id="1001", status="packed", shipping_service="standard", **fields):
    from orders.models import Order, OrderLine

    order = Order.objects.create(
        merchant=merchant,
        external_id=external_id,
        number=f"#{external_id}",
        status=status,
        shipping_service=shipping_service,
        ship_to_name=CUSTOMER.name,
        ship_to_street1=CUSTOMER.street1,
        ship_to_street2=CUSTOMER.street2,
        ship_to_city=CUSTOMER.city,
        ship_to_state=CUSTOMER.state,
        ship_to_postal_code=CUSTOMER.postal_code,
        ship_to_country="US",
        ship_to_email=CUSTOMER.email,
        **fields,
    )
    OrderLine.objects.create(order=order, sku="TEE-1", quantity=1, allocated_quantity=1)
    return order


@pytest.fixture
def order_a(merchant_a):
    return make_order(merchant_a)
