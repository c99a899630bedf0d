"""Factories for inventory objects (other apps' tests may use them too)."""

import factory

from inventory.models import Location, Product, Warehouse
from tests.factories import MerchantFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    merchant = factory.SubFactory(MerchantFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    weight_g = 250
    length_mm = 200
    width_mm = 150
    height_mm = 50
    status = Product.Status.ACTIVE


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"WH{n + 10}")
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    street1 = "1 Dock Road"
    city = "Allentown"
    state = "PA"
    postal_code = "18101"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    warehouse = factory.SubFactory(WarehouseFactory)
    code = factory.Sequence(lambda n: f"A-01-{n % 99 + 1:02d}-1-A")
    type = Location.Type.PICK
