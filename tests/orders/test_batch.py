"""The batch import path gives exactly what the one-by-one path gives: states, reservations, mirrors,
routing, audit entries, events — and stays idempotent."""

import pytest

from fulfil.audit import audit_list
from fulfil.models import OutboxEvent
from inventory.models import StockLevel
from orders.models import Order, OrderLineAllocation
from orders.services import order_import_many
from tests.orders.conftest import LA, canonical
from tests.orders.test_invariants import check_invariant

pytestmark = pytest.mark.django_db


def batch_orders():
    return [
        canonical("B-1", lines=(("TENT", 2), ("STOVE", 1))),
        canonical("B-2", lines=(("TENT", 1),), ship_to=LA),
        canonical("B-3", lines=(("STOVE", 9),)),  # more than East has: backordered
        canonical("B-4", lines=(("NOPE", 1),)),  # unknown SKU: exception
        canonical("B-5", lines=(("LAMP", 1),), shipping_service="overnight"),
        canonical("B-6", lines=(("TENT", 1),), status="cancelled"),
        canonical("B-1", lines=(("TENT", 2), ("STOVE", 1))),  # the same order twice in one batch
    ]


def test_batch_import_matches_the_single_path(
    merchant_a, stocked, east, west, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        results = order_import_many(merchant=merchant_a, orders=batch_orders())
    assert [created for _, created, _ in results] == [True, True, True, True, True, True, False]
    assert results[0][0].pk == results[6][0].pk
    status = dict(Order.objects.values_list("external_id", "status"))
    assert status == {
        "B-1": "released",
        "B-2": "released",
        "B-3": "backordered",
        "B-4": "exception",
        "B-5": "released",
        "B-6": "cancelled",
    }
    b1 = Order.objects.get(external_id="B-1")
    assert b1.routing["winner"] == "EAST"
    assert Order.objects.get(external_id="B-2").routing["winner"] == "WEST"
    assert sorted(
        OrderLineAllocation.objects.filter(line__order=b1).values_list("warehouse_code", "allocated")
    ) == [
        ("EAST", 1),
        ("EAST", 2),
    ]
    assert [e.action for e in audit_list(obj_type="order", obj_id=b1.pk)][:4] == [
        "order.imported",
        "order.validate",
        "order.allocate",
        "order.release",
    ]
    changes = [
        (p["from"], p["to"])
        for p in OutboxEvent.objects.filter(
            event_type="order.status_changed", payload__order_id=b1.pk
        ).values_list("payload", flat=True)
    ]
    assert changes == [("new", "validated"), ("validated", "allocated"), ("allocated", "released")]
    assert StockLevel.objects.get(product=stocked["TENT"], warehouse=east).reserved == 2
    assert StockLevel.objects.get(product=stocked["STOVE"], warehouse=east).reserved == 5
    check_invariant(merchant_a)


def test_batch_import_is_idempotent(merchant_a, stocked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order_import_many(merchant=merchant_a, orders=batch_orders())
    before = (Order.objects.count(), OutboxEvent.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        results = order_import_many(merchant=merchant_a, orders=batch_orders())
    assert not any(created for _, created, _ in results)
    assert (Order.objects.count(), OutboxEvent.objects.count()) == before
    check_invariant(merchant_a)


def test_batch_reports_invalid_orders_and_imports_the_rest(
    merchant_a, stocked, django_capture_on_commit_callbacks
):
    bad = canonical("", lines=(("TENT", 1),))
    with django_capture_on_commit_callbacks(execute=True):
        results = order_import_many(merchant=merchant_a, orders=[bad, canonical("OK-1")])
    assert results[0][0] is None
    assert "external_id" in results[0][2]
    assert results[1][1] is True
    assert Order.objects.get().status == "released"
