"""Kits built ahead (inventory.services.kits): assembly and breakdown on the ledger, built kits reserved
before components, picked as the kit itself, shipped, released and filled — with exact figures and no drift."""

import pytest

from fulfil.models import OutboxEvent
from inventory import selectors, services
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.models import Allocation, Location, StockLevel, StockMovement, StockQuant
from inventory.reconcile import ledger_drift
from tests.inventory.factories import LocationFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def wh():
    return WarehouseFactory(code="WHK")


@pytest.fixture
def setup(merchant_a, wh):
    shelf = LocationFactory(warehouse=wh, code="A-01-01-1-A", type=Location.Type.PICK)
    kit_shelf = LocationFactory(warehouse=wh, code="K-01-01-1-A", type=Location.Type.PICK)
    cup = ProductFactory(merchant=merchant_a, sku="CUP")
    lid = ProductFactory(merchant=merchant_a, sku="LID")
    kit = services.product_create(
        merchant=merchant_a, sku="SET", name="Set", barcode="", components=[(cup, 2), (lid, 1)]
    )
    services.stock_receive(merchant=merchant_a, product=cup, warehouse=wh, quantity=10, location=shelf)
    services.stock_receive(merchant=merchant_a, product=lid, warehouse=wh, quantity=6, location=shelf)
    return {"shelf": shelf, "kit_shelf": kit_shelf, "cup": cup, "lid": lid, "kit": kit}


def lv(product, wh):
    row = StockLevel.objects.filter(product=product, warehouse=wh).first()
    return (row.on_hand, row.reserved, row.backordered) if row else None


def test_build_moves_components_into_kits_on_the_ledger(merchant_a, wh, setup):
    s = setup
    services.kit_build(
        merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=3, location=s["kit_shelf"], task_id=7
    )
    assert lv(s["cup"], wh) == (4, 0, 0)
    assert lv(s["lid"], wh) == (3, 0, 0)
    assert lv(s["kit"], wh) == (3, 0, 0)
    assert StockQuant.objects.get(product=s["kit"], location=s["kit_shelf"]).quantity == 3
    moves = sorted(
        StockMovement.objects.filter(reference="kit_build_task:7").values_list(
            "type", "product__sku", "quantity"
        )
    )
    assert moves == [("kit_build", "SET", 3), ("kit_use", "CUP", 6), ("kit_use", "LID", 3)]
    # availability: 3 built + min(4 // 2, 3 // 1) = 3 + 2
    assert selectors.stock_available(merchant=merchant_a, product=s["kit"], warehouse=wh) == 5
    ev = OutboxEvent.objects.get(event_type="inventory.kits_built")
    assert ev.payload == {
        "merchant_id": merchant_a.pk,
        "kit_id": s["kit"].pk,
        "sku": "SET",
        "warehouse_id": wh.pk,
        "warehouse": "WHK",
        "quantity": 3,
        "task_id": 7,
        "reference": "kit_build_task:7",
    }
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_build_refuses_when_a_component_is_short_and_changes_nothing(merchant_a, wh, setup):
    s = setup
    services.stock_reserve(merchant=merchant_a, product=s["lid"], warehouse=wh, quantity=4, reference="r1")
    before = (lv(s["cup"], wh), lv(s["lid"], wh), StockMovement.objects.count())
    with pytest.raises(InsufficientStock, match="needs 3 of LID; 2 are free"):
        services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=3)
    assert (lv(s["cup"], wh), lv(s["lid"], wh), StockMovement.objects.count()) == before
    with pytest.raises(InventoryError):
        services.kit_build(merchant=merchant_a, kit=s["cup"], warehouse=wh, quantity=1)


def test_reserving_a_kit_takes_built_kits_first_then_components(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=2, location=s["kit_shelf"])
    alloc = services.stock_reserve(
        merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=5, reference="o1"
    )
    # 2 built, then 2 from components (cups 6 // 2 = 3, lids 4 // 1 = 4 → min 3), so all 5? 2 + 3 = 5
    assert (alloc.requested, alloc.allocated, alloc.prebuilt, alloc.backordered) == (5, 5, 2, 0)
    assert lv(s["kit"], wh) == (2, 2, 0)
    assert lv(s["cup"], wh) == (6, 6, 0)
    assert lv(s["lid"], wh) == (4, 3, 0)
    children = {c.product.sku: (c.requested, c.allocated) for c in alloc.children.all()}
    assert children == {"CUP": (6, 6), "LID": (3, 3)}
    assert selectors.stock_available(merchant=merchant_a, product=s["kit"], warehouse=wh) == 0
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_built_kits_are_picked_as_the_kit_and_ship(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=2, location=s["kit_shelf"])
    services.stock_reserve(merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=3, reference="o1")
    moves = services.stock_pick(
        merchant=merchant_a, reference="o1", product=s["kit"], location=s["kit_shelf"], quantity=3
    )
    assert sorted((m.product.sku, m.from_location.code, m.quantity) for m in moves) == [
        ("CUP", "A-01-01-1-A", 2),
        ("LID", "A-01-01-1-A", 1),
        ("SET", "K-01-01-1-A", 2),
    ]
    parent = Allocation.objects.get(reference="o1", parent__isnull=True)
    assert (parent.prebuilt, parent.picked) == (2, 2)
    assert services.stock_ship(merchant=merchant_a, reference="o1") == 2 + 2 + 1
    parent.refresh_from_db()
    assert (parent.shipped, parent.allocated, parent.prebuilt, parent.status) == (3, 0, 0, "closed")
    assert lv(s["kit"], wh) == (0, 0, 0)
    assert lv(s["cup"], wh) == (4, 0, 0)
    assert lv(s["lid"], wh) == (3, 0, 0)
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_release_puts_picked_built_kits_back_and_fills_a_waiting_kit_order(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=5, location=s["kit_shelf"])
    # components left: cups 0, lids 1 → only built kits can be promised
    services.stock_reserve(merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=5, reference="o1")
    waiting = services.stock_reserve(
        merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=2, reference="o2"
    )
    assert (waiting.allocated, waiting.backordered) == (0, 2)
    assert lv(s["cup"], wh) == (0, 0, 4)
    services.stock_pick(
        merchant=merchant_a, reference="o1", product=s["kit"], location=s["kit_shelf"], quantity=3
    )
    assert services.stock_release(merchant=merchant_a, reference="o1", quantity=4) == 4
    o1 = Allocation.objects.get(reference="o1", parent__isnull=True)
    assert (o1.requested, o1.allocated, o1.prebuilt, o1.picked) == (1, 1, 1, 1)
    waiting.refresh_from_db()
    assert (waiting.allocated, waiting.prebuilt, waiting.backordered) == (2, 2, 0)
    assert {c.product.sku: c.requested for c in waiting.children.all()} == {"CUP": 0, "LID": 0}
    assert lv(s["kit"], wh) == (5, 3, 0)
    assert lv(s["cup"], wh) == (0, 0, 0)
    assert StockQuant.objects.get(product=s["kit"], location=s["kit_shelf"]).quantity == 4
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_unbuild_returns_components_and_never_touches_reserved_kits(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=3, location=s["kit_shelf"])
    services.stock_reserve(merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=1, reference="o1")
    with pytest.raises(InsufficientStock):
        services.kit_unbuild(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=3)
    assert lv(s["kit"], wh) == (3, 1, 0)
    services.kit_unbuild(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=2, location=s["shelf"])
    assert lv(s["kit"], wh) == (1, 1, 0)
    assert lv(s["cup"], wh) == (8, 0, 0)
    assert lv(s["lid"], wh) == (5, 0, 0)
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_counting_fewer_built_kits_turns_their_reservation_back_into_components(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=2, location=s["kit_shelf"])
    alloc = services.stock_reserve(
        merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=2, reference="o1"
    )
    assert alloc.prebuilt == 2
    services.stock_count(merchant=merchant_a, product=s["kit"], location=s["kit_shelf"], counted=1)
    alloc.refresh_from_db()
    # one built kit lost; the order's kit comes from components instead (cups 6, lids 4 are free)
    assert (alloc.allocated, alloc.prebuilt, alloc.backordered) == (2, 1, 0)
    assert lv(s["kit"], wh) == (1, 1, 0)
    assert lv(s["cup"], wh) == (6, 2, 0)
    assert lv(s["lid"], wh) == (4, 1, 0)
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_a_partial_release_keeps_what_was_picked_reserved(merchant_a, wh, setup):
    s = setup
    services.kit_build(merchant=merchant_a, kit=s["kit"], warehouse=wh, quantity=1, location=s["kit_shelf"])
    services.stock_reserve(merchant=merchant_a, product=s["kit"], warehouse=wh, quantity=2, reference="o1")
    # the component kit is picked (cups and lid in the tote), the built kit is not
    services.stock_pick(
        merchant=merchant_a, reference="o1", product=s["cup"], location=s["shelf"], quantity=2
    )
    services.stock_pick(
        merchant=merchant_a, reference="o1", product=s["lid"], location=s["shelf"], quantity=1
    )
    assert services.stock_release(merchant=merchant_a, reference="o1", quantity=1) == 1
    parent = Allocation.objects.get(reference="o1", parent__isnull=True)
    assert (parent.requested, parent.allocated, parent.prebuilt) == (1, 1, 0)
    assert lv(s["kit"], wh) == (1, 0, 0)
    assert lv(s["cup"], wh) == (8, 2, 0)
    assert services.stock_ship(merchant=merchant_a, reference="o1") == 3
    assert lv(s["kit"], wh) == (1, 0, 0)
    assert ledger_drift(merchant_id=merchant_a.pk) == []
