"""The public calculator: no account, HTMX partial, save and share, the API with no authentication."""

from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from billing.models import SavedEstimate

pytestmark = pytest.mark.django_db

PARAMS = {
    "monthly_orders": "800", "units_per_order": "2", "weight": "300", "weight_unit": "g", "length": "15",
    "width": "10", "height": "5", "length_unit": "cm", "destinations": "zone 2, zone 5, zone 8", "pallets": "2",
    "speed": "standard",
}  # fmt: skip


def test_visitor_sees_calculator_without_account(client):
    response = client.get("/pricing/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Exactly what fulfillment costs" in body
    assert 'hx-trigger="input changed delay:300ms' in body
    assert "<svg" in body  # the default inputs are already quoted


def test_htmx_request_gets_only_the_results_fragment(client):
    response = client.get("/pricing/", PARAMS, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'data-testid="per-order">$12.66<' in body  # 12.60 per order + 0.06 storage share
    assert 'data-testid="monthly">$10133.20<' in body
    assert 'data-testid="tier">Growth<' in body
    assert response["Vary"].count("HX-Request") == 1


def test_invalid_input_shows_errors_not_a_500(client):
    response = client.get("/pricing/", {**PARAMS, "monthly_orders": "-3", "destinations": "nowhere"})
    assert response.status_code == 200
    assert "Fix the highlighted inputs" in response.content.decode()


def test_save_and_share_then_claim_after_signup(client, client_a, merchant_a):
    response = client.post("/pricing/save/", PARAMS)
    assert response.status_code == 302
    est = SavedEstimate.objects.get()
    assert response["Location"] == f"/pricing/e/{est.token}/"
    assert est.summary["per_order"] == "12.66"
    assert est.summary["monthly"] == "10133.20"
    shared = client.get(response["Location"])
    assert shared.status_code == 200
    assert "$10133.20" in shared.content.decode()
    # after sign-up the merchant adds it to the account and sees it with the rate card history
    page = client_a.post("/app/billing/estimates/", {"token": f"http://x/pricing/e/{est.token}/"})
    assert page.status_code == 302
    est.refresh_from_db()
    assert est.merchant_id == merchant_a.pk
    listing = client_a.get("/app/billing/estimates/").content.decode()
    assert est.token in listing
    assert "Standard" in listing
    assert "v1" in listing


def test_quote_api_needs_no_authentication():
    api = APIClient()
    response = api.post(
        "/api/v1/pricing/quote/",
        {"monthly_orders": 800, "units_per_order": 2, "weight_g": 300, "length_mm": 150, "width_mm": 100,
         "height_mm": 50, "zones": [2, 5, 8], "pallets": "2"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["tier"] == "Growth"
    assert data["currency"] == "USD"
    assert data["per_order"]["total"] == "12.66"
    assert data["monthly"]["total"] == "10133.20"
    assert data["monthly"]["storage"] == "50.00"
    assert data["method"]["code"] == "usps_ground_advantage"
    assert len(data["methods"]) == 8
    assert [t["tier"] for t in data["tiers"]] == ["Starter", "Growth", "Growth", "Scale", "Enterprise"]


def test_quote_api_validates_per_field():
    response = APIClient().post(
        "/api/v1/pricing/quote/", {"monthly_orders": 0, "postal_codes": ["xx"]}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert {"monthly_orders", "weight_g", "postal_codes"} <= set(body)


def test_quote_api_is_throttled_for_anonymous_callers(settings):
    from django.core.cache import cache

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "key": "600/min"},
    }
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = {"anon": "3/min", "key": "600/min"}
    cache.clear()
    try:
        api = APIClient()
        body = {"monthly_orders": 10, "weight_g": 100, "length_mm": 10, "width_mm": 10, "height_mm": 10}
        codes = [api.post("/api/v1/pricing/quote/", body, format="json").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
    finally:
        from rest_framework.settings import api_settings

        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_quote_api_in_schema(client):
    schema = client.get("/api/v1/schema/").content.decode()
    assert "/api/v1/pricing/quote/" in schema
    assert "/api/v1/orders/{order_id}/costs/" in schema
    assert "/api/v1/invoices/{id}/" in schema


def test_published_rates_page(client):
    body = client.get("/pricing/rates/").content.decode()
    assert "USPS Ground Advantage" in body
    assert "Zone 8" in body
    assert str(D("4.75")) in body
