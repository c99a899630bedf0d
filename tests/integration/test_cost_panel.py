"""Issue 4 + 9 (US-027): the order page shows billing's estimated cost before shipping and the actual cost
after, line by line — rendered by billing through ``orders.panels``; the fragment is tenant-scoped."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from billing.models import OrderCost
from orders.panels import detail_panels
from orders.services import order_mark_packed, order_mark_shipped, order_start_picking
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db


def _cells(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
        for r in rows
    ]


def test_billing_registers_its_panel():
    assert "billing-cost" in detail_panels()


def test_detail_page_shows_the_estimate_then_the_actual_cost(
    merchant_a, stocked, standard_card, run_import, after_commit, client_a
):
    order = run_import(merchant_a, canonical("C-1", lines=(("TENT", 2),)))
    cost = OrderCost.objects.get(order_id=order.pk)
    est = cost.estimated["by_category"]
    html = client_a.get(f"/app/orders/{order.pk}/").content.decode()
    assert 'id="order-cost"' in html
    cats = _cells(html, "order-cost-categories")
    assert cats[0] == ["Category", "Estimated (before shipping)", "Actual (after shipping)"]
    assert cats[1:5] == [
        ["Fulfillment", est["fulfillment"], "—"],
        ["Packaging", est["packaging"], "—"],
        ["Shipping", est["shipping"], "—"],
        ["Surcharges", est.get("surcharges", "—"), "—"],
    ]
    assert cats[-1] == ["Total USD", str(cost.estimated_total), "—"]
    assert cost.estimated_total == sum((D(v) for v in est.values()), D("0"))
    lines = _cells(html, "order-cost-estimated")[1:]
    assert [(r[0], r[4]) for r in lines] == [(ln["category"], ln["amount"]) for ln in cost.estimated["lines"]]
    assert any(r[0] == "shipping" for r in lines)

    with after_commit():
        order_start_picking(order=order)
        order_mark_packed(order=order)
        order_mark_shipped(order=order)
    cost.refresh_from_db()
    assert cost.actual_total is not None
    act = cost.actual["by_category"]
    html = client_a.get(f"/app/orders/{order.pk}/").content.decode()
    cats = _cells(html, "order-cost-categories")
    assert cats[1][2] == act["fulfillment"]
    assert cats[3][2] == act["shipping"]
    assert cats[-2] == ["Total USD", str(cost.estimated_total), str(cost.actual_total)]
    assert cats[-1] == ["Difference", str(cost.difference)]
    actual_lines = _cells(html, "order-cost-actual")[1:]
    assert len(actual_lines) == len(cost.actual["lines"])
    assert sum((D(r[4]) for r in actual_lines), D("0")) == cost.actual_total


def test_fragment_is_the_same_panel_and_404_for_a_foreign_order(
    merchant_a, merchant_b, stocked, standard_card, run_import, client_a
):
    order = run_import(merchant_a, canonical("C-2"))
    resp = client_a.get(f"/app/billing/orders/{order.pk}/cost/", HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    cost = OrderCost.objects.get(order_id=order.pk)
    assert f'<th id="cost-estimated-total">{cost.estimated_total}</th>' in resp.content.decode()
    from orders.models import Order

    foreign = Order.objects.create(merchant=merchant_b, external_id="b-1", number="B-1")
    assert client_a.get(f"/app/billing/orders/{foreign.pk}/cost/").status_code == 404
    assert client_a.get("/app/billing/orders/999999/cost/").status_code == 404
    assert not OrderCost.objects.filter(order_id=foreign.pk).exists()


def test_a_failing_panel_does_not_break_the_order_page(merchant_a, stocked, run_import, client_a):
    from orders.panels import register_detail_panel, render_detail_panels

    def broken(request, order):
        raise RuntimeError("boom")

    register_detail_panel(broken, key="zz-broken", position=99)
    try:
        order = run_import(merchant_a, canonical("C-3"))
        html = client_a.get(f"/app/orders/{order.pk}/").content.decode()
        assert "This section is unavailable." in html
        assert 'id="order-cost"' in html
    finally:
        from orders import panels

        panels._panels[:] = [p for p in panels._panels if p.key != "zz-broken"]
    assert "zz-broken" not in panels.detail_panels()
    assert render_detail_panels(None, order) != []
