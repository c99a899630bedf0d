"""Real Chromium: the batched scan path on the tablet (scans typed faster than the server answers go out
together, each once), the merchant's live receiving report, and the customer return portal with a prepaid
label bought from the fake EasyPost server."""

from decimal import Decimal

import pytest

from inventory.models import StockLevel
from inventory.reconcile import ledger_drift
from tests.conftest import browser_login
from tests.factories import PASSWORD
from warehouse.inbound import services
from warehouse.inbound.models import ReceiptLine, ReturnAuthorization

from .conftest import make_shipped_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, user, password):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    browser_login(page, user.email, password)


def test_scans_typed_fast_are_batched_and_the_report_updates_live(
    tablet_page, page, associate, user_a, merchant_a, wh, products, asn
):
    # The merchant watches the receiving report.
    login(page, user_a, PASSWORD)
    page.goto(f"/app/warehouse/inbound/shipments/{asn.pk}/")
    assert page.locator("#report-live[data-live]").count() == 1

    tablet = tablet_page
    login(tablet, associate, "pw-associate-123")
    tablet.goto(f"/app/warehouse/inbound/floor/receive/{asn.pk}/")
    requests = []
    tablet.on(
        "request",
        lambda r: (
            requests.append(r.post_data_json) if r.method == "POST" and "/floor/receive/" in r.url else None
        ),
    )
    field = tablet.locator(".scan-input")
    for _ in range(10):  # a scanner firing ten times in a row, faster than the server answers
        assert field.evaluate("el => el === document.activeElement")
        field.fill("036000291452")
        field.press("Enter")
    tablet.wait_for_function("document.querySelector('form[data-receive-batch]').dataset.pending === '0'")
    tablet.wait_for_selector("tr[data-sku=MUG] td.received:text-is('10')")
    assert sum(len(body["scans"]) for body in requests) == 10
    assert len(requests) < 10  # the queue went out in batches, not scan by scan
    assert ReceiptLine.objects.filter(product=products["mug"]).count() == 10
    assert StockLevel.objects.get(product=products["mug"], warehouse=wh).on_hand == 10

    # A single scan still lands at once.
    field.fill("4006381333931")
    tablet.fill("input[name=quantity]", "5")
    field.press("Enter")
    tablet.wait_for_selector("text=Received: 5 × LAMP available")

    # The merchant's page followed along without a reload.
    page.wait_for_selector("#report-live tr[data-sku=MUG] td.received:text-is('10')")
    page.wait_for_selector("#report-live tr[data-sku=LAMP] td.received:text-is('5')")

    tablet.click("text=Done receiving")
    tablet.wait_for_url("**/floor/putaway/")
    page.wait_for_selector("#asn-status:text-is('Received')")
    page.wait_for_function(
        "!document.querySelector('#report-live').hasAttribute('hx-get')"
    )  # polling stopped
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_customer_opens_a_return_and_downloads_the_label(
    page, merchant_a, products, return_wh, usps_account, fake_easypost
):
    portal = services.return_portal_update(
        merchant=merchant_a, enabled=True, window_days=30, allowed_reasons=[], prepaid_labels=True
    )
    make_shipped_order(merchant_a, [(products["mug"], 2, Decimal("12.00"))], number="1001")
    page.goto(f"/returns/{portal.token}/")
    page.fill("input[name=number]", "1001")
    page.fill("input[name=proof]", "wrong@example.com")
    page.click("text=Find my order")
    page.wait_for_selector("text=We could not find a shipped order")
    page.fill("input[name=proof]", "jack@example.com")
    page.click("text=Find my order")
    page.wait_for_url("**/order/")
    page.select_option(f"select[name=qty_{products['mug'].pk}]", "1")
    page.select_option("select[name=reason]", "wrong_item")
    page.fill("textarea[name=comment]", "Ordered blue, got red")
    page.click("text=Open my return")
    page.wait_for_url("**/done/**")
    rma = ReturnAuthorization.objects.get()
    assert page.locator("#rma-number").inner_text() == rma.number
    link = page.locator("#label-link")
    assert link.get_attribute("href") == rma.label_url
    assert rma.label_tracking in page.content()
    assert (rma.opened_by, rma.reason, rma.customer_note) == (
        "customer",
        "wrong_item",
        "Ordered blue, got red",
    )
