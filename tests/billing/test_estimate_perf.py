"""The per-order cost estimate is on the hot path (every ``order.created``/``order.status_changed``): it reads
the order book twice, takes the card and tier basis from a short memo, and writes with one upsert — and prices
exactly as the uncached reads and the one pricing function do."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import handlers, pricing, selectors, services, sources
from billing.models import OrderCost
from billing.services.activity import _breakdown, _estimate_shipping, order_activities
from fulfil.models import OutboxEvent
from tests.billing.test_activity import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def multi_line_order(merchant_a):
    from inventory.models import Product, Warehouse
    from orders.models import Order, OrderLine

    wh = Warehouse.objects.create(code="COL1", name="Columbus", postal_code="43004", state="OH")
    mug = Product.objects.create(merchant=merchant_a, sku="MUG-1", name="Mug", weight_g=400, length_mm=120,
                                 width_mm=100, height_mm=100, status="active", fragile=True)  # fmt: skip
    order = make_order(merchant_a, mug, qty=2, postal="10001")
    for i, (w, qty) in enumerate(((250, 3), (90, 1))):
        p = Product.objects.create(merchant=merchant_a, sku=f"P-{i}", name="P", weight_g=w, length_mm=200,
                                   width_mm=150, height_mm=60, status="active")  # fmt: skip
        OrderLine.objects.create(order=order, product=p, sku=p.sku, quantity=qty)
    Order.objects.filter(pk=order.pk).update(routing={"warehouse_id": wh.pk})
    return order


def _reference(merchant_id: int, order_id: int, at: datetime) -> dict:
    """The estimate as computed before the memo: uncached card and basis, same pricing function."""
    order = sources.order_get(merchant_id, order_id)
    profile = sources.order_profile(order)
    box = sources.choose_box(profile)
    ship, zone = _estimate_shipping(profile, box)
    card = selectors.card_in_force(merchant_id, at)
    priced = pricing.price(
        order_activities(profile, box=box, carrier_cost=ship.price, shipping_note=ship.service.label),
        card=card, monthly_orders=selectors.volume_basis(merchant_id, at),
    )  # fmt: skip
    extra = {"box": box.code, "service": ship.service.label, "zone": zone, "billable_lb": ship.billable_lb,
             "days": ship.days, "dest_zip": profile.dest_zip[:10], "origin_zip": profile.origin_zip,
             "card": card.label}  # fmt: skip
    return _breakdown(priced, extra)


def test_multi_line_estimate_is_unchanged(merchant_a, multi_line_order, standard_card):
    at = datetime(2026, 11, 15, 12, tzinfo=UTC)
    cost = services.order_cost_estimate(merchant_id=merchant_a.pk, order_id=multi_line_order.pk, at=at)
    assert cost.estimated == _reference(merchant_a.pk, multi_line_order.pk, at)
    est = cost.estimated
    assert (est["box"], est["zone"], est["origin_zip"], est["tier"]) == ("large_box", 4, "43004", "Starter")
    # 6 units: 3.25 + 5 × 0.75 + 6 picks × 0.25; large box 1.45; fragile 0.75; label 0.10 + USPS GA zone 4,
    # 16 lb dimensional 23.95 + 5% markup 1.20
    assert est["by_category"] == {"fulfillment": "8.50", "packaging": "1.45", "surcharges": "0.75",
                                  "shipping": "25.25"}  # fmt: skip
    assert cost.estimated_total == D("35.95")
    # re-estimating (a status change) writes the same row, same values; the actual cost is left alone
    OrderCost.objects.filter(pk=cost.pk).update(actual={"x": 1}, actual_total=D("9.99"))
    again = services.order_cost_estimate(merchant_id=merchant_a.pk, order_id=multi_line_order.pk, at=at)
    assert again.pk == cost.pk
    assert again.estimated == est
    assert (again.actual, again.actual_total) == ({"x": 1}, D("9.99"))
    assert OrderCost.objects.count() == 1


def test_contract_card_published_later_is_used_from_its_date(merchant_a, multi_line_order, standard_card):
    before = datetime(2026, 11, 1, tzinfo=UTC)
    after = datetime(2026, 11, 20, tzinfo=UTC)
    first = services.order_cost_estimate(merchant_id=merchant_a.pk, order_id=multi_line_order.pk, at=before)
    services.rate_card_publish(data={"rates": {"fulfillment.order": "2.00"}},
                               effective_from=datetime(2026, 11, 10, tzinfo=UTC), merchant=merchant_a)  # fmt: skip
    at_before = services.order_cost_estimate(
        merchant_id=merchant_a.pk, order_id=multi_line_order.pk, at=before
    )
    at_after = services.order_cost_estimate(merchant_id=merchant_a.pk, order_id=multi_line_order.pk, at=after)
    assert at_before.estimated == first.estimated == _reference(merchant_a.pk, multi_line_order.pk, before)
    assert at_after.estimated == _reference(merchant_a.pk, multi_line_order.pk, after)
    assert at_after.estimated_total == first.estimated_total - D("1.25")


@pytest.mark.usefixtures("standard_card")
def test_estimate_query_count_per_order_event(merchant_a, multi_line_order, django_assert_num_queries):
    event = OutboxEvent(event_type="order.status_changed",
                        payload={"order_id": multi_line_order.pk, "merchant_id": merchant_a.pk,
                                 "from": "validated", "to": "allocated"})  # fmt: skip
    handlers.estimate_on_status_changed(event)  # the memo is warm after the first order of a merchant
    # the order, its lines with their products, the upsert
    with django_assert_num_queries(3):
        handlers.estimate_on_status_changed(event)
    with CaptureQueriesContext(connection) as ctx:
        handlers.estimate_on_created(event)
    assert len(ctx.captured_queries) == 3
