"""One contract, every connector: each platform's real client (or our typed httpx client) against its local
fake, through the same cases — connect, reconcile with paging, products, stock, fulfillment, throttling,
server errors and bad credentials."""

from __future__ import annotations

import json

import pytest

from integrations import services
from integrations.base import FulfillmentLine, RetryableProviderError, Tracking, connector_for
from integrations.models import ChannelConnection, ChannelListing
from orders.models import Order
from tests.channels.fakes.amazon import FakeAmazon
from tests.channels.fakes.ebay import FakeEbay
from tests.channels.fakes.shopify import LOCATION_ID, FakeShopify
from tests.channels.fakes.walmart import FakeWalmart
from tests.channels.fakes.woocommerce import FakeWooCommerce

pytestmark = pytest.mark.django_db

FAKES = {
    "shopify": FakeShopify,
    "woocommerce": FakeWooCommerce,
    "amazon": FakeAmazon,
    "ebay": FakeEbay,
    "walmart": FakeWalmart,
}
SKU = {
    "shopify": "IPOD2008PINK",
    "woocommerce": "WOO-1",
    "amazon": "AMZ-1",
    "ebay": "EBAY-1",
    "walmart": "WM-1",
}


@pytest.fixture(params=sorted(FAKES))
def platform(request):
    return request.param


@pytest.fixture
def fake(platform):
    server = FAKES[platform]().start()
    server.page_size = 2
    yield server
    server.stop()


@pytest.fixture
def conn(merchant_a, fake, platform, shopify_secret):
    kwargs = fake.conn_kwargs()
    c = services.connection_create(
        merchant=merchant_a, platform=platform, status=ChannelConnection.Status.ACTIVE, **kwargs
    )
    c.cursor = "2026-01-01T00:00:00Z"
    c.import_from = None
    c.channel_location_id = str(LOCATION_ID) if platform == "shopify" else ""
    c.save()
    return c


def add(fake, n, *, sku, quantity=1, updated):
    if isinstance(fake, FakeShopify):
        fake.add_contract_order(n, sku=sku, quantity=quantity, updated=updated)
    else:
        fake.add_order(n, sku=sku, quantity=quantity, updated=updated)


def test_test_connection_in_plain_language(conn, platform):
    check = services.connection_test(connection=conn)
    assert check.ok, check.message
    assert check.message.startswith("Connected to")


def test_reconcile_pages_and_is_idempotent(conn, fake, platform):
    for n in range(3):
        add(fake, 100 + n, sku=SKU[platform], quantity=n + 1, updated=f"2026-01-1{n}T10:00:00Z")
    result = services.orders_reconcile(connection=conn)
    assert (result["fetched"], result["created"], result["failed"]) == (3, 3, 0)
    orders = Order.objects.filter(merchant=conn.merchant, channel=platform).order_by("pk")
    assert orders.count() == 3
    assert sorted(o.lines.get().quantity for o in orders) == [1, 2, 3]
    assert all(o.lines.get().sku == SKU[platform] for o in orders)
    conn.refresh_from_db()
    assert conn.cursor.startswith("2026-01-12T10:00:00")
    again = services.orders_reconcile(connection=conn)
    assert again["created"] == 0
    assert Order.objects.filter(channel=platform).count() == 3


def test_products_become_listings(conn, platform):
    result = services.products_fetch(connection=conn)
    assert result["fetched"] >= 1
    assert ChannelListing.objects.filter(connection=conn, sku=SKU[platform]).exists()


def test_push_available_reaches_the_platform(conn, fake, platform):
    connector_for(conn).push_available(updates=[fake.stock_update(SKU[platform], 9)])
    assert fake.stock_of(SKU[platform]) == 9


def test_push_fulfillment_with_tracking(conn, fake, platform):
    add(fake, 300, sku=SKU[platform], quantity=2, updated="2026-01-15T10:00:00Z")
    services.orders_reconcile(connection=conn)
    order = Order.objects.get(channel=platform)
    line = order.lines.get()
    connector_for(conn).push_fulfillment(
        order_external_id=order.external_id,
        lines=[FulfillmentLine(sku=line.sku, quantity=line.quantity, external_line_id=line.external_line_id)],
        tracking=Tracking(carrier="UPS", number="1ZCONTRACT", url="https://ups.example/1ZCONTRACT"),
    )
    assert len(fake.shipments) == 1
    assert "1ZCONTRACT" in json.dumps(fake.shipments[0], default=str)


def test_429_with_retry_after_is_retryable(conn, fake, platform):
    connector = connector_for(conn)
    connector.authenticate()
    fake.fail_next(429, retry_after=7, path_contains="" if platform != "amazon" else "/orders")
    with pytest.raises(RetryableProviderError) as info:
        connector.fetch_orders(cursor="2026-01-01T00:00:00Z")
    assert info.value.status == 429 or platform == "amazon"
    if platform != "amazon":  # SP-API sends no Retry-After; we derive the wait from x-amzn-RateLimit-Limit
        assert info.value.retry_after == 7


def test_server_error_is_retryable(conn, fake, platform):
    connector = connector_for(conn)
    connector.authenticate()
    fake.fail_next(503, path_contains="" if platform != "amazon" else "/orders")
    with pytest.raises(RetryableProviderError):
        connector.fetch_orders(cursor="2026-01-01T00:00:00Z")


def test_bad_credentials_fail_the_test_plainly(conn, fake, platform):
    fake.fail_next(401 if platform != "amazon" else 403, times=3)
    check = services.connection_test(connection=conn)
    assert not check.ok
    conn.refresh_from_db()
    assert conn.status == ChannelConnection.Status.ERROR
    assert conn.status_reason == check.message
