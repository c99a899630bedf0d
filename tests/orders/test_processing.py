"""Validation, routing and allocation after an order arrives; exceptions and their fixes."""

import pytest

from inventory import services as inventory
from inventory.models import Allocation, StockLevel
from orders.models import Order, OrderException
from orders.services import order_change_address, sku_mapping_create
from tests.orders.conftest import LA, canonical

pytestmark = pytest.mark.django_db


def level(product, wh):
    return StockLevel.objects.get(product=product, warehouse=wh)


def test_in_stock_order_is_validated_routed_allocated_and_released(merchant_a, stocked, east, run_import):
    order = run_import(merchant_a, canonical(lines=(("TENT", 2), ("STOVE", 1))))
    assert order.status == "released"
    line = order.lines.get(sku="TENT")
    assert (line.allocated_quantity, line.backordered_quantity) == (2, 0)
    assert [(a.warehouse_code, a.requested, a.allocated) for a in line.allocations.all()] == [("EAST", 2, 2)]
    assert level(stocked["TENT"], east).reserved == 2
    assert order.routing["winner"] == "EAST"
    assert order.routing["reason"].startswith("EAST: all lines in stock, zone")
    assert {c["warehouse"] for c in order.routing["candidates"]} == {"EAST", "WEST"}
    assert order.estimated_zone is not None
    assert order.promised_delivery is not None
    actions = [
        e.action
        for e in __import__("fulfil.audit", fromlist=["x"]).audit_list(obj_type="order", obj_id=order.pk)
    ]
    assert actions[:4] == ["order.imported", "order.validate", "order.allocate", "order.release"]


def test_routing_prefers_the_near_warehouse(merchant_a, stocked, run_import):
    order = run_import(merchant_a, canonical(lines=(("TENT", 1),), ship_to=LA))
    assert order.routing["winner"] == "WEST"


def test_split_when_no_single_warehouse_has_everything(merchant_a, stocked, run_import):
    order = run_import(merchant_a, canonical(lines=(("STOVE", 1), ("LAMP", 1))))
    assert order.status == "released"
    assert order.is_split
    assert order.routing["strategy"] == "split"
    assert {a.warehouse_code for line in order.lines.all() for a in line.allocations.all()} == {
        "EAST",
        "WEST",
    }


def test_never_split_backorders_in_one_warehouse(merchant_a, stocked, run_import):
    from orders.models import OrderSettings

    OrderSettings.objects.create(merchant=merchant_a, allow_split=False)
    order = run_import(merchant_a, canonical(lines=(("STOVE", 1), ("LAMP", 1))))
    assert order.status == "backordered"
    assert not order.is_split
    assert sum(line.backordered_quantity for line in order.lines.all()) == 1


def test_backorder_fills_when_stock_arrives_and_order_moves_on(
    merchant_a, stocked, east, after_commit, run_import
):
    order = run_import(merchant_a, canonical(lines=(("STOVE", 7),)))
    assert order.status == "backordered"
    line = order.lines.get()
    assert (line.allocated_quantity, line.backordered_quantity) == (5, 2)
    with after_commit():
        inventory.stock_receive(merchant=merchant_a, product=stocked["STOVE"], warehouse=east, quantity=5)
    order.refresh_from_db()
    line.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity) == (7, 0)
    assert order.status == "released"


def test_unknown_sku_goes_to_exceptions_and_mapping_releases_it(
    merchant_a, stocked, after_commit, run_import
):
    order = run_import(merchant_a, canonical(lines=(("tent-green", 1),), channel="shopify"))
    assert order.status == "exception"
    exc = OrderException.objects.get(order=order, resolved_at__isnull=True)
    assert exc.reason == "unknown_sku"
    assert exc.sku == "tent-green"
    assert order.exception_reason == "unknown_sku"
    with after_commit():
        sku_mapping_create(merchant=merchant_a, external_sku="tent-green", product_sku="TENT")
    order.refresh_from_db()
    assert order.status == "released"
    assert order.lines.get().product == stocked["TENT"]
    assert not OrderException.objects.filter(order=order, resolved_at__isnull=True).exists()


def test_bad_address_exception_released_by_correcting_it(merchant_a, stocked, after_commit, run_import):
    from orders.canonical import CanonicalAddress

    order = run_import(
        merchant_a,
        canonical(
            ship_to=CanonicalAddress(name="X", street1="1 A St", city="Boston", state="ZZ", postal_code="123")
        ),
    )
    assert order.status == "exception"
    reasons = set(
        OrderException.objects.filter(order=order, resolved_at__isnull=True).values_list("reason", flat=True)
    )
    assert reasons == {"bad_address"}
    with after_commit():
        order_change_address(order=order, address={"state": "MA", "postal_code": "02110"})
    order.refresh_from_db()
    assert order.status == "released"


def test_international_without_customs_data_is_an_exception(merchant_a, stocked, run_import):
    from orders.canonical import CanonicalAddress

    order = run_import(
        merchant_a,
        canonical(
            ship_to=CanonicalAddress(
                name="Jo", street1="1 High St", city="London", postal_code="SW1A 1AA", country="GB"
            )
        ),
    )
    assert order.status == "exception"
    exc = OrderException.objects.get(order=order, resolved_at__isnull=True)
    assert exc.reason == "customs"
    assert "HS code" in exc.detail


def test_hazmat_only_to_certified_warehouse(merchant_a, stocked, east, west, run_import):
    stocked["TENT"].hazmat = True
    stocked["TENT"].un_class = "3"
    stocked["TENT"].save()
    west.hazmat_certified = True
    west.save()
    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))
    assert order.routing["winner"] == "WEST"
    assert order.is_hazmat
    east_row = next(c for c in order.routing["candidates"] if c["warehouse"] == "EAST")
    assert east_row["excluded_because"] == "not hazmat-certified"


def test_no_eligible_warehouse_is_an_exception(merchant_a, stocked, run_import):
    stocked["TENT"].hazmat = True
    stocked["TENT"].un_class = "3"
    stocked["TENT"].save()
    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))
    assert order.status == "exception"
    assert order.exception_reason == "no_warehouse"


def test_expedited_is_flagged_and_prioritised(merchant_a, stocked, run_import):
    order = run_import(merchant_a, canonical(shipping_service="overnight"))
    assert order.same_day_cutoff
    assert order.priority == 100
    assert Allocation.objects.get(reference=f"order_line:{order.lines.get().pk}").priority == 100


def test_special_handling_flags(merchant_a, stocked, run_import):
    stocked["TENT"].fragile = True
    stocked["TENT"].save()
    order = run_import(merchant_a, canonical(gift_message="Happy birthday", tags=("custom-packaging",)))
    assert order.special_handling == ["fragile", "gift", "custom packaging"]


def test_duplicate_delivery_changes_nothing(merchant_a, stocked, run_import):
    first = run_import(merchant_a, canonical())
    again = run_import(merchant_a, canonical())
    assert first.pk == again.pk
    assert Order.objects.count() == 1
    assert Allocation.objects.get().requested == 1
