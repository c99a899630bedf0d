"""API: vendors, purchase orders, returns."""

from decimal import Decimal

import pytest

from orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db


def test_vendor_po_and_return_api(api_a, api_b, merchant_a, wh, products):
    r = api_a.post(
        "/api/v1/vendors/", {"name": "Summit", "lead_time_days": 21}, format="json", HTTP_IDEMPOTENCY_KEY="v1"
    )
    assert r.status_code == 201, r.content
    again = api_a.post(
        "/api/v1/vendors/", {"name": "Summit", "lead_time_days": 21}, format="json", HTTP_IDEMPOTENCY_KEY="v1"
    )
    assert again.status_code == 201
    assert again.json()["id"] == r.json()["id"]
    vendor_id = r.json()["id"]
    assert api_b.get(f"/api/v1/vendors/{vendor_id}/").status_code == 404
    po = api_a.post(
        "/api/v1/purchase-orders/",
        {
            "number": "PO-1",
            "vendor": vendor_id,
            "warehouse": wh.code,
            "lines": [{"sku": "MUG", "quantity_ordered": 5, "unit_cost": "1.50"}],
        },
        format="json",
    )
    assert po.status_code == 201, po.content
    assert po.json()["lines"][0]["quantity_ordered"] == 5
    bad = api_a.post(
        "/api/v1/purchase-orders/",
        {
            "number": "PO-2",
            "vendor": vendor_id,
            "warehouse": wh.code,
            "lines": [{"sku": "NOPE", "quantity_ordered": 5}],
        },
        format="json",
    )
    assert bad.status_code == 400
    order = Order.objects.create(merchant=merchant_a, external_id="E1", number="1", status="shipped")
    OrderLine.objects.create(
        order=order,
        product=products["mug"],
        sku="MUG",
        quantity=2,
        shipped_quantity=2,
        unit_price=Decimal("9.00"),
    )
    ret = api_a.post(
        "/api/v1/returns/",
        {"order": order.pk, "reason": "wrong_item", "lines": [{"sku": "MUG", "quantity": 1}]},
        format="json",
    )
    assert ret.status_code == 201, ret.content
    assert ret.json()["number"] == "RMA-00001"
    assert (
        api_b.post(
            "/api/v1/returns/",
            {"order": order.pk, "reason": "wrong_item", "lines": [{"sku": "MUG", "quantity": 1}]},
            format="json",
        ).status_code
        == 400
    )


def test_schema_lists_inbound_endpoints(api_a):
    body = api_a.get("/api/v1/schema/").content.decode()
    for path in ("/api/v1/vendors/", "/api/v1/purchase-orders/", "/api/v1/returns/{id}/"):
        assert path in body
