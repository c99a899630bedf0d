"""End to end on a tablet viewport: a picker completes a cart of 3 orders by scanning (a wrong scan and a
short pick included); a packer packs and ships an order with a label from the fake EasyPost server."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.carriers.conftest import make_account
from tests.conftest import browser_login
from warehouse import services
from warehouse.models import BatchOrder, FloorMetric, PickTask

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, user, password):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    browser_login(page, user.email, password)


def settled(page):
    """No HTMX swap in progress and no scan waiting in the screen's queue."""
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


def test_picker_completes_a_cart_of_three_orders_by_scanning(tablet_page, wh, released, associate):
    page = tablet_page
    orders = [released(("TEE", 1)), released(("CAP", 2)), released(("SOCK", 1), ("MUG", 1))]
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    assert batch.orders.count() == 3

    login(page, associate, "pw-associate-123")
    page.goto(f"/app/warehouse/batches/{batch.pk}/pick/")
    page.on("dialog", lambda d: d.accept())

    # A wrong location is refused with a plain message and a red cue; nothing moves on.
    first = page.inner_text("#next-location")
    scan(page, "A-99-99-1-A")
    assert page.locator(".scan-msg.bad").inner_text().startswith("Wrong location")
    assert page.inner_text("#next-location") == first
    assert page.evaluate("document.activeElement.classList.contains('scan-input')")

    shorted = False
    for _ in range(20):
        if page.locator("text=Cart complete").count():
            break
        location = page.inner_text("#next-location")
        if page.get_attribute("#step", "data-step") == "location":
            scan(page, f"LOC:{location}")
            assert page.locator(".scan-msg.ok").count() == 1
        sku = page.inner_text("#sku")
        if sku == "SOCK" and not shorted:
            with page.expect_response(lambda r: "/scan/" in r.url):
                page.click("text=Not there")
            settled(page)
            assert "Pick it from" in page.inner_text(".scan-msg.ok")
            shorted = True
            continue
        qty = page.inner_text("#qty")
        if int(qty) > 1:
            page.fill(".qty-input", qty)
        scan(page, sku)
    assert page.locator("text=Cart complete").is_visible()

    assert shorted
    assert PickTask.objects.filter(batch=batch, status="pending").count() == 0
    assert PickTask.objects.filter(batch=batch, status="short").count() == 1
    assert set(BatchOrder.objects.filter(batch=batch).values_list("status", flat=True)) == {"picked"}
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.PICKING
    assert FloorMetric.objects.filter(kind="mis_scan").count() == 1
    assert FloorMetric.objects.filter(kind="short_pick").count() == 1


def test_packer_packs_and_ships_an_order_with_a_fake_easypost_label(
    tablet_page, wh, released, associate, fake_easypost
):
    from integrations.carriers.models import Shipment

    make_account(fake_easypost, carrier="usps")
    order = released(("TEE", 1), ("CAP", 1))
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()
    services.batch_start(batch=batch, user=associate)
    for i, task in enumerate(PickTask.objects.filter(batch=batch).order_by("sequence")):
        services.pick_scan(batch=batch, user=associate, scan_id=f"l{i}", code=task.location.code)
        services.pick_scan(batch=batch, user=associate, scan_id=f"i{i}", code=task.product.sku)
    tote = BatchOrder.objects.get(batch=batch).tote

    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto("/app/warehouse/pack/")
    page.fill(".scan-input", f"TOTE:{tote}")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/warehouse/pack/*/")

    scan(page, "MUG")  # not in this order: blocked
    assert "not in this order" in page.inner_text(".scan-msg.bad")
    scan(page, "TEE")
    scan(page, "CAP")
    assert "All items verified" in page.inner_text(".scan-msg.ok")
    assert page.locator("#packpanel svg polygon").count() >= 3  # the 3D diagram
    box = page.inner_text("#box-code")
    assert box

    with page.expect_response(lambda r: "/ship/" in r.url):
        page.fill("input[name=weight_g]", "640")
        page.keyboard.press("Enter")
    settled(page)
    assert page.locator("#shipped").is_visible()

    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    shipment = Shipment.objects.get(order=order)
    assert shipment.tracking_number
    zpl = page.request.get(page.url + "label/1.zpl").text()
    assert zpl.startswith("^XA")
    assert shipment.tracking_number in zpl
    slip = page.request.get(page.url + "slip.pdf")
    assert slip.body().startswith(b"%PDF")
    assert FloorMetric.objects.filter(kind="box_util").count() == 1


def test_short_pick_then_the_packer_ships_what_was_picked(
    tablet_page, wh, released, associate, fake_easypost
):
    make_account(fake_easypost, carrier="usps")
    order = released(("TEE", 2), ("CAP", 1))  # TEE has one shelf and no reserve
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()

    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto(f"/app/warehouse/batches/{batch.pk}/pick/")
    page.on("dialog", lambda d: d.accept())
    for _ in range(10):
        if page.locator("text=Cart complete").count():
            break
        if page.get_attribute("#step", "data-step") == "location":
            scan(page, f"LOC:{page.inner_text('#next-location')}")
        sku = page.inner_text("#sku")
        if sku == "TEE":
            scan(page, "TEE")  # one unit found…
            with page.expect_response(lambda r: "/scan/" in r.url):
                page.click("text=Not there")  # …the other is not there
            settled(page)
            assert "backordered" in page.inner_text(".scan-msg.ok")
            continue
        scan(page, sku)
    assert page.locator("text=Cart complete").is_visible()
    tote = BatchOrder.objects.get(batch=batch).tote

    page.goto("/app/warehouse/pack/")
    page.fill(".scan-input", tote)
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/warehouse/pack/*/")
    scan(page, "TEE")
    scan(page, "CAP")
    assert "All items verified" in page.inner_text(".scan-msg.ok")
    with page.expect_response(lambda r: "/ship/" in r.url):
        page.fill("input[name=weight_g]", "600")
        page.keyboard.press("Enter")
    settled(page)
    assert "1 more unit stays open" in page.inner_text(".scan-msg.ok")
    assert page.locator("#shipped").is_visible()

    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    tee = order.lines.get(sku="TEE")
    assert (tee.shipped_quantity, tee.open_quantity) == (1, 1)
