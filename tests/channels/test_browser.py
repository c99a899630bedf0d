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
