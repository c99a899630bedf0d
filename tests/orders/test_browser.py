"""The order book in real Chromium: filter the list, open an order, put it on hold, see the refusal."""

import pytest

from orders.models import Order
from tests.conftest import browser_login
from tests.factories import PASSWORD
from tests.orders.conftest import canonical

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_book_filter_detail_hold(page, user_a, merchant_a, stocked):
    from orders.services import order_import

    order, _ = order_import(merchant=merchant_a, order=canonical("BR-1", customer_name="Browser Buyer"))
    order_import(
        merchant=merchant_a, order=canonical("BR-2", channel="shopify", customer_name="Other Person")
    )
    browser_login(page, user_a.email, PASSWORD)
    page.goto("/app/orders/?q=browser")
    assert page.locator("#order-rows").get_by_text("BR-1").is_visible()
    assert page.locator("#order-rows").get_by_text("BR-2").count() == 0
    page.click("text=BR-1")
    page.wait_for_load_state("networkidle")
    assert "Order BR-1" in page.text_content("h1")
    assert "order.imported" in page.text_content("#timeline")
    page.click("#actions button:has-text('Put on hold')")
    page.wait_for_load_state("networkidle")
    assert Order.objects.get(pk=order.pk).status == "on_hold"
    assert page.locator("#actions button:has-text('Release hold')").is_visible()
    assert page.locator("#actions button:has-text('Put on hold')").count() == 0
