"""End to end on a tablet viewport in real Chromium: receiving, a blind count with recount and approval, and
grading a return."""

from decimal import Decimal

import pytest

from inventory import services as inv
from inventory.models import StockLevel, StockQuant
from inventory.reconcile import ledger_drift
from orders.models import Order, OrderLine
from tests.conftest import browser_login
from warehouse.inbound import services
from warehouse.inbound.models import CycleCount, ReceiptLine, ReturnAuthorization

from .conftest import loc

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/app/warehouse/inbound/floor"


def login(page, user, password):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    browser_login(page, user.email, password)


def scan(page, text):
    field = page.locator(".scan-input")
    assert field.evaluate("el => el === document.activeElement")  # the scan input has the focus
    field.fill(text)


def test_receive_over_count_damaged_and_lot_tracked(tablet_page, associate, merchant_a, wh, products, asn):
    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto(f"{BASE}/receive/")
    scan(page, f"ASN:{asn.pk}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/receive/{asn.pk}/")

    scan(page, "036000291452")  # MUG, UPC-A: 12 units where 10 were expected
    page.fill("input[name=quantity]", "12")
    page.click("#receive-form button[type=submit]")
    page.wait_for_selector("text=Received: 12 × MUG")

    scan(page, "4006381333931")  # LAMP, one damaged with a photo
    page.check("input[name=damaged]")
    page.set_input_files(
        "input[name=photo]", files=[{"name": "dent.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff"}]
    )
    page.click("#receive-form button[type=submit]")
    page.wait_for_selector("text=damaged → quarantine")

    scan(page, "]d20109506000134352" + "17301231" + "10LOT-42")  # SERUM: GTIN + expiry + lot in one scan
    page.fill("input[name=quantity]", "6")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Received: 6 × SERUM")

    row = page.locator("tr[data-sku=MUG]")
    assert row.locator(".status").inner_text().strip() == "over +2"
    page.click("text=Done receiving")
    page.wait_for_url("**/floor/putaway/")

    assert ReceiptLine.objects.filter(damaged=True).count() == 1
    assert (
        StockQuant.objects.get(product=products["serum"], lot="LOT-42").expires_on.isoformat() == "2030-12-31"
    )
    lamp = StockLevel.objects.get(product=products["lamp"], warehouse=wh)
    assert (lamp.on_hand, lamp.quarantined) == (0, 1)
    assert StockLevel.objects.get(product=products["mug"], warehouse=wh).on_hand == 12
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_blind_count_with_recount_and_approval(tablet_page, associate, manager, merchant_a, wh, products):
    page = tablet_page
    location = loc(wh, "A-01-02-1-A")
    inv.stock_receive(
        merchant=merchant_a, product=products["lamp"], warehouse=wh, quantity=20, location=location
    )
    count, _ = services.count_create(location=location, product=products["lamp"])
    login(page, associate, "pw-associate-123")
    page.goto(f"{BASE}/counts/{count.pk}/")
    assert "20" not in page.locator("main").inner_text()  # blind: the expected figure is not shown
    scan(page, "12")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=please recount")
    page.wait_for_selector("h1:has-text('Recount')")
    scan(page, "14")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=needs a manager")
    count.refresh_from_db()
    assert count.status == CycleCount.Status.APPROVAL

    page.context.clear_cookies()
    login(page, manager, "pw-manager-123")
    page.goto(f"{BASE}/counts/approvals/")
    page.click("button[value=approve]")
    page.wait_for_selector("text=approved")
    count.refresh_from_db()
    assert count.status == CycleCount.Status.DONE
    assert StockQuant.objects.get(product=products["lamp"], location=location).quantity == 14
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_receive_and_grade_a_return(tablet_page, associate, merchant_a, wh, products):
    mug = products["mug"]
    order = Order.objects.create(merchant=merchant_a, external_id="W1", number="5001", status="shipped")
    OrderLine.objects.create(
        order=order, product=mug, sku="MUG", quantity=2, shipped_quantity=2, unit_price=Decimal("12.00")
    )
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="damaged", lines=[(mug, 2)], warehouse=wh
    )
    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto(f"{BASE}/returns/")
    scan(page, f"RMA:{rma.number}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/returns/{rma.pk}/")
    scan(page, "036000291452")
    page.check("input[value=restock]")
    page.click("text=Grade unit")
    page.wait_for_selector("text=graded Restock")
    scan(page, "036000291452")
    page.check("input[value=quarantine]")
    page.click("text=Grade unit")
    page.wait_for_selector("text=graded Quarantine")
    page.click("text=Finish")
    page.wait_for_url("**/floor/returns/")
    rma.refresh_from_db()
    assert rma.status == ReturnAuthorization.Status.PROCESSED
    assert rma.refund_amount == Decimal("24.00")
    level = StockLevel.objects.get(product=mug, warehouse=wh)
    assert (level.on_hand, level.quarantined) == (1, 1)
    assert ledger_drift(merchant_id=merchant_a.pk) == []
