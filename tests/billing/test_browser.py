"""End to end in real Chromium: a visitor prices fulfillment without an account and shares the estimate;
a merchant adds a card (localstripe) and pays an invoice."""

from datetime import date

import pytest

from billing import services
from billing.models import Invoice, PaymentMethod, SavedEstimate
from tests.billing.test_charges_invoices import T0, order_charges
from tests.conftest import browser_login
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_uses_calculator_and_shares_estimate(page, standard_card):
    page.goto("/pricing/")
    assert page.locator("[data-testid=per-order]").is_visible()
    page.fill("#id_monthly_orders", "2500")
    page.fill("#id_destinations", "10001, 94105")
    # live results (HTMX, 300 ms after typing): the Scale tier applies at 2,500 orders
    page.wait_for_function("document.querySelector('[data-testid=tier]').textContent.trim() === 'Scale'")
    assert "2500" in page.url  # the inputs are in the address bar
    methods = page.locator("[data-testid=methods] tbody tr")
    assert methods.count() == 8
    assert page.locator("svg.tier-chart circle").count() >= 4
    per_order = page.locator("[data-testid=per-order]").inner_text()
    page.click("text=Save & get a share link")
    page.wait_for_url("**/pricing/e/**")
    share = page.locator("[data-testid=share-url]").input_value()
    est = SavedEstimate.objects.get()
    assert share.endswith(f"/pricing/e/{est.token}/")
    assert est.summary["tier"] == "Scale"
    # someone else opens the link
    other = page.context.browser.new_context(base_url=page.url.split("/pricing")[0]).new_page()
    other.goto(share)
    assert other.locator("[data-testid=per-order]").inner_text() == per_order
    other.context.close()


def test_merchant_adds_card_and_pays_invoice(page, membership_a, stripe_settings, standard_card):
    merchant = membership_a.merchant
    services.account_update(merchant=merchant, autopay=False)
    services.charges_record(merchant=merchant, charges=order_charges("o1"), occurred_at=T0)
    invoice = services.invoice_issue(
        merchant=merchant, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    browser_login(page, membership_a.user.email, PASSWORD)
    page.goto(f"/app/billing/invoices/{invoice.pk}/")
    assert page.locator("[data-testid=balance]").inner_text() == "$12.35"
    page.click("text=Add a payment method to pay")
    page.select_option("#id_payment_method", "pm_card_visa")
    page.click("text=Save payment method")
    page.wait_for_selector("[data-testid=method]")
    assert "4242" in page.locator("[data-testid=method]").inner_text()
    assert PaymentMethod.objects.for_merchant(merchant).count() == 1
    page.goto("/app/")
    assert page.locator("li.done[data-step=payment_method]").count() == 1  # onboarding ticked
    page.goto(f"/app/billing/invoices/{invoice.pk}/")
    page.click("text=Pay now")
    page.wait_for_selector("text=Thank you")
    assert page.locator("[data-testid=invoice-status]").inner_text() == "Paid"
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
