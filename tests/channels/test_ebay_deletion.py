"""eBay marketplace account deletion notifications: the endpoint challenge, ECDSA-signed notices verified with
the key eBay's Notification API serves (fake), deduplicated on the notification id, the deleted buyer's orders
redacted through the order book, a deleted seller's connection forgotten; bad signatures change nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal

import pytest

from integrations.models import ChannelConnection, PrivacyRequest
from orders.models import Order, OrderLine
from orders.models import OrderStatus as S
from orders.services.redaction import REDACTED
from tests.channels.fakes.ebay import FakeEbay

pytestmark = pytest.mark.django_db
URL = "/app/integrations/ebay/account-deletion/"
TOKEN = "fulfil-ebay-deletion-verification-token-0123456789"


@pytest.fixture
def ebay(settings):
    fake = FakeEbay().start()
    settings.EBAY_CLIENT_ID, settings.EBAY_CLIENT_SECRET = fake.client
    settings.EBAY_API_BASE = fake.url
    settings.EBAY_DELETION_VERIFICATION_TOKEN = TOKEN
    settings.EBAY_DELETION_ENDPOINT = "https://fulfil.example.com/app/integrations/ebay/account-deletion/"
    yield fake
    fake.stop()


def ebay_order(merchant, external_id: str, *, username="buyer_1", status=S.SHIPPED) -> Order:
    order = Order.objects.create(
        merchant=merchant,
        channel="ebay",
        channel_account="acme_ebay",
        external_id=external_id,
        number=external_id,
        status=status,
        customer_name="Eve Buyer",
        customer_email=f"{username}@members.ebay.com",
        ship_to_name="Eve Buyer",
        ship_to_street1="2 Elm St",
        ship_to_city="Austin",
        ship_to_state="TX",
        ship_to_postal_code="78701",
        ship_to_email=f"{username}@members.ebay.com",
        total=Decimal("30.00"),
        raw={"orderId": external_id, "buyer": {"username": username}},
    )
    OrderLine.objects.create(order=order, sku="EBAY-1", quantity=1, unit_price=Decimal("25.00"))
    return order


def notice(username="buyer_1", notification_id=None) -> bytes:
    return json.dumps(
        {
            "metadata": {
                "topic": "MARKETPLACE_ACCOUNT_DELETION",
                "schemaVersion": "1.0",
                "deprecated": False,
            },
            "notification": {
                "notificationId": notification_id or str(uuid.uuid4()),
                "eventDate": "2026-11-29T06:00:00.000Z",
                "publishDate": "2026-11-29T06:00:01.000Z",
                "publishAttemptCount": 1,
                "data": {
                    "username": username,
                    "userId": "ma8vp1jySJC",
                    "eiasToken": "nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6w",
                },
            },
        }
    ).encode()


def post(client, body: bytes, signature: str):
    return client.generic("POST", URL, body, content_type="application/json", HTTP_X_EBAY_SIGNATURE=signature)


def test_challenge_answers_the_documented_hash(client, ebay, settings):
    response = client.get(URL, {"challenge_code": "a8628072-3d33-45ee-9004-bee86830a22d"})
    assert response.status_code == 200
    expected = hashlib.sha256(
        ("a8628072-3d33-45ee-9004-bee86830a22d" + TOKEN + settings.EBAY_DELETION_ENDPOINT).encode()
    ).hexdigest()
    assert response.json() == {"challengeResponse": expected}


def test_signed_notice_redacts_the_buyers_orders_at_every_merchant_once(
    client, ebay, merchant_a, merchant_b, django_capture_on_commit_callbacks
):
    a = ebay_order(merchant_a, "12-00001-00001")
    b = ebay_order(merchant_b, "12-00002-00001")
    in_flight = ebay_order(merchant_a, "12-00003-00001", status=S.PICKING)
    other_buyer = ebay_order(merchant_a, "12-00004-00001", username="buyer_2")
    body = notice(notification_id="n-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, ebay.sign(body))
    assert response.status_code == 204
    for order in (a, b):
        order.refresh_from_db()
        assert (order.customer_name, order.ship_to_street1, order.customer_email) == (REDACTED, REDACTED, "")
        assert order.raw == {"orderId": order.external_id, "buyer": REDACTED}
    in_flight.refresh_from_db()
    other_buyer.refresh_from_db()
    assert in_flight.ship_to_street1 == "2 Elm St"  # redacted once it ships
    assert other_buyer.ship_to_street1 == "2 Elm St"
    requests = {r.merchant_id: r for r in PrivacyRequest.objects.all()}
    assert sorted(requests) == sorted([merchant_a.pk, merchant_b.pk])
    assert sorted(requests[merchant_a.pk].order_ids) == ["12-00001-00001", "12-00003-00001"]
    assert requests[merchant_a.pk].event_id == f"n-1:{merchant_a.pk}"
    assert requests[merchant_b.pk].kind == "customer_redact"
    # eBay re-sends the same notice: nothing new, and the key came from the cache
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, ebay.sign(body)).status_code == 204
    assert PrivacyRequest.objects.count() == 2
    assert ebay.key_fetches == 1


def test_bad_signature_is_refused_and_changes_nothing(
    client, ebay, merchant_a, django_capture_on_commit_callbacks
):
    order = ebay_order(merchant_a, "12-00005-00001")
    body = notice()
    tampered = body.replace(b"buyer_1", b"buyer_9")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, tampered, ebay.sign(body)).status_code == 412
        assert post(client, body, "not-base64!").status_code == 412
        assert post(client, body, ebay.sign(body, key_id="unknown-key")).status_code == 412
    order.refresh_from_db()
    assert order.ship_to_name == "Eve Buyer"
    assert PrivacyRequest.objects.count() == 0


def test_deleted_seller_account_forgets_the_connection(
    client, ebay, merchant_a, django_capture_on_commit_callbacks
):
    conn = ChannelConnection.objects.create(
        merchant=merchant_a,
        platform="ebay",
        account_id="acme_ebay",
        status="active",
        access_token="v^1.1#i^1#access",
        refresh_token="v^1.1#i^1#r^1#refresh",
        credentials='{"refresh_token": "v^1.1#i^1#r^1#refresh"}',
    )
    body = notice(username="acme_ebay")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, ebay.sign(body)).status_code == 204
    conn.refresh_from_db()
    assert (conn.status, conn.access_token, conn.refresh_token, conn.credentials) == ("disabled", "", "", "")
    assert conn.status_reason == "The eBay account was deleted on eBay"
