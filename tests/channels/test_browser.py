"""In a real browser: a merchant connects a WooCommerce store by pasting keys, sees the plain-language test
result and the first import, maps a product, and opens the health page."""

from __future__ import annotations

import pytest

from integrations.models import ChannelConnection
from orders.models import Order
from tests.channels.fakes.woocommerce import FakeWooCommerce
from tests.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_connect_woocommerce_and_see_first_import(page, membership_a):
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    user = membership_a.user
    user.set_password("pw-browser-123")
    user.save()
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    fake = FakeWooCommerce().start()
    try:
        now = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
        fake.add_order(901, sku="WOO-1", quantity=1, updated=now)
        fake.orders[901]["date_created_gmt"] = now
        browser_login(page, user.email, "pw-browser-123")
        page.goto("/app/integrations/")
        assert page.locator("#platform-walmart").is_visible()
        page.click("#platform-woocommerce a")
        page.fill("input[name=account_id]", fake.url)  # the store URL (the fake, here)
        page.fill("input[name=consumer_key]", "ck_test")
        page.fill("input[name=consumer_secret]", "cs_test")
        page.click("main button[type=submit]")
        page.wait_for_selector("#first-import")
        assert "Connected to your WooCommerce store 9.1.0" in page.content()
        assert "imported 1 orders" in page.inner_text("#first-import")
        conn = ChannelConnection.objects.get(merchant=membership_a.merchant)
        assert conn.status == "active"
        assert Order.objects.filter(channel="woocommerce", external_id="901").exists()
        page.click("text=Test connection")
        page.wait_for_selector("#test-message")
        assert page.inner_text("#test-message").startswith("Connected to your WooCommerce store")
        page.click("text=Health & log")
        page.wait_for_selector("#health-figures")
        assert page.inner_text("#orders-today") == "1"
        assert "poll orders" in page.inner_text("#events")
    finally:
        fake.stop()


def test_connect_amazon_through_the_seller_central_consent_screen(page, membership_a, settings):
    """The five-minute path for a marketplace: one button, approve on Amazon (the fake consent page sends the
    browser straight back, as Seller Central does after Confirm), connected and tested."""
    from allauth.account.models import EmailAddress

    from tests.channels.fakes.amazon import FakeAmazon

    user = membership_a.user
    user.set_password("pw-browser-123")
    user.save()
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    fake = FakeAmazon().start()
    settings.AMAZON_SPAPI_APP_ID = fake.application_id
    settings.AMAZON_LWA_CLIENT_ID, settings.AMAZON_LWA_CLIENT_SECRET = fake.lwa_client
    settings.AMAZON_SELLER_CENTRAL_URL = fake.url
    settings.AMAZON_LWA_BASE = fake.url
    settings.AMAZON_SP_API_BASE = fake.url
    try:
        browser_login(page, user.email, "pw-browser-123")
        page.goto("/app/integrations/connect/amazon/")
        assert page.locator("#advanced-connect").is_visible()  # the paste-a-token path is still there
        page.select_option("#id_marketplace", "US")
        page.click("#oauth-connect button[type=submit]")
        page.wait_for_selector("#conn-status")
        assert "Connected to Amazon (US). We can read your orders." in page.content()
        conn = ChannelConnection.objects.get(merchant=membership_a.merchant)
        assert (conn.platform, conn.account_id, conn.status) == ("amazon", "A2SELLERTEST", "active")
        assert page.url.endswith(f"/app/integrations/{conn.pk}/")
    finally:
        fake.stop()
