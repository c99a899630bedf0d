"""On a tablet: an associate opens a build-kit task, scans the components (a wrong one is refused), confirms
a partial build, then the rest; the stock moves and the task is done."""

from __future__ import annotations

import pytest

from inventory import services as inventory
from inventory.models import StockLevel
from tests.conftest import browser_login
from warehouse import kitting
from warehouse.models import KitBuildTask

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def settled(page):
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        " && !document.querySelector('form[data-scan-queue][data-pending]:not([data-pending=\"0\"])')"
    )


def scan(page, text):
    settled(page)
    with page.expect_response(lambda r: "/scan/" in r.url and r.request.method == "POST"):
        page.fill(".scan-input", text)
        page.keyboard.press("Enter")
    settled(page)


def test_associate_builds_kits_by_scanning(tablet_page, merchant_a, wh, products, associate):
    from allauth.account.models import EmailAddress

    kit = inventory.product_create(
        merchant=merchant_a,
        sku="GIFTSET",
        name="Gift set",
        components=[(products["TEE"], 1), (products["MUG"], 2)],
    )
    task = kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=2)
    EmailAddress.objects.get_or_create(
        user=associate, email=associate.email, defaults={"verified": True, "primary": True}
    )
    page = tablet_page
    browser_login(page, associate.email, "pw-associate-123")
    page.goto("/app/warehouse/kits/floor/")
    page.click(f"tr[data-task='{task.pk}'] a")
    page.wait_for_url(f"**/kits/floor/{task.pk}/")
    assert page.inner_text("#to-build").startswith("2 × GIFTSET")
    assert page.evaluate("document.activeElement.classList.contains('scan-input')")

    scan(page, "CAP")
    assert page.locator(".scan-msg.bad").inner_text() == "Not a component of GIFTSET."
    scan(page, "TEE")
    scan(page, "MUG")
    scan(page, "MUG")
    assert page.locator("tr[data-sku='MUG'] .scanned").inner_text() == "2"
    assert page.evaluate("document.activeElement.classList.contains('scan-input')")
    # one kit's components scanned: confirm a partial build of 1
    with page.expect_response(lambda r: "/scan/" in r.url):
        page.click("#confirm")
    settled(page)
    assert page.locator(".scan-msg.ok").inner_text() == "Built 1 × GIFTSET. 1 more to build (1 done)."
    assert StockLevel.objects.get(product=kit, warehouse=wh).on_hand == 1

    # the second kit: a case count for the mugs
    scan(page, "TEE")
    page.fill(".qty-input", "2")
    scan(page, "MUG")
    with page.expect_response(lambda r: "/scan/" in r.url):
        page.click("#confirm")
    settled(page)
    assert page.inner_text("#done") == "Done"
    task.refresh_from_db()
    assert (task.status, task.built_quantity) == (KitBuildTask.Status.DONE, 2)
    assert StockLevel.objects.get(product=kit, warehouse=wh).on_hand == 2
    assert StockLevel.objects.get(product=products["MUG"], warehouse=wh).on_hand == 16
