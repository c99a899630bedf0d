"""End to end with a REAL Celery worker: a Shopify order webhook becomes an allocated order and the new
available-to-sell figure is pushed back to the (fake) shop; re-deliveries make one order; a lost webhook is
found by the reconciliation poll; a killed worker and a flushed Redis lose nothing."""

from __future__ import annotations

import threading

import pytest
import redis

from integrations import services
from integrations.models import ChannelConnection, ChannelListing, WebhookInbox
from orders.models import Order
from tests.channels.fakes.shopify import LOCATION_ID, make_order, webhook
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
    pytest.mark.django_db(transaction=True),
]
URL = "/integrations/shopify/webhooks/"


@pytest.fixture
def worker(celery_worker_process):
    """The shared worker fixture, plus a reset of kombu's global producer pools: after a previous worker
    test closed its connection pool, kombu would otherwise hand out the closed one ("Acquire on closed pool")."""
    from kombu import pools

    from fulfil.celery import app
    from tests.conftest import _reset_celery_connections

    pools.reset()
    _reset_celery_connections(app)
    return celery_worker_process


@pytest.fixture
def stocked(merchant_a, shopify_conn):
    from inventory.models import Location, Product, Warehouse
    from inventory.services import stock_receive

    wh = Warehouse.objects.create(code="E2E1", name="E2E warehouse")
    loc = Location.objects.create(warehouse=wh, code="A-01-01-1-A", type="pick")
    product = Product.objects.create(
        merchant=merchant_a, sku="IPOD2008GREEN", name="iPod green", status="active"
    )
    ChannelListing.objects.create(
        merchant=merchant_a,
        connection=shopify_conn,
        external_id="39072856",
        inventory_item_id="808950810",
        sku="IPOD2008GREEN",
        name="iPod green",
        product=product,
    )
    stock_receive(merchant=merchant_a, product=product, warehouse=wh, quantity=10, location=loc)
    return product


def _post(client, body, headers):
    return client.generic("POST", URL, body, content_type="application/json", **headers)


def test_webhook_to_allocated_order_and_stock_pushed_back(
    worker, client, shopify_conn, stocked, fake_shopify, shopify_secret
):
    key = ("808950810", str(LOCATION_ID))
    wait_for(lambda: fake_shopify.inventory.get(key) == 10, timeout=30)  # the receipt was pushed
    body, headers = webhook(
        "orders/create",
        make_order(1001, quantity=2),
        secret=shopify_secret,
        shop=shopify_conn.account_id,
        event_id="evt-1001",
    )
    for _ in range(3):  # the same event delivered three times
        assert _post(client, body, headers).status_code == 200
    order = wait_for(lambda: Order.objects.filter(external_id="1001").first(), timeout=30)
    wait_for(lambda: Order.objects.get(pk=order.pk).status in ("allocated", "released"), timeout=30)
    assert Order.objects.filter(channel="shopify", external_id="1001").count() == 1
    assert WebhookInbox.objects.count() == 1
    wait_for(lambda: fake_shopify.inventory.get(key) == 8, timeout=30)


def test_lost_webhook_is_found_by_reconciliation(worker, shopify_conn, fake_shopify):
    from integrations.tasks import connection_reconcile

    fake_shopify.add_order(make_order(5005, updated_at="2026-02-01T10:00:00Z"))  # no webhook ever arrives
    connection_reconcile.delay(connection_id=shopify_conn.pk)
    wait_for(lambda: Order.objects.filter(channel="shopify", external_id="5005").exists(), timeout=30)
    wait_for(
        lambda: ChannelConnection.objects.get(pk=shopify_conn.pk).cursor == "2026-02-01T10:00:00Z", timeout=10
    )


def test_chaos_killed_worker_and_flushed_redis_lose_nothing(
    worker, client, shopify_conn, fake_shopify, shopify_secret
):
    from django.conf import settings as dj_settings

    from fulfil.celery import app
    from integrations.tasks import sweep

    accepted = []
    stop = threading.Event()

    def deliver(n):
        body, headers = webhook(
            "orders/create",
            make_order(10_000 + n),
            secret=shopify_secret,
            shop=shopify_conn.account_id,
            event_id=f"chaos-{n}",
        )
        from django.test import Client

        c = Client()
        if c.generic("POST", URL, body, content_type="application/json", **headers).status_code == 200:
            accepted.append(n)
        if n % 10 == 0:  # and a duplicate now and then
            c.generic("POST", URL, body, content_type="application/json", **headers)

    for n in range(30):
        deliver(n)
        if n == 10:
            worker.kill()  # mid-run: the worker dies
        if n == 20:
            redis.Redis.from_url(app.conf.broker_url).flushdb()  # and the broker forgets every queued task
    stop.set()
    worker.start()
    # The periodic sweeper (beat runs it every 15 s in production) re-enqueues what is pending.
    wait_for(lambda: services.sweep_due(older_than_seconds=0)[0] or True, timeout=5)
    deadline_ok = False
    for _ in range(40):
        sweep.delay()
        try:
            wait_for(lambda: Order.objects.filter(channel="shopify").count() == 30, timeout=1.5)
            deadline_ok = True
            break
        except pytest.fail.Exception:
            continue
    assert dj_settings  # settings untouched
    assert deadline_ok, f"only {Order.objects.filter(channel='shopify').count()} of 30 orders"
    assert len(accepted) == 30
    assert Order.objects.filter(channel="shopify").values("external_id").distinct().count() == 30
    wait_for(lambda: not WebhookInbox.objects.exclude(status="done").exists(), timeout=20)
    assert WebhookInbox.objects.filter(status="done").count() == 30
    assert ChannelConnection.objects.get(pk=shopify_conn.pk).status == "active"
