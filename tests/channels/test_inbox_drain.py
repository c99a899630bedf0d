"""The webhook accept path and the drain's plumbing: the fast path answers a signed POST with one INSERT and no
session/auth work; the drain kick is one flag per queued drain; drains and single-row retries go to the
``inbox`` queue; the batch import's COPY writes the same order rows as the one-by-one path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from integrations import inbox
from integrations.models import WebhookInbox
from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.models import Order, OrderLine
from tests.channels.fakes.shopify import make_order, webhook

pytestmark = pytest.mark.django_db
URL = "/integrations/shopify/webhooks/"


def _post(client, body, headers):
    return client.generic("POST", URL, body, content_type="application/json", **headers)


def test_fast_path_accepts_with_one_insert_and_no_session(client, shopify_conn, shopify_secret):
    body, headers = webhook(
        "orders/create", make_order(7001), secret=shopify_secret, shop=shopify_conn.account_id, event_id="e-1"
    )
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as ctx:
        first = _post(client, body, headers)
    assert first.status_code == 200
    assert first["Content-Length"] == "2"
    assert "Set-Cookie" not in first  # no session, CSRF or auth work
    assert "Vary" not in first
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["INSERT"]  # no health-check SELECT 1
    again = _post(client, body, headers)  # a re-delivery: same event id
    assert again.status_code == 200
    assert list(WebhookInbox.objects.values_list("event_id", "status")) == [("e-1", "pending")]


def test_fast_path_refuses_a_bad_signature_and_stores_nothing(client, shopify_conn, shopify_secret):
    body, headers = webhook(
        "orders/create", make_order(7002), secret="not-the-secret", shop=shopify_conn.account_id
    )
    response = _post(client, body, headers)
    assert response.status_code == 401
    assert WebhookInbox.objects.count() == 0


def test_other_integrations_paths_still_go_through_the_full_stack(client):
    # the OAuth callback needs the signed-in user: not on the fast path (a bad HMAC answers 400 there)
    response = client.get("/integrations/shopify/oauth/callback/?shop=x&hmac=bad")
    assert response.status_code == 400
    assert client.get(URL).status_code == 405  # the receiver is POST only, fast path or not


class FakeFlag:
    def __init__(self):
        self.value = None
        self.sets = 0

    def set(self, key, value, nx=False, ex=None):
        self.sets += 1
        if nx and self.value is not None:
            return False
        self.value = value
        return True

    def delete(self, key):
        self.value = None


@pytest.fixture
def flag(monkeypatch):
    from integrations.tasks import inbox_drain

    fake = FakeFlag()
    queued = []
    monkeypatch.setattr(inbox, "_flag_client", lambda: fake)
    monkeypatch.setattr(inbox_drain, "apply_async", lambda *a, **k: queued.append(1))
    monkeypatch.setitem(inbox._last_kick, "at", -1e9)
    fake.queued = queued
    return fake


def test_one_drain_is_queued_until_it_starts(flag, monkeypatch):
    inbox.kick_drain()
    assert flag.queued == [1]
    assert flag.value == "1"
    inbox.kick_drain()  # within the local window: not even a Redis round trip
    assert flag.sets == 1
    monkeypatch.setitem(inbox._last_kick, "at", -1e9)
    inbox.kick_drain()  # the flag says a drain is queued and has not started: nothing more to queue
    assert flag.queued == [1]
    assert flag.sets == 2
    assert inbox.inbox_drain(idle_seconds=0) == 0  # the drain starts: it clears the flag first
    assert flag.value is None
    monkeypatch.setitem(inbox._last_kick, "at", -1e9)
    inbox.kick_drain()  # a row committed now needs a new drain
    assert flag.queued == [1, 1]


def test_sweeper_hands_pending_rows_to_a_drain_and_failed_ones_one_by_one(
    flag, monkeypatch, shopify_conn, shopify_secret
):
    from integrations import services
    from integrations.shopify.client import ShopifyChannel
    from integrations.tasks import inbox_process

    ids = []
    for n in range(3):
        body, headers = webhook(
            "orders/create", make_order(7100 + n), secret=shopify_secret, shop=shopify_conn.account_id
        )
        hook = ShopifyChannel.verify_webhook(headers=headers, body=body, secret=shopify_secret)
        ids.append(services.webhook_accept(platform="shopify", webhook=hook, body=body, headers={}))
    WebhookInbox.objects.filter(pk=ids[0]).update(status=WebhookInbox.Status.FAILED)
    singles = []
    monkeypatch.setattr(inbox_process, "apply_async", lambda *a, **k: singles.append(k["kwargs"]))
    flag.value = "1"  # a drain is said to be queued — perhaps the one a killed worker took with it
    inbox.inbox_sweep(ids=ids)
    assert flag.queued == [1]  # so the sweeper queues one anyway, for the two pending rows
    assert singles == [{"inbox_id": ids[0]}]


def test_drains_and_retries_go_to_the_inbox_queue():
    from fulfil.celery import app

    def queue(name):
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("integrations.tasks.inbox_drain") == "inbox"
    assert queue("integrations.tasks.inbox_process") == "inbox"
    assert queue("fulfil.tasks.outbox_drain") == "celery"
    assert queue("orders.tasks.orders_process_batch") == "orders"
    assert queue("billing.tasks.anything") == "celery"
    assert {q.name for q in app.conf.task_queues} == {
        "celery",
        "inbox",
        "orders",
    }  # no -Q: a worker takes all


def _order(external_id: str) -> CanonicalOrder:
    return CanonicalOrder(
        channel="shopify",
        external_id=external_id,
        number="#1001",
        lines=(
            CanonicalLine(sku="TENT", quantity=2, unit_price=Decimal("10.50"), name="Tent", tax=Decimal("1")),
            CanonicalLine(sku="LAMP", quantity=1, unit_price=Decimal("4.00"), external_line_id="L-2"),
        ),
        ship_to=CanonicalAddress(
            name="Ann Buyer",
            street1="1 Main St",
            city="Louisville",
            state="ky",
            postal_code="40202",
            country="US",
            email="ANN@example.com",
        ),
        bill_to=CanonicalAddress(name="Ann Buyer", country="US"),
        shipping_service="express",
        shipping_paid=Decimal("5"),
        tags=("Gift", "fragile"),
        note="leave at the door",
        placed_at=dt.datetime(2026, 1, 10, 11, tzinfo=dt.UTC),
        raw={"id": 1, "nested": {"a": [1, 2]}},
    )


def test_the_batch_import_writes_the_same_rows_as_one_by_one(merchant_a, merchant_b):
    from orders.services import order_import, order_import_many

    single, _ = order_import(merchant=merchant_a, order=_order("S-1"))
    [(batched, created, errors)] = order_import_many(merchant=merchant_b, orders=[_order("S-1")])
    assert created
    assert errors == {}

    def row(order):
        d = model_to_dict(Order.objects.get(pk=order.pk))
        for key in ("id", "merchant", "created_at", "updated_at"):
            d.pop(key, None)
        return d

    def lines(order):
        return [
            {k: v for k, v in model_to_dict(line).items() if k not in ("id", "order")}
            for line in OrderLine.objects.filter(order=order).order_by("position")
        ]

    assert row(batched) == row(single)
    assert lines(batched) == lines(single)
    got = Order.objects.get(pk=batched.pk)
    assert (got.created_at is not None, got.updated_at is not None) == (True, True)
    assert (batched.pk, batched.external_id, batched.status) == (got.pk, "S-1", "new")
