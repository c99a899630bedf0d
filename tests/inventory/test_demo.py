import pytest

from accounts import demo as accounts_demo
from inventory import demo, selectors
from inventory.models import Location, Product, Warehouse
from inventory.reconcile import ledger_drift

pytestmark = pytest.mark.django_db


def test_demo_loads_warehouses_layouts_catalogs_and_stock_idempotently():
    accounts_demo.load()
    demo.load()
    demo.load()  # twice is safe
    wh1 = Warehouse.objects.get(code="WH1")
    assert (wh1.name, wh1.owner_merchant_id, wh1.city) == ("Fulfil East", None, "Allentown")
    assert Warehouse.objects.get(code="WH2").city == "Reno"
    assert Location.objects.filter(warehouse=wh1, type="pick").count() == 300  # 10 aisles × 30 bays, level 1
    assert Location.objects.filter(warehouse=wh1, type="reserve").count() == 300
    assert set(Location.objects.filter(warehouse=wh1, aisle__isnull=True).values_list("type", flat=True)) == {
        "receiving",
        "packing",
        "staging",
        "quarantine",
        "returns",
    }
    kit = Product.objects.get(sku="ACME-KIT-START")
    assert kit.is_kit
    assert Product.objects.get(sku="ACME-FUEL-450").hazmat
    assert Product.objects.get(sku="GLX-SERUM-30").requires_lot_tracking
    # kit: min(lamp 120 // 1, bottle 200 // 2) = 100 in WH1; min(40, 60 // 2) = 30 in WH2
    assert selectors.stock_available(merchant=kit.merchant, product=kit) == 130
    assert ledger_drift() == []
