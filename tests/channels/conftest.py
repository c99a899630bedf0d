from __future__ import annotations

import pytest

from integrations import services
from integrations.models import ChannelConnection
from tests.channels.fakes.shopify import LOCATION_ID, FakeShopify

SHOPIFY_SECRET = "shpss_test_app_secret"


@pytest.fixture
def shopify_secret(settings):
    settings.SHOPIFY_API_SECRET = SHOPIFY_SECRET
    settings.SHOPIFY_API_KEY = "test-api-key"
    return SHOPIFY_SECRET


@pytest.fixture
def fake_shopify():
    fake = FakeShopify().start()
    yield fake
    fake.stop()


@pytest.fixture
def shopify_conn(merchant_a, fake_shopify, shopify_secret) -> ChannelConnection:
    conn = services.connection_create(
        merchant=merchant_a,
        platform="shopify",
        account_id=fake_shopify.shop,
        base_url=fake_shopify.url,
        access_token=fake_shopify.token,
        status=ChannelConnection.Status.ACTIVE,
    )
    conn.channel_location_id = str(LOCATION_ID)
    conn.import_from = None
    conn.cursor = "2026-01-01T00:00:00Z"
    conn.save()
    return conn
