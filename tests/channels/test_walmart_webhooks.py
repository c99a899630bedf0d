"""Walmart order event notifications: subscribed on connecting (Basic auth with the connection's secret),
checked, stored once per event id in the inbox, and the purchase order fetched, acknowledged and imported."""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations import services
from integrations.base import connector_for
from integrations.http import basic_auth
from integrations.models import ChannelConnection, WebhookInbox
from orders.models import Order
from tests.channels.fakes.walmart import FakeWalmart

pytestmark = pytest.mark.django_db


@pytest.fixture
def walmart(merchant_a):
    fake = FakeWalmart().start()
    conn = services.connection_create(
        merchant=merchant_a, platform="walmart", status=ChannelConnection.Status.ACTIVE, **fake.conn_kwargs()
    )
    yield fake, conn
    fake.stop()


def post(client, conn, body: bytes, *, password: str | None = None):
    return client.generic(
        "POST",
        f"/app/integrations/walmart/webhooks/{conn.pk}/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("fulfil", conn.webhook_secret if password is None else password),
    )


def test_connecting_subscribes_the_order_events_with_our_credentials(walmart):
    fake, conn = walmart
    created = connector_for(conn).register_webhooks(
        address="https://fulfil.example.com/integrations/walmart/webhooks/"
    )
    assert created == ["PO_CREATED", "PO_LINE_AUTOCANCELLED"]
    assert [s["eventType"] for s in fake.subscriptions] == ["PO_CREATED", "PO_LINE_AUTOCANCELLED"]
    sub = fake.subscriptions[0]
    assert sub["eventUrl"] == f"https://fulfil.example.com/app/integrations/walmart/webhooks/{conn.pk}/"
    assert (sub["eventVersion"], sub["resourceName"], sub["status"]) == ("V1", "ORDER", "ACTIVE")
    assert sub["authDetails"] == {
        "authMethod": "BASIC_AUTH",
        "userName": "fulfil",
        "password": conn.webhook_secret,
        "authHeaderName": "Authorization",
    }


def test_po_created_event_imports_the_order_once(client, walmart, django_capture_on_commit_callbacks):
    fake, conn = walmart
    fake.add_order(7, sku="WM-1", quantity=2, updated=timezone.now().strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    body = fake.event("1000007", event_id="ev-walmart-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, conn, body).status_code == 200
    order = Order.objects.get(channel="walmart")
    assert (order.external_id, order.merchant_id) == ("1000007", conn.merchant_id)
    assert list(order.lines.values_list("sku", "quantity")) == [("WM-1", 2)]
    assert fake.acks == ["1000007"]
    row = WebhookInbox.objects.get()
    assert (row.platform, row.event_id, row.topic, row.status) == (
        "walmart",
        "ev-walmart-1",
        "PO_CREATED",
        "done",
    )
    assert "Authorization" not in row.headers  # the credentials are not kept
    # Walmart retries the same event: one inbox row, one order
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, conn, body).status_code == 200
    assert WebhookInbox.objects.count() == 1
    assert Order.objects.count() == 1


def test_wrong_credentials_are_refused_and_store_nothing(client, walmart):
    fake, conn = walmart
    fake.add_order(8, sku="WM-1", quantity=1, updated="2026-11-29T06:00:00.000Z")
    assert post(client, conn, fake.event("1000008"), password="guess").status_code == 401
    response = client.generic(
        "POST",
        f"/app/integrations/walmart/webhooks/{conn.pk}/",
        fake.event("1000008"),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert WebhookInbox.objects.count() == 0
    assert Order.objects.count() == 0
