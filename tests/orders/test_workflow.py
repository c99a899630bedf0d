"""The state machine: every transition, and every refusal (IllegalTransition, nothing changed)."""

from decimal import Decimal

import pytest

from fulfil.audit import audit_list
from fulfil.models import OutboxEvent
from orders.exceptions import IllegalTransition
from orders.models import Order, OrderLine
from orders.models import OrderStatus as S
from orders.services import (
    order_cancel,
    order_hold,
    order_mark_delivered,
    order_mark_packed,
    order_mark_shipped,
    order_release,
    order_start_picking,
    order_unhold,
    workflow,
)
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db

TRANSITIONS = {
    "release": order_release,
    "start_picking": order_start_picking,
    "mark_packed": order_mark_packed,
    "mark_shipped": order_mark_shipped,
    "mark_delivered": order_mark_delivered,
    "hold": order_hold,
    "unhold": order_unhold,
    "cancel": order_cancel,
}


def make_order(merchant, status, *, allocated=True):
    order = Order.objects.create(
        merchant=merchant, external_id=f"E-{status}", status=status, total=Decimal("20.00")
    )
    OrderLine.objects.create(
        order=order,
        sku="SKU",
        quantity=2,
        unit_price=Decimal("10.00"),
        allocated_quantity=2 if allocated else 0,
    )
    return order


REFUSALS = [
    (action, status)
    for action in TRANSITIONS
    for status in S.values
    if status not in workflow.ALLOWED_FROM[action]
]


@pytest.mark.parametrize(("action", "status"), REFUSALS, ids=[f"{a}-from-{s}" for a, s in REFUSALS])
def test_illegal_transition_is_refused_and_changes_nothing(merchant_a, action, status):
    order = make_order(merchant_a, status)
    events, audits = OutboxEvent.objects.count(), audit_list(obj_type="order", obj_id=order.pk).count()
    with pytest.raises(IllegalTransition) as info:
        TRANSITIONS[action](order=order)
    assert status.replace("_", " ") in str(info.value)
    order.refresh_from_db()
    assert order.status == status
    assert OutboxEvent.objects.count() == events
    assert audit_list(obj_type="order", obj_id=order.pk).count() == audits


def test_release_refused_when_not_fully_allocated(merchant_a):
    order = make_order(merchant_a, S.ALLOCATED, allocated=False)
    with pytest.raises(IllegalTransition, match="Not every line is allocated"):
        order_release(order=order)
    order.refresh_from_db()
    assert order.status == S.ALLOCATED


def test_happy_path_through_every_warehouse_transition(merchant_a):
    order = make_order(merchant_a, S.ALLOCATED)
    order_release(order=order)
    assert order.status == S.RELEASED
    assert order.released_at is not None
    order_start_picking(order=order)
    assert order.status == S.PICKING
    order_mark_packed(order=order)
    assert order.status == S.PACKED
    order_mark_shipped(order=order, shipment_id=77)
    assert order.status == S.SHIPPED
    assert order.shipped_at is not None
    assert order.lines.get().shipped_quantity == 2
    order_mark_delivered(order=order)
    assert order.status == S.DELIVERED
    history = [e.action for e in audit_list(obj_type="order", obj_id=order.pk)]
    assert history == [
        "order.release",
        "order.start_picking",
        "order.mark_packed",
        "order.mark_shipped",
        "order.mark_delivered",
    ]
    changed = list(
        OutboxEvent.objects.filter(event_type="order.status_changed").values_list("payload", flat=True)
    )
    assert [(p["from"], p["to"]) for p in changed] == [
        ("allocated", "released"),
        ("released", "picking"),
        ("picking", "packed"),
        ("packed", "shipped"),
        ("shipped", "delivered"),
    ]
    shipped = OutboxEvent.objects.get(event_type="order.shipped").payload
    assert shipped == {
        "order_id": order.pk,
        "merchant_id": merchant_a.pk,
        "shipment_id": 77,
        "partial": False,
    }


def test_partial_shipment_then_rest(merchant_a):
    order = make_order(merchant_a, S.PACKED)
    line = order.lines.get()
    order_mark_shipped(order=order, lines={line.pk: 1})
    assert order.status == S.PARTIALLY_SHIPPED
    order_start_picking(order=order)
    order_mark_packed(order=order)
    order_mark_shipped(order=order)
    assert order.status == S.SHIPPED
    line.refresh_from_db()
    assert line.shipped_quantity == 2


def test_mark_shipped_with_nothing_to_ship_is_refused(merchant_a):
    order = make_order(merchant_a, S.PACKED)
    with pytest.raises(IllegalTransition, match="Nothing left to ship"):
        order_mark_shipped(order=order, lines={})
    order.refresh_from_db()
    assert order.status == S.PACKED


@pytest.mark.parametrize("status", [S.ALLOCATED, S.BACKORDERED, S.RELEASED, S.VALIDATED, S.EXCEPTION, S.NEW])
def test_hold_and_unhold_return_to_a_consistent_state(merchant_a, status):
    order = make_order(merchant_a, status)
    order_hold(order=order, reason="customer called")
    assert order.status == S.ON_HOLD
    assert order.held_from_status == status
    order_unhold(order=order)
    expected = {S.ALLOCATED: S.ALLOCATED, S.BACKORDERED: S.ALLOCATED, S.RELEASED: S.RELEASED}.get(
        status, S.NEW
    )
    assert order.status == expected
    assert order.held_from_status == ""


@pytest.mark.parametrize("status", sorted(workflow.BEFORE_PICKING))
def test_cancel_from_every_state_before_picking(merchant_a, status):
    order = make_order(merchant_a, status)
    order_cancel(order=order, reason="customer asked")
    assert order.status == S.CANCELLED
    assert order.refund_due == Decimal("20.00")
    assert order.lines.get().cancelled_quantity == 2
    assert OutboxEvent.objects.filter(event_type="order.cancelled").count() == 1


@pytest.mark.parametrize("status", [S.PICKING, S.PACKED])
def test_cancel_after_picking_says_what_can_still_be_done(merchant_a, status):
    order = make_order(merchant_a, status)
    with pytest.raises(IllegalTransition, match="intercept"):
        order_cancel(order=order)
    order.refresh_from_db()
    assert order.status == status
    assert order.lines.get().cancelled_quantity == 0


def test_import_then_cancel_on_channel(merchant_a, stocked, run_import):
    from orders.models import Order as O

    order = run_import(merchant_a, canonical())
    assert order.status == "released"
    cancelled = run_import(merchant_a, canonical(status="cancelled"))
    assert cancelled.pk == order.pk
    assert O.objects.get(pk=order.pk).status == "cancelled"
