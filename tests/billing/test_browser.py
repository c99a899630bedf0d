"""End to end in real Chromium: a visitor prices fulfillment without an account and shares the estimate;
a merchant adds a card (localstripe) and pays an invoice; the production card form (Stripe.js Elements, here
localstripe's Stripe.js) saves a card; a merchant adds a US bank account, verifies the microdeposits and an
invoice is debited from it (ACH processing → Stripe's webhook → paid)."""

from datetime import date

import httpx
import pytest

from billing import services
from billing.models import Invoice, PaymentMethod, SavedEstimate
from tests.billing.conftest import WEBHOOK_SECRET
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
    # both typed fields have been applied (the destinations' update can land after the tier's)
    page.wait_for_function("location.search.includes('94105')")
    page.wait_for_load_state("networkidle")
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
    page.click("text=Save test card")
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


def _open_invoice(merchant):
    services.account_update(merchant=merchant, autopay=False)
    services.charges_record(merchant=merchant, charges=order_charges("o1"), occurred_at=T0)
    return services.invoice_issue(
        merchant=merchant, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )


def test_production_card_form_with_stripe_js(page, membership_a, stripe_settings, standard_card):
    """The Stripe.js Elements form, unchanged, against localstripe's Stripe.js (``STRIPE_JS_URL``): the card
    is typed into the element, ``confirmCardSetup`` confirms the SetupIntent with the fake, the page posts
    back only the ids, and the server saves the SetupIntent's own payment method."""
    merchant = membership_a.merchant
    browser_login(page, membership_a.user.email, PASSWORD)
    page.goto("/app/billing/payment-methods/")
    element = page.locator("#card-element")
    element.locator("input[placeholder=number]").fill("4242424242424242")
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("10001")
    page.click("#save-card")
    page.wait_for_selector("[data-testid=method]")
    method = PaymentMethod.objects.for_merchant(merchant).get()
    assert (method.type, method.last4, method.exp_month, method.exp_year) == ("card", "4242", 12, 2034)
    assert "4242" in page.locator("[data-testid=method]").inner_text()
    # a declined card: Stripe.js's error is shown and nothing is saved
    element.locator("input[placeholder=number]").fill("4000000000000002")
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    page.click("#save-card")
    page.wait_for_function("document.getElementById('card-errors').textContent.length > 0")
    assert "declined" in page.locator("#card-errors").inner_text()
    assert PaymentMethod.objects.for_merchant(merchant).count() == 1


def test_merchant_adds_bank_account_verifies_and_pays_by_ach(page, live_server, localstripe_url, membership_a,
                                                             stripe_settings, standard_card):  # fmt: skip
    # Stripe's webhooks (localstripe delivers them, signed) reach this live server
    httpx.post(f"{localstripe_url}/_config/webhooks/fulfil",
               data={"url": f"{live_server.url}/integrations/stripe/webhooks/", "secret": WEBHOOK_SECRET})  # fmt: skip
    merchant = membership_a.merchant
    invoice = _open_invoice(merchant)
    browser_login(page, membership_a.user.email, PASSWORD)
    page.goto("/app/billing/payment-methods/")
    page.fill("#id_holder_name", "Acme Goods LLC")
    page.fill("#id_routing_number", "110000000")
    page.fill("#id_account_number", "000123456789")
    page.fill("#id_account_number_again", "000123456789")
    page.check("#id_mandate")
    page.click("text=Save bank account")
    page.wait_for_url("**/verify/")
    assert "SM" in page.locator("[data-testid=microdeposit-help]").inner_text()
    method = PaymentMethod.objects.for_merchant(merchant).get()
    assert (method.status, method.last4, method.mandate_ip) == ("pending_verification", "6789", "127.0.0.1")
    assert "Chrom" in method.mandate_user_agent or "Mozilla" in method.mandate_user_agent
    page.fill("#id_descriptor_code", "SM11AA")
    page.click("button:has-text('Verify')")
    page.wait_for_url("**/payment-methods/")
    row = page.locator("[data-testid=method][data-type=us_bank_account]")
    assert row.get_attribute("data-status") == "active"
    assert "ACH mandate mandate_" in row.inner_text()
    page.goto("/app/")
    assert page.locator("li.done[data-step=payment_method]").count() == 1  # onboarding ticked

    page.goto(f"/app/billing/invoices/{invoice.pk}/")
    page.click("text=Pay now")
    page.wait_for_selector("[data-testid=payment-status]")
    assert page.locator("[data-testid=payment-status]").inner_text() == "Processing (bank debit)"
    assert page.locator("[data-testid=invoice-status]").inner_text() == "Open"
    # the debit settles at the fake, which sends payment_intent.succeeded to our webhook receiver
    for _ in range(40):
        page.wait_for_timeout(250)
        if Invoice.objects.get(pk=invoice.pk).status == "paid":
            break
    page.reload()
    assert page.locator("[data-testid=invoice-status]").inner_text() == "Paid"
    assert page.locator("[data-testid=payment-status]").inner_text() == "Succeeded"
    assert "US bank account •••• 6789" in page.locator("section:has-text('Payments')").last.inner_text()
