"""The catalog and stock screens in real Chromium."""

import pytest

from inventory import services
from inventory.models import Product
from tests.conftest import browser_login
from tests.factories import PASSWORD
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_product_with_unit_switch_then_see_why_available(page, membership_a):
    browser_login(page, membership_a.user.email, PASSWORD)
    page.goto("/app/inventory/products/new/")
    page.fill("#id_sku", "LANTERN")
    page.fill("#id_name", "Camp lantern")
    page.fill("#id_weight", "454")
    page.fill("#id_length", "25.4")
    page.select_option("#id_units", "imperial")
    assert page.input_value("#id_weight_unit") == "oz"
    assert page.input_value("#id_weight") == "16.01"
    assert page.input_value("#id_length") == "10"
    page.click("main form button[type=submit]")
    page.wait_for_url("**/app/inventory/products/*/")
    product = Product.objects.get(sku="LANTERN")
    assert (product.weight_g, product.length_mm) == (454, 254)

    wh = WarehouseFactory(code="WH1")
    services.stock_receive(merchant=membership_a.merchant, product=product, warehouse=wh, quantity=9)
    services.stock_reserve(
        merchant=membership_a.merchant, product=product, warehouse=wh, quantity=4, reference="order_line:31"
    )
    page.reload()
    card = page.locator("#why-available")
    assert "Why is available 5?" in card.inner_text()
    assert "order_line:31" in card.inner_text()


def test_inventory_search_filters_rows_with_htmx(page, membership_a):
    wh = WarehouseFactory(code="WH1")
    for sku in ("RED-1", "BLUE-1"):
        p = ProductFactory(merchant=membership_a.merchant, sku=sku)
        services.stock_receive(merchant=membership_a.merchant, product=p, warehouse=wh, quantity=3)
    browser_login(page, membership_a.user.email, PASSWORD)
    page.goto("/app/inventory/")
    assert page.locator("#levels tbody tr").count() == 2
    page.locator("input[name=q]").press_sequentially("BLUE")
    page.wait_for_function("document.querySelectorAll('#levels tbody tr').length === 1")
    assert "BLUE-1" in page.locator("#levels").inner_text()
