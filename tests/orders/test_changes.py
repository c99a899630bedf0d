"""Changes before picking (US-008): re-allocated at once, every change in the history; refused after."""

from decimal import Decimal

import pytest

from fulfil.audit import audit_list
from inventory.models import StockLevel
from orders.exceptions import ChangeRefused
from orders.models import OrderException
from orders.services import (
    order_cancel,
    order_change_address,
    order_change_lines,
    order_change_service,
    order_request_intercept,
    order_start_picking,
)
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db


def reserved(product, wh):
    return StockLevel.objects.get(product=product, warehouse=wh).reserved


def test_address_change_reroutes_and_recalculates_the_estimate(
    merchant_a, stocked, east, west, run_import, after_commit
):
    order = run_import(merchant_a, canonical(lines=(("TENT", 2),)))
    assert order.routing["winner"] == "EAST"
    east_estimate = order.estimated_shipping
    with after_commit():
        order_change_address(
            order=order, address={"city": "Los Angeles", "state": "CA", "postal_code": "90028"}
        )
    order.refresh_from_db()
    assert order.routing["winner"] == "WEST"
    assert order.estimated_shipping != east_estimate
    assert order.status == "released"
    assert (reserved(stocked["TENT"], east), reserved(stocked["TENT"], west)) == (0, 2)
    entry = next(
        e for e in audit_list(obj_type="order", obj_id=order.pk) if e.action == "order.address_changed"
    )
    assert entry.before == {"city": "Boston", "state": "MA", "postal_code": "02110"}
    assert entry.after == {"city": "Los Angeles", "state": "CA", "postal_code": "90028"}


def test_quantity_change_reallocates_at_once(merchant_a, stocked, east, run_import, after_commit):
    order = run_import(merchant_a, canonical(lines=(("STOVE", 2),)))
    line = order.lines.get()
    with after_commit():
        order_change_lines(order=order, changes=[{"id": line.pk, "quantity": 4}])
    line.refresh_from_db()
    assert (line.quantity, line.allocated_quantity) == (4, 4)
    assert reserved(stocked["STOVE"], east) == 4
    assert order.total == Decimal("40.00")


def test_remove_add_and_substitute_lines(merchant_a, stocked, east, west, run_import, after_commit):
    order = run_import(merchant_a, canonical(lines=(("TENT", 1), ("STOVE", 1))))
    tent, stove = order.lines.order_by("pk")
    with after_commit():
        order_change_lines(
            order=order,
            changes=[
                {"id": stove.pk, "quantity": 0},
                {"id": tent.pk, "sku": "LAMP"},
                {"sku": "TENT", "quantity": 3},
            ],
        )
    order.refresh_from_db()
    assert order.status == "released"
    open_lines = sorted(
        (ln.sku, ln.open_quantity, ln.allocated_quantity) for ln in order.lines.all() if ln.open_quantity
    )
    assert open_lines == [("LAMP", 1, 1), ("TENT", 3, 3)]
    assert reserved(stocked["STOVE"], east) == 0
    assert reserved(stocked["LAMP"], west) == 1
    assert reserved(stocked["TENT"], east) + reserved(stocked["TENT"], west) == 3


def test_upgrade_to_expedited(merchant_a, stocked, run_import, after_commit):
    order = run_import(merchant_a, canonical())
    with after_commit():
        order_change_service(order=order, shipping_service="expedited")
    order.refresh_from_db()
    assert (order.shipping_service, order.priority, order.same_day_cutoff) == ("expedited", 50, True)
    assert order.routing["service"] == "expedited"


def test_partial_cancel_releases_stock_and_computes_refund(
    merchant_a, stocked, east, run_import, after_commit
):
    order = run_import(merchant_a, canonical(lines=(("TENT", 3), ("STOVE", 2))))
    tent = order.lines.get(sku="TENT")
    with after_commit():
        order_cancel(order=order, lines=[{"id": tent.pk, "quantity": 2}])
    order.refresh_from_db()
    tent.refresh_from_db()
    assert order.status == "released"
    assert (tent.cancelled_quantity, tent.open_quantity, tent.allocated_quantity) == (2, 1, 1)
    assert reserved(stocked["TENT"], east) == 1
    assert reserved(stocked["STOVE"], east) == 2
    assert order.refund_due == Decimal("20.00")


def test_cancel_all_lines_one_by_one_cancels_the_order(merchant_a, stocked, run_import, after_commit):
    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))
    with after_commit():
        order_cancel(order=order, lines=[order.lines.get().pk])
    assert order.status == "cancelled"
    assert order.refund_due == Decimal("10.00")


def test_changes_after_picking_are_refused_with_the_way_forward(merchant_a, stocked, east, run_import):
    order = run_import(merchant_a, canonical(lines=(("TENT", 2),)))
    order_start_picking(order=order)
    before = reserved(stocked["TENT"], east)
    for change in (
        lambda: order_change_address(order=order, address={"city": "Chicago"}),
        lambda: order_change_lines(order=order, changes=[{"id": order.lines.get().pk, "quantity": 1}]),
        lambda: order_change_service(order=order, shipping_service="overnight"),
    ):
        with pytest.raises(ChangeRefused, match="request an intercept"):
            change()
    order.refresh_from_db()
    assert order.ship_to_city == "Boston"
    assert order.lines.get().quantity == 2
    assert order.shipping_service == "standard"
    assert reserved(stocked["TENT"], east) == before
    order_request_intercept(order=order, reason="customer moved")
    assert OrderException.objects.filter(order=order, reason="intercept").exists()


def test_channel_update_after_picking_is_an_exception_for_a_person(merchant_a, stocked, run_import):
    order = run_import(merchant_a, canonical(lines=(("TENT", 2),)))
    order_start_picking(order=order)
    run_import(merchant_a, canonical(lines=(("TENT", 5),)))
    order.refresh_from_db()
    assert order.status == "picking"
    assert order.lines.get().quantity == 2
    exc = OrderException.objects.get(order=order)
    assert exc.reason == "update_in_warehouse"
    assert "not applied" in exc.detail


def test_channel_update_before_picking_is_applied(merchant_a, stocked, east, run_import):
    order = run_import(merchant_a, canonical(lines=(("TENT", 2),)))
    updated = run_import(merchant_a, canonical(lines=(("TENT", 5),)))
    assert updated.pk == order.pk
    assert updated.status == "released"
    assert updated.lines.get().quantity == 5
    assert reserved(stocked["TENT"], east) == 5


def test_api_patch_409_after_picking(api_a, merchant_a, stocked, run_import):
    order = run_import(merchant_a, canonical())
    r = api_a.patch(f"/api/v1/orders/{order.pk}/", {"shipping_service": "overnight"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["shipping_service"] == "overnight"
    order_start_picking(order=order)
    r = api_a.patch(f"/api/v1/orders/{order.pk}/", {"ship_to": {"city": "Chicago"}}, format="json")
    assert r.status_code == 409
    assert "picking" in r.json()["detail"]
    r = api_a.post(f"/api/v1/orders/{order.pk}/cancel/", {}, format="json")
    assert r.status_code == 409
    assert "intercept" in r.json()["detail"]
