"""The shipments API (tenant-scoped, paginated, with tracking events), the rate quote endpoint, and the
carrier screens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.carriers import selectors, services
from integrations.carriers.exceptions import ShipmentStateError
from integrations.carriers.models import CarrierAccount, RateQuote, Shipment, TrackingEvent

from .conftest import BOX, WAREHOUSE, make_account, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def bought(merchant_a, order_a, four_accounts, fake_easypost):
    return services.shipment_buy_label(
        merchant=merchant_a, order=order_a, parcel=BOX, from_warehouse=WAREHOUSE
    )


def test_shipments_api_lists_with_filters_and_tracking_events(api_a, api_b, bought, order_a):
    TrackingEvent.objects.create(
        merchant=bought.merchant, shipment=bought, status="in_transit", message="Picked up", fingerprint="x"
    )
    response = api_a.get("/api/v1/shipments/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    item = data["results"][0]
    assert item["order"] == order_a.pk
    assert (item["carrier"], item["service"], item["status"]) == ("usps", "GroundAdvantage", "purchased")
    assert item["tracking_number"] == bought.tracking_number
    assert item["label_url"] == bought.label_url
    assert (item["rate"], item["currency"]) == ("6.07", "USD")
    assert item["tracking_events"] == [
        {"status": "in_transit", "message": "Picked up", "location": "", "occurred_at": None}
    ]
    assert api_a.get(f"/api/v1/shipments/?order={order_a.pk}").json()["count"] == 1
    assert api_a.get(f"/api/v1/shipments/?tracking_number={bought.tracking_number}").json()["count"] == 1
    assert api_a.get("/api/v1/shipments/?tracking_number=nope").json()["count"] == 0
    assert api_a.get("/api/v1/shipments/?order=abc").status_code == 400
    assert api_b.get("/api/v1/shipments/").json()["count"] == 0
    assert api_b.get(f"/api/v1/shipments/{bought.pk}/").status_code == 404


def test_void_over_the_api_and_409_when_not_allowed(api_a, bought):
    response = api_a.post(f"/api/v1/shipments/{bought.pk}/void/")
    assert response.status_code == 200
    assert response.json()["status"] == "voided"
    Shipment.objects.filter(pk=bought.pk).update(status=Shipment.Status.DELIVERED)
    response = api_a.post(f"/api/v1/shipments/{bought.pk}/void/")
    assert response.status_code == 409
    assert response.json()["detail"] == "a label that is delivered cannot be voided"


def test_rate_quote_api(api_a, merchant_a, four_accounts):
    from inventory.models import Warehouse

    Warehouse.objects.create(
        code="EAST",
        name="East",
        street1="179 N Harbor Dr",
        city="Redondo Beach",
        state="CA",
        postal_code="90277",
    )
    body = {
        "weight_g": 437,
        "length_mm": 254,
        "width_mm": 203,
        "height_mm": 102,
        "service_level": "expedited",
        "to": {"street1": "388 Townsend St", "city": "San Francisco", "state": "CA", "postal_code": "94107"},
    }
    response = api_a.post("/api/v1/rates/", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["chosen"]["carrier"] == "usps"
    assert data["chosen"]["service"] == "Priority"
    assert data["reason"].startswith("cheapest within 2 day(s)")
    assert api_a.post("/api/v1/rates/", {"weight_g": 0, "to": {}}, format="json").status_code == 400


def test_schema_describes_the_carrier_endpoints(api_a):
    schema = api_a.get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/shipments/",
        "/api/v1/shipments/{shipment_id}/",
        "/api/v1/shipments/{shipment_id}/void/",
        "/api/v1/rates/",
    ):
        assert path in schema["paths"], path


def test_add_test_disable_a_bring_your_own_account(client_a, merchant_a, fake_easypost):
    response = client_a.post(
        "/app/integrations/carriers/accounts/new/",
        {
            "name": "My UPS",
            "carrier": "ups",
            "api_key": "EZTK-my-ups",
            "mode": "production",
            "enabled_services": "Ground, 2ndDayAir",
            "markup_percent": "0",
            "markup_flat": "0.50",
            "package_length_mm": "300",
            "package_width_mm": "200",
            "package_height_mm": "100",
            "label_format": "ZPL",
            "timeout_seconds": "5",
        },
    )
    assert response.status_code == 302
    account = CarrierAccount.objects.get(name="My UPS")
    assert account.merchant == merchant_a
    assert account.api_key == "EZTK-my-ups"
    assert account.enabled_services == ["Ground", "2ndDayAir"]
    assert account.default_package == {"length_mm": 300, "width_mm": 200, "height_mm": 100}
    assert account.label_format == "ZPL"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("select api_key from carriers_carrieraccount where id = %s", [account.pk])
        assert "EZTK" not in cursor.fetchone()[0]  # encrypted at rest

    response = client_a.post(
        f"/app/integrations/carriers/accounts/{account.pk}/test/", HTTP_HX_REQUEST="true"
    )
    assert "connected as Fake EasyPost" in response.content.decode()
    account.refresh_from_db()
    assert account.last_test_ok is True

    client_a.post(f"/app/integrations/carriers/accounts/{account.pk}/toggle/")
    account.refresh_from_db()
    assert account.is_enabled is False
    page = client_a.get("/app/integrations/carriers/accounts/").content.decode()
    assert "My UPS" in page
    assert "disabled" in page


def test_operator_accounts_are_not_a_merchants_to_change(client_a, fake_easypost):
    operator_account = make_account(fake_easypost, carrier="usps")
    assert client_a.get(f"/app/integrations/carriers/accounts/{operator_account.pk}/").status_code == 404
    assert (
        client_a.post(f"/app/integrations/carriers/accounts/{operator_account.pk}/toggle/").status_code == 404
    )
    assert CarrierAccount.objects.get(pk=operator_account.pk).is_enabled is True
    assert client_a.get("/app/integrations/carriers/operator/accounts/").status_code == 403


def test_rates_comparison_page(client_a, four_accounts):
    from inventory.models import Warehouse

    Warehouse.objects.create(
        code="EAST",
        name="East",
        street1="179 N Harbor Dr",
        city="Redondo Beach",
        state="CA",
        postal_code="90277",
    )
    response = client_a.post(
        "/app/integrations/carriers/rates/",
        {
            "weight_g": "437",
            "length_mm": "254",
            "width_mm": "203",
            "height_mm": "102",
            "street1": "388 Townsend St",
            "city": "San Francisco",
            "state": "CA",
            "postal_code": "94107",
            "country": "US",
            "service_level": "standard",
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # the partial only
    assert "Chosen:</strong> cheapest: USPS GroundAdvantage 6.07 USD, 3 day(s)" in html
    assert "FEDEX_2_DAY" in html
    assert "18.40 USD" in html


def test_shipment_pages_and_void_button(client_a, bought):
    assert bought.tracking_number in client_a.get("/app/integrations/carriers/shipments/").content.decode()
    detail = client_a.get(f"/app/integrations/carriers/shipments/{bought.pk}/").content.decode()
    assert "cheapest: USPS GroundAdvantage" in detail
    assert "Void label" in detail
    client_a.post(f"/app/integrations/carriers/shipments/{bought.pk}/void/")
    assert Shipment.objects.get(pk=bought.pk).status == "voided"


def test_rule_page_saves_the_rule(client_a, merchant_a):
    response = client_a.post(
        "/app/integrations/carriers/rules/standard/", {"rule": "cheapest_within", "max_days": "3"}
    )
    assert response.status_code == 302
    rule = selectors.shipping_rule_for(merchant=merchant_a, service_level="standard")
    assert (rule.rule, rule.max_days) == ("cheapest_within", 3)
    response = client_a.post("/app/integrations/carriers/rules/standard/", {"rule": "preferred"})
    assert "needs a carrier" in response.content.decode()


def test_address_proposal_page_accept(client_a, merchant_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    order = make_order(merchant_a, external_id="2001", status="validated")
    fake_easypost.address_corrections["388 TOWNSEND ST"] = {"zip": "94158"}
    proposal = services.address_verify(merchant=merchant_a, address=order, order=order)
    page = client_a.get("/app/integrations/carriers/addresses/").content.decode()
    assert "388 TOWNSEND ST APT 20" in page
    assert "Use correction" in page
    client_a.post(f"/app/integrations/carriers/addresses/{proposal.pk}/decide/", {"accept": "1"})
    order.refresh_from_db()
    assert order.ship_to_postal_code == "94158"
    assert Decimal("0") == Decimal("0")


def test_rate_quote_api_names_a_missing_ship_from_warehouse(api_a, merchant_a, four_accounts):
    from inventory.models import Warehouse

    body = {
        "weight_g": 437,
        "length_mm": 254,
        "width_mm": 203,
        "height_mm": 102,
        "to": {"street1": "388 Townsend St", "city": "San Francisco", "state": "CA", "postal_code": "94107"},
    }
    response = api_a.post("/api/v1/rates/", body, format="json")
    assert (response.status_code, response.json()["warehouse"]) == (400, ["no warehouse to ship from"])
    Warehouse.objects.create(code="EAST", name="East", postal_code="90277")
    response = api_a.post("/api/v1/rates/", {**body, "warehouse": "WEST"}, format="json")
    assert (response.status_code, response.json()["warehouse"]) == (400, ["unknown warehouse"])
    assert RateQuote.objects.count() == 0


def test_label_without_a_warehouse_to_ship_from_is_refused(merchant_a, four_accounts):
    order = make_order(merchant_a)
    with pytest.raises(ShipmentStateError, match=r"^no warehouse to ship from$"):
        services.shipment_buy_label(merchant=merchant_a, order=order, parcel=BOX)
    assert (Shipment.objects.get().status, Shipment.objects.get().tracking_number) == (
        Shipment.Status.NEW,
        "",
    )
