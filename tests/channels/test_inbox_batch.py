"""The inbox drain takes new orders a batch at a time (``inbox_process_many``): the same orders, rows, event log
and refusals as one webhook at a time, idempotent, in a number of queries that does not grow with the batch."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import services
from integrations.models import ChannelConnection, ChannelEvent, DeadLetter, WebhookInbox
from integrations.shopify.client import ShopifyChannel
from orders.models import Order
from tests.channels.fakes.shopify import make_order, webhook

pytestmark = pytest.mark.django_db


def accept(conn, secret, topic, payload, event_id):
    body, headers = webhook(topic, payload, secret=secret, shop=conn.account_id, event_id=event_id)
    hook = ShopifyChannel.verify_webhook(headers=headers, body=body, secret=secret)
    return services.webhook_accept(platform="shopify", webhook=hook, body=body, headers={})


def test_a_batch_imports_each_order_once_and_marks_every_row(
    shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    for n in range(5):
        accept(shopify_conn, shopify_secret, "orders/create", make_order(3000 + n), f"e-{n}")
    # the same order again under another event id (orders/updated with the same body): updated, not doubled
    accept(shopify_conn, shopify_secret, "orders/updated", make_order(3000), "e-again")

    with django_capture_on_commit_callbacks(execute=True):
        done, others = services.inbox_process_many(limit=100)

    assert (done, others) == (6, [])
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [str(3000 + n) for n in range(5)]
    rows = list(WebhookInbox.objects.order_by("pk").values_list("status", "attempts", "connection_id"))
    assert rows == [("done", 1, shopify_conn.pk)] * 6
    outcomes = list(
        ChannelEvent.objects.filter(connection=shopify_conn, direction="in")
        .order_by("pk")
        .values_list("kind", "outcome", "reference")
    )
    assert outcomes == [("webhook orders/create", "ok", f"e-{n}") for n in range(5)] + [
        ("webhook orders/updated", "ok", "e-again")
    ]
    assert ChannelEvent.objects.filter(message__startswith="imported order").count() == 5
    # drained rows are not taken again
    assert services.inbox_process_many(limit=100) == (0, [])


def test_settings_skip_orders_like_one_by_one_and_other_topics_go_one_by_one(
    shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    shopify_conn.import_statuses = ["paid"]
    shopify_conn.review = ChannelConnection.Review.HOLD
    shopify_conn.save()
    accept(shopify_conn, shopify_secret, "orders/create", make_order(4001, financial_status="pending"), "s-1")
    accept(shopify_conn, shopify_secret, "orders/create", make_order(4002, financial_status="paid"), "s-2")
    other = accept(
        shopify_conn, shopify_secret, "shop/redact", {"shop_domain": shopify_conn.account_id}, "s-3"
    )

    with django_capture_on_commit_callbacks(execute=True):
        done, others = services.inbox_process_many(limit=100)

    assert (done, others) == (2, [other])
    assert dict(WebhookInbox.objects.values_list("event_id", "status")) == {
        "s-1": "ignored",
        "s-2": "done",
        "s-3": "pending",  # left for inbox_process, which the drain calls next
    }
    assert Order.objects.get().status == "on_hold"  # held for review, as one by one


def test_an_order_the_book_refuses_is_dead_lettered_by_the_one_by_one_path(
    shopify_conn, shopify_secret, django_capture_on_commit_callbacks
):
    bad = make_order(5001)
    bad["id"] = ""  # no external id: the book cannot store it at all
    accept(shopify_conn, shopify_secret, "orders/create", bad, "bad-1")
    accept(shopify_conn, shopify_secret, "orders/create", make_order(5002), "ok-1")

    with django_capture_on_commit_callbacks(execute=True):
        processed = services.inbox_drain(idle_seconds=0)

    assert processed == 2
    assert dict(WebhookInbox.objects.values_list("event_id", "status")) == {"bad-1": "dead", "ok-1": "done"}
    assert list(Order.objects.values_list("external_id", flat=True)) == ["5002"]
    assert DeadLetter.objects.filter(connection=shopify_conn).count() == 1


def test_batch_queries_do_not_grow_with_the_batch(shopify_conn, shopify_secret):
    def run(base: int, n: int) -> int:
        for k in range(n):
            accept(shopify_conn, shopify_secret, "orders/create", make_order(base + k), f"q-{base + k}")
        with CaptureQueriesContext(connection) as ctx:
            assert services.inbox_process_many(limit=100) == (n, [])
        return len(ctx.captured_queries)

    small, large = run(6000, 3), run(7000, 15)
    assert large <= small + 2, (small, large)
    assert Order.objects.count() == 18
