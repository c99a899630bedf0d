"""Shopify's mandatory privacy webhooks, honoured: customers/redact and shop/redact erase the customer's
personal data on our orders (orders in flight wait until they ship), customers/data_request gives the merchant
an export to download and an email. Signed webhooks through the inbox, and the service directly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail

from integrations import privacy
from integrations.models import PrivacyRequest, WebhookInbox
from orders.models import Order, OrderLine
from orders.models import OrderStatus as S
from orders.services import order_mark_shipped
from orders.services.redaction import REDACTED
from tests.channels.fakes.shopify import webhook

pytestmark = pytest.mark.django_db
URL = "/integrations/shopify/webhooks/"
EMAIL = "bob@mail.example.com"


def shop_order(conn, external_id: str, *, status=S.SHIPPED, email=EMAIL) -> Order:
    order = Order.objects.create(
        merchant=conn.merchant,
        channel="shopify",
        channel_account=conn.account_id,
        external_id=external_id,
        number=f"#{external_id}",
        status=status,
        customer_name="Bob Norman",
        customer_email=email,
        ship_to_name="Bob Norman",
        ship_to_street1="Chestnut Street 92",
        ship_to_city="Louisville",
        ship_to_state="KY",
        ship_to_postal_code="40202",
        ship_to_country="US",
        ship_to_phone="555-625-1199",
        ship_to_email=email,
        total=Decimal("30.00"),
        raw={"id": int(external_id), "email": email, "customer": {"first_name": "Bob", "email": email}},
    )
    OrderLine.objects.create(order=order, sku="IPOD", quantity=1, unit_price=Decimal("30.00"))
    return order


def deliver(client, conn, secret, topic, payload, event_id, capture):
    body, headers = webhook(topic, payload, secret=secret, shop=conn.account_id, event_id=event_id)
    with capture(execute=True):
        response = client.generic("POST", URL, body, content_type="application/json", **headers)
    assert response.status_code == 200
    return response


def test_customers_redact_webhook_erases_the_customer_on_our_orders(
    client, shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    mine = shop_order(shopify_conn, "1001")
    someone_else = shop_order(shopify_conn, "1002", email="ann@mail.example.com")
    payload = {
        "shop_id": 954889,
        "shop_domain": shopify_conn.account_id,
        "customer": {"id": 191167, "email": EMAIL, "phone": "555-625-1199"},
        "orders_to_redact": [1001],
    }
    deliver(
        client,
        shopify_conn,
        shopify_secret,
        "customers/redact",
        payload,
        "ev-r1",
        django_capture_on_commit_callbacks,
    )
    mine.refresh_from_db()
    assert (mine.customer_name, mine.customer_email, mine.ship_to_name, mine.ship_to_street1) == (
        REDACTED,
        "",
        REDACTED,
        REDACTED,
    )
    assert (mine.ship_to_city, mine.ship_to_phone, mine.ship_to_postal_code, mine.ship_to_state) == (
        REDACTED,
        "",
        "402",
        "KY",
    )
    assert mine.raw == {"id": 1001, "email": REDACTED, "customer": REDACTED}
    assert (mine.number, mine.total, list(mine.lines.values_list("sku", "quantity"))) == (
        "#1001",
        Decimal("30.00"),
        [("IPOD", 1)],
    )
    someone_else.refresh_from_db()
    assert someone_else.ship_to_name == "Bob Norman"
    req = PrivacyRequest.objects.get()
    assert req.kind == "customer_redact"
    assert req.result.startswith("redacted 1 orders")
    assert req.completed_at is not None
    assert WebhookInbox.objects.get(event_id="ev-r1").status == "done"
    # Shopify re-delivers the same event: nothing more happens
    deliver(
        client,
        shopify_conn,
        shopify_secret,
        "customers/redact",
        payload,
        "ev-r1",
        django_capture_on_commit_callbacks,
    )
    assert PrivacyRequest.objects.count() == 1
    assert WebhookInbox.objects.count() == 1


def test_shop_redact_webhook_erases_every_customer_of_the_shop(
    client, shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    a = shop_order(shopify_conn, "2001")
    b = shop_order(shopify_conn, "2002", email="ann@mail.example.com")
    payload = {"shop_id": 954889, "shop_domain": shopify_conn.account_id}
    deliver(
        client,
        shopify_conn,
        shopify_secret,
        "shop/redact",
        payload,
        "ev-s1",
        django_capture_on_commit_callbacks,
    )
    for order in (a, b):
        order.refresh_from_db()
        assert (order.ship_to_name, order.customer_email) == (REDACTED, "")
    assert PrivacyRequest.objects.get().result.startswith("redacted 2 orders")


def test_data_request_webhook_is_recorded_and_the_export_downloads(
    client, client_a, shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    order = shop_order(shopify_conn, "3001")
    payload = {
        "shop_id": 954889,
        "shop_domain": shopify_conn.account_id,
        "customer": {"id": 191167, "email": EMAIL},
        "orders_requested": [3001],
        "data_request": {"id": 9999},
    }
    deliver(
        client,
        shopify_conn,
        shopify_secret,
        "customers/data_request",
        payload,
        "ev-d1",
        django_capture_on_commit_callbacks,
    )
    req = PrivacyRequest.objects.get()
    assert (req.kind, req.customer_email, req.order_ids) == ("data_request", EMAIL, ["3001"])
    detail = client_a.get(f"/app/integrations/{shopify_conn.pk}/").content.decode()
    assert "A customer has asked for the personal data held about them" in detail
    page = client_a.get(f"/app/integrations/{shopify_conn.pk}/privacy/")
    assert page.status_code == 200
    assert EMAIL in page.content.decode()
    response = client_a.get(f"/app/integrations/{shopify_conn.pk}/privacy/{req.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="customer-data-request-{req.pk}.json"'
    data = json.loads(response.content)
    assert [o["channel_order_id"] for o in data["orders"]] == ["3001"]
    assert data["orders"][0]["ship_to"] == order.ship_to
    assert data["orders"][0]["customer"] == {"name": "Bob Norman", "email": EMAIL}


# --- the service directly (what the inbox calls once wired to it) --------------------------------------


def test_data_request_compiles_the_export_and_emails_the_merchant_once(
    shopify_conn, user_a, django_capture_on_commit_callbacks
):
    shop_order(shopify_conn, "4001")
    with django_capture_on_commit_callbacks(execute=True):
        req = privacy.privacy_request_process(
            connection=shopify_conn, kind="data_request", email=EMAIL, order_ids=["4001"], event_id="ev-d2"
        )
    assert [o["number"] for o in req.export["orders"]] == ["#4001"]
    assert req.result.startswith("export ready: 1 orders")
    assert req.completed_at is not None
    assert req.notified_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user_a.email]
    assert f"/app/integrations/{shopify_conn.pk}/privacy/" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        again = privacy.privacy_request_process(
            connection=shopify_conn, kind="data_request", email=EMAIL, order_ids=["4001"], event_id="ev-d2"
        )
    assert again.pk == req.pk
    assert PrivacyRequest.objects.count() == 1
    assert len(mail.outbox) == 1


def test_redact_defers_orders_in_flight_until_they_ship_and_erases_stored_webhooks(
    shopify_conn, django_capture_on_commit_callbacks
):
    shipped = shop_order(shopify_conn, "5001")
    packed = shop_order(shopify_conn, "5002", status=S.PACKED)
    for n in (5001, 5002):
        WebhookInbox.objects.create(
            platform="shopify",
            event_id=f"old-{n}",
            account_id=shopify_conn.account_id,
            connection=shopify_conn,
            topic="orders/create",
            body=json.dumps({"id": n, "email": EMAIL}),
            status="done",
        )
    with django_capture_on_commit_callbacks(execute=True):
        req = privacy.privacy_request_process(
            connection=shopify_conn,
            kind="customer_redact",
            email=EMAIL,
            order_ids=["5001", "5002"],
            event_id="ev-r2",
        )
    assert req.deferred_order_ids == [packed.pk]
    assert req.completed_at is None
    assert req.customer_email == "b***@mail.example.com"
    assert req.result == (
        "redacted 1 orders; 1 still in flight, redacted as soon as they ship or are cancelled; "
        "2 stored webhooks erased"
    )
    assert (
        sorted(WebhookInbox.objects.values_list("body", flat=True))
        == ['{"redacted": true, "topic": "orders/create"}'] * 2
    )
    shipped.refresh_from_db()
    packed.refresh_from_db()
    assert (shipped.ship_to_name, packed.ship_to_name) == (REDACTED, "Bob Norman")
    assert privacy.privacy_status(request=req) == "1 orders still in flight — erased as soon as they ship"

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_shipped(order=packed)
    packed.refresh_from_db()
    assert packed.ship_to_name == REDACTED
    # the order.customer_redacted handler has already completed the request; settling again finds nothing
    assert privacy.privacy_requests_settle(merchant_id=shopify_conn.merchant_id) == 0
    req.refresh_from_db()
    assert (req.deferred_order_ids, req.completed_at is not None) == ([], True)
    assert privacy.privacy_status(request=req) == "Done — personal data erased"


def test_shop_redact_also_forgets_the_shops_credentials(shopify_conn):
    shop_order(shopify_conn, "6001")
    req = privacy.privacy_request_process(connection=shopify_conn, kind="shop_redact", event_id="ev-s2")
    assert req.result.startswith("redacted 1 orders")
    shopify_conn.refresh_from_db()
    assert (shopify_conn.access_token, shopify_conn.webhook_secret) == ("", "")


def test_unknown_kind_is_refused_and_records_nothing(shopify_conn):
    with pytest.raises(ValueError):
        privacy.privacy_request_process(connection=shopify_conn, kind="forget_everything", event_id="x")
    assert PrivacyRequest.objects.count() == 0


def test_redact_webhook_for_an_order_in_flight_shows_it_waiting_then_done(
    client, client_a, shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    packed = shop_order(shopify_conn, "7001", status=S.PACKED)
    payload = {
        "shop_id": 954889,
        "shop_domain": shopify_conn.account_id,
        "customer": {"id": 191167, "email": EMAIL},
        "orders_to_redact": [7001],
    }
    deliver(
        client,
        shopify_conn,
        shopify_secret,
        "customers/redact",
        payload,
        "ev-r7",
        django_capture_on_commit_callbacks,
    )
    packed.refresh_from_db()
    assert packed.ship_to_name == "Bob Norman"  # the warehouse still ships it
    req = PrivacyRequest.objects.get()
    assert privacy.privacy_status(request=req) == "1 orders still in flight — erased as soon as they ship"
    assert (
        "1 orders still in flight"
        in client_a.get(f"/app/integrations/{shopify_conn.pk}/privacy/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_mark_shipped(order=packed)
    packed.refresh_from_db()
    assert (packed.ship_to_name, packed.customer_email) == (REDACTED, "")
    assert privacy.privacy_status(request=req) == "Done — personal data erased"
    req.refresh_from_db()
    assert (req.deferred_order_ids, req.completed_at is not None) == ([], True)
