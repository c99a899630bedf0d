import pytest

from inventory import selectors, services
from inventory.exceptions import InsufficientStock
from inventory.models import Allocation, StockLevel, StockMovement
from tests.inventory.factories import LocationFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def wh():
    return WarehouseFactory(code="WHT")


def level(product, wh):
    return StockLevel.objects.get(product=product, warehouse=wh)


def test_receive_reserve_pick_ship_round_trip(merchant_a, wh):
    p = ProductFactory(merchant=merchant_a)
    shelf = LocationFactory(warehouse=wh, code="A-01-01-1-A")
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=10, location=shelf)
    assert selectors.stock_available(merchant=merchant_a, product=p) == 10

    alloc = services.stock_reserve(
        merchant=merchant_a, product=p, warehouse=wh, quantity=4, reference="order_line:1"
    )
    assert (alloc.requested, alloc.allocated, alloc.backordered) == (4, 4, 0)
    assert selectors.stock_available(merchant=merchant_a, product=p, warehouse=wh) == 6

    cands = selectors.pick_candidates(merchant=merchant_a, product=p, warehouse=wh, quantity=4)
    assert [(c.location.code, c.quantity) for c in cands] == [("A-01-01-1-A", 4)]
    services.stock_pick(merchant=merchant_a, reference="order_line:1", product=p, location=shelf, quantity=4)
    lv = level(p, wh)
    assert (lv.on_hand, lv.reserved) == (10, 4)
    assert services.stock_ship(merchant=merchant_a, reference="order_line:1") == 4
    lv = level(p, wh)
    assert (lv.on_hand, lv.reserved, lv.backordered) == (6, 0, 0)
    alloc.refresh_from_db()
    assert (alloc.status, alloc.shipped, alloc.allocated) == ("closed", 4, 0)
    assert list(StockMovement.objects.filter(product=p).order_by("pk").values_list("type", "quantity")) == [
        ("receive", 10),
        ("pick", 4),
        ("ship", 4),
    ]


def test_shortfall_is_backordered_and_filled_by_priority_then_time(merchant_a, wh):
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=3)
    a1 = services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=5, reference="r1")
    a2 = services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="r2")
    a3 = services.stock_reserve(
        merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="r3", priority=5
    )
    assert (a1.allocated, a1.backordered) == (3, 2)
    assert (a2.allocated, a3.allocated) == (0, 0)
    assert level(p, wh).backordered == 6
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=3)
    got = {a.reference: a.allocated for a in Allocation.objects.filter(product=p)}
    # r3 (priority 5) first, then the oldest: r1 gets the last unit
    assert got == {"r1": 4, "r2": 0, "r3": 2}
    lv = level(p, wh)
    assert (lv.on_hand, lv.reserved, lv.backordered) == (6, 6, 3)


def test_release_frees_stock_and_fills_the_next_backorder(merchant_a, wh):
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=2)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="r1")
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=1, reference="r2")
    assert services.stock_release(merchant=merchant_a, reference="r1") == 2
    got = {a.reference: (a.allocated, a.status) for a in Allocation.objects.filter(product=p)}
    assert got == {"r1": (0, "closed"), "r2": (1, "open")}
    lv = level(p, wh)
    assert (lv.reserved, lv.backordered) == (1, 0)


def test_kit_reserves_components(merchant_a, wh):
    a = ProductFactory(merchant=merchant_a, sku="CUP")
    b = ProductFactory(merchant=merchant_a, sku="LID")
    kit = services.product_create(merchant=merchant_a, sku="SET", name="Set", components=[(a, 2), (b, 1)])
    services.stock_receive(merchant=merchant_a, product=a, warehouse=wh, quantity=5)
    services.stock_receive(merchant=merchant_a, product=b, warehouse=wh, quantity=10)
    assert selectors.stock_available(merchant=merchant_a, product=kit) == 2
    alloc = services.stock_reserve(merchant=merchant_a, product=kit, warehouse=wh, quantity=3, reference="k1")
    assert (alloc.allocated, alloc.backordered) == (2, 1)
    assert level(a, wh).reserved == 4
    assert level(b, wh).reserved == 2
    assert selectors.stock_available(merchant=merchant_a, product=a) == 1
    services.stock_receive(merchant=merchant_a, product=a, warehouse=wh, quantity=1)
    alloc.refresh_from_db()
    assert alloc.allocated == 3
    assert services.stock_ship(merchant=merchant_a, reference="k1") == 9
    alloc.refresh_from_db()
    assert (alloc.shipped, alloc.status) == (3, "closed")


def test_adjust_cannot_take_reserved_units(merchant_a, wh):
    p = ProductFactory(merchant=merchant_a)
    loc = LocationFactory(warehouse=wh)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=5, location=loc)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=4, reference="r")
    with pytest.raises(InsufficientStock):
        services.stock_adjust(merchant=merchant_a, product=p, location=loc, quantity=-2)
    assert level(p, wh).on_hand == 5
    services.stock_adjust(merchant=merchant_a, product=p, location=loc, quantity=-1, reason="lost")
    assert level(p, wh).on_hand == 4


def test_count_below_reserved_turns_newest_lowest_priority_reservations_into_backorders(merchant_a, wh):
    p = ProductFactory(merchant=merchant_a)
    loc = LocationFactory(warehouse=wh, code="A-01-09-1-A")
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=6, location=loc)
    services.stock_reserve(
        merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="old", priority=1
    )
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="mid")
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="new")
    services.stock_count(merchant=merchant_a, product=p, location=loc, counted=3)
    got = {a.reference: (a.allocated, a.backordered) for a in Allocation.objects.filter(product=p)}
    assert got == {"old": (2, 0), "mid": (1, 1), "new": (0, 2)}
    lv = level(p, wh)
    assert (lv.on_hand, lv.reserved, lv.backordered) == (3, 3, 3)
    assert StockMovement.objects.filter(product=p, type="count").get().quantity == 3
