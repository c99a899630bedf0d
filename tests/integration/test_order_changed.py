"""Issue 9: every address or line change emits ``order.changed`` in its own transaction and billing's
estimate follows it."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from billing import shipping
from billing.models import OrderCost
from fulfil.models import OutboxEvent
from orders.exceptions import ChangeRefused
from orders.models import OrderStatus
from orders.services import (
    order_cancel,
    order_change_address,
    order_change_lines,
    order_start_picking,
)
from tests.orders.conftest import LA, canonical

pytestmark = pytest.mark.django_db


def _changed(order) -> list[list[str]]:
    return [
        e.payload["fields"]
        for e in OutboxEvent.objects.filter(event_type="order.changed", payload__order_id=order.pk).order_by(
            "pk"
        )
    ]


def test_address_change_to_another_zone_changes_the_estimate(
    merchant_a, stocked, standard_card, run_import, after_commit
):
    order = run_import(merchant_a, canonical("Z-1"))
    before = OrderCost.objects.get(order_id=order.pk)
    assert before.estimated["dest_zip"] == "02110"
    assert before.estimated["zone"] == shipping.zone_for(before.estimated["origin_zip"], "02110")
    with after_commit():
        order_change_address(order=order, address=dataclasses.asdict(LA))
    event = OutboxEvent.objects.get(event_type="order.changed", payload__order_id=order.pk)
    assert event.payload == {
        "order_id": order.pk,
        "merchant_id": merchant_a.pk,
        "fields": [
            "ship_to_city",
            "ship_to_email",
            "ship_to_name",
            "ship_to_postal_code",
            "ship_to_state",
            "ship_to_street1",
        ],
    }
    assert event.status == OutboxEvent.Status.DONE
    after = OrderCost.objects.get(order_id=order.pk)
    assert after.estimated["dest_zip"] == "90028"
    assert after.estimated["zone"] == shipping.zone_for(after.estimated["origin_zip"], "90028")
    assert after.estimated["zone"] != before.estimated["zone"]
    assert after.estimated_total != before.estimated_total
    assert D(after.estimated["by_category"]["shipping"]) != D(before.estimated["by_category"]["shipping"])


def test_line_change_and_partial_cancel_emit_and_re_estimate(
    merchant_a, stocked, standard_card, run_import, after_commit
):
    order = run_import(merchant_a, canonical("L-1", lines=(("TENT", 1), ("LAMP", 1))))
    first = OrderCost.objects.get(order_id=order.pk).estimated_total
    tent = order.lines.get(sku="TENT")
    with after_commit():
        order_change_lines(order=order, changes=[{"id": tent.pk, "quantity": 3}])
    assert _changed(order) == [["discount_total", "lines", "subtotal", "tax_total", "total"]]
    bigger = OrderCost.objects.get(order_id=order.pk).estimated_total
    assert bigger > first
    with after_commit():
        order_cancel(order=order, lines=[{"id": tent.pk, "quantity": 2}])
    assert _changed(order)[-1] == ["lines", "refund_due"]
    assert OrderCost.objects.get(order_id=order.pk).estimated_total == first


def test_api_patch_and_ui_change_emit_once_each(
    merchant_a, stocked, standard_card, run_import, api_a, client_a
):
    order = run_import(merchant_a, canonical("P-1"))
    resp = api_a.patch(f"/api/v1/orders/{order.pk}/", {"ship_to": {"postal_code": "90028"}}, format="json")
    assert resp.status_code == 200
    assert _changed(order) == [["ship_to_postal_code"]]
    resp = client_a.post(f"/app/orders/{order.pk}/address/", {"postal_code": "10001"})
    assert resp.status_code == 302
    assert _changed(order) == [["ship_to_postal_code"], ["ship_to_postal_code"]]


def test_refused_or_empty_changes_emit_nothing(merchant_a, stocked, run_import, after_commit):
    order = run_import(merchant_a, canonical("R-1"))
    order_change_address(order=order, address={"postal_code": "02110"})  # the same address: no change
    with after_commit():
        order_start_picking(order=order)
    assert order.status == OrderStatus.PICKING
    with pytest.raises(ChangeRefused):
        order_change_address(order=order, address={"postal_code": "90028"})
    assert _changed(order) == []
