"""Branded error pages: 403 (with the warehouse-staff wording on floor screens), 404, 500 and 400 render our
own HTML with DEBUG off, and the 500/400 pages need no request context and no database."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousOperation
from django.template.loader import render_to_string
from django.test import Client
from django.urls import path

from accounts.models import User
from inventory.models import Warehouse

BRAND = '<header><a href="/">Fulfil</a></header>'


def _boom(request):
    raise RuntimeError("kaboom: internal detail that must not reach the page")


def _suspicious(request):
    raise SuspiciousOperation("tampered")


# This module doubles as the URLconf of the 500/400 tests (``pytest.mark.urls(__name__)``).
urlpatterns = [path("boom/", _boom), path("suspicious/", _suspicious)]


def broken_context_processor(request):
    raise RuntimeError("the request context is broken")


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/app/warehouse/inbound/floor/", "/app/warehouse/"])
def test_merchant_on_a_warehouse_floor_screen_gets_the_branded_403(client_a, url):
    response = client_a.get(url)
    body = response.content.decode()
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert BRAND in body
    assert "This screen is for warehouse staff" in body
    assert "Your orders,\n    stock and shipments are on your dashboard." in body
    assert '<a class="button" href="/app/">Go to your dashboard</a>' in body
    assert "You work in" not in body


@pytest.mark.django_db
def test_merchant_on_an_operator_carrier_screen_gets_the_branded_403_with_the_reason(client_a):
    response = client_a.get("/app/integrations/carriers/operator/accounts/")
    body = response.content.decode()
    assert response.status_code == 403
    assert BRAND in body
    assert "You don't have access to this page" in body
    assert "Operator carrier accounts and scan forms are managed by Fulfil&#x27;s operator staff." in body


@pytest.mark.django_db
def test_staff_of_another_warehouse_are_told_which_warehouse_and_their_own(client):
    Warehouse.objects.create(code="WH1", name="Main")
    Warehouse.objects.create(code="WH2", name="West")
    associate = User.objects.create_user(
        "picker@fulfil.example",
        "pw-associate-123",
        operator_role=User.OperatorRole.ASSOCIATE,
        warehouse_codes=["WH1"],
    )
    client.force_login(associate)
    response = client.get("/app/warehouse/?wh=WH2")
    body = response.content.decode()
    assert response.status_code == 403
    assert BRAND in body
    assert "You can't use this screen" in body
    assert "<p>You are not assigned to warehouse WH2.</p>" in body
    assert "<p>You work in WH1.</p>" in body
    assert '<a class="button" href="/app/warehouse/">Go to your warehouse screens</a>' in body


@pytest.mark.django_db
def test_unknown_url_gets_the_branded_404(client):
    response = client.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert BRAND in body
    assert "We couldn't find that page" in body
    assert "<code>/no/such/page/</code>" in body
    assert '<a class="button secondary" href="/accounts/login/">Log in</a>' in body


@pytest.mark.django_db
def test_unknown_url_when_logged_in_offers_the_dashboard(client_a):
    response = client_a.get("/app/definitely-not-here/")
    assert response.status_code == 404
    assert '<a class="button" href="/app/">Go to your dashboard</a>' in response.content.decode()


@pytest.mark.urls(__name__)
def test_unhandled_error_renders_the_branded_500_with_debug_off(settings):
    assert settings.DEBUG is False
    response = Client(raise_request_exception=False).get("/boom/")
    body = response.content.decode()
    assert response.status_code == 500
    assert BRAND in body
    assert "Something went wrong on our side" in body
    assert "kaboom" not in body
    assert "RuntimeError" not in body


@pytest.mark.urls(__name__)
def test_500_renders_when_the_request_context_is_broken(settings):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {"context_processors": [f"{__name__}.broken_context_processor"]},
        }
    ]
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_500_and_400_templates_need_no_context_and_no_database():
    # No django_db mark: any query here would fail the test.
    for name, heading in (
        ("500.html", "Something went wrong on our side"),
        ("400.html", "We couldn't understand that request"),
    ):
        html = render_to_string(name)
        assert BRAND in html
        assert heading in html


@pytest.mark.urls(__name__)
def test_suspicious_request_gets_the_branded_400():
    response = Client().get("/suspicious/")
    assert response.status_code == 400
    assert "We couldn't understand that request" in response.content.decode()
