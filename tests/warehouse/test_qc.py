"""Quality checklists at picking and packing (US-018): shown when a product's category needs one (sampled
per checklist rate), pass/fail recorded, a failure quarantines the unit with the reason and keeps it out of
the parcel."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel, StockQuant
from orders.models import Order
from tests.carriers.conftest import make_account
from warehouse import selectors, services
from warehouse.models import BatchOrder, PackingRule, PackSession, PickTask, QcChecklist, QcResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def apparel(products, merchant_a):
    PackingRule.objects.create(merchant=merchant_a, product=products["TEE"], qc_category="apparel")
    pick = QcChecklist.objects.create(
        category="apparel", stage="pick", name="Shelf check", questions=["Right size?", "No stains?"]
    )
    pack = QcChecklist.objects.create(
        category="apparel", stage="pack", name="Bench check", questions=["Folded?"]
    )
    return pick, pack


def _cart(wh, released, user, *lines):
    order = released(*lines)
    batch = services.wave_create(warehouse=wh, user=user).batches.get()
    services.batch_start(batch=batch, user=user)
    return order, batch


def test_checklist_is_chosen_by_category_then_catch_all(products, apparel):
    pick, pack = apparel
    catch_all = QcChecklist.objects.create(category="", stage="pack", name="Any", questions=["Clean?"])
    assert selectors.qc_checklist_for(product_id=products["TEE"].pk, stage="pick") == pick
    assert selectors.qc_checklist_for(product_id=products["TEE"].pk, stage="pack") == pack
    assert selectors.qc_checklist_for(product_id=products["CAP"].pk, stage="pack") == catch_all
    assert selectors.qc_checklist_for(product_id=products["CAP"].pk, stage="pick") is None


def test_sampling_follows_the_rate_and_is_stable(apparel):
    pick, _ = apparel
    pick.sample_pct = 25
    draws = [services._sampled(pick, f"pick:{i}") for i in range(2000)]
    assert 0.2 < sum(draws) / 2000 < 0.3
    assert draws == [services._sampled(pick, f"pick:{i}") for i in range(2000)]
    pick.sample_pct = 0
    assert not any(services._sampled(pick, f"pick:{i}") for i in range(100))


def test_pick_checklist_blocks_the_item_scan_until_passed(wh, released, associate, apparel):
    _, batch = _cart(wh, released, associate, ("TEE", 1))
    task = PickTask.objects.get(batch=batch)
    assert services.pick_scan(batch=batch, user=associate, scan_id="l", code=task.location.code).ok
    refused = services.pick_scan(batch=batch, user=associate, scan_id="i", code="TEE")
    assert not refused.ok
    assert "checklist" in refused.message
    task.refresh_from_db()
    assert task.picked_quantity == 0
    assert services.pick_qc(batch=batch, user=associate, scan_id="q", failed_questions=[]).ok
    assert services.pick_scan(batch=batch, user=associate, scan_id="i2", code="TEE").ok
    task.refresh_from_db()
    assert task.status == PickTask.Status.PICKED
    r = QcResult.objects.get()
    assert (r.stage, r.passed, r.pick_task_id, r.quarantined) == ("pick", True, task.pk, 0)


def test_pick_checklist_failure_quarantines_the_unit_with_the_reason(
    wh, released, associate, products, apparel
):
    _, batch = _cart(wh, released, associate, ("TEE", 1))
    task = PickTask.objects.get(batch=batch)
    services.pick_scan(batch=batch, user=associate, scan_id="l", code=task.location.code)
    r = services.pick_qc(
        batch=batch, user=associate, scan_id="q", failed_questions=["No stains?"], reason="ink"
    )
    assert not r.ok
    assert "quarantine" in r.message
    res = QcResult.objects.get()
    assert (res.passed, res.failed_questions, res.reason, res.quarantined) == (
        False,
        ["No stains?"],
        "ink",
        1,
    )
    assert StockQuant.objects.get(product=products["TEE"], location=task.location).quantity == 19
    assert StockQuant.objects.get(product=products["TEE"], location__type="quarantine").quantity == 1
    level = StockLevel.objects.get(product=products["TEE"], warehouse=wh)
    assert (level.on_hand, level.quarantined, level.reserved) == (19, 1, 1)  # the order keeps its unit
    # the next unit is checked too; it passes and is picked
    assert services.pick_qc(batch=batch, user=associate, scan_id="q2", failed_questions=[]).ok
    assert services.pick_scan(batch=batch, user=associate, scan_id="i", code="TEE").ok


def test_pack_checklist_failure_keeps_the_unit_out_of_the_parcel(
    wh, released, associate, products, apparel, fake_easypost
):
    make_account(fake_easypost, carrier="usps")
    pick, _ = apparel
    pick.is_active = False
    pick.save()
    order, batch = _cart(wh, released, associate, ("TEE", 2), ("CAP", 1))
    for i, task in enumerate(PickTask.objects.filter(batch=batch).order_by("sequence")):
        services.pick_scan(batch=batch, user=associate, scan_id=f"l{i}", code=task.location.code)
        services.pick_scan(
            batch=batch, user=associate, scan_id=f"i{i}", code=task.product.sku, quantity=task.quantity
        )
    session = services.pack_open(warehouse=wh, user=associate, code=BatchOrder.objects.get(batch=batch).tote)
    tee_line = order.lines.get(sku="TEE")

    r = services.pack_verify(session=session, user=associate, scan_id="v1", code="TEE")
    assert "checklist" in r.message
    blocked = services.pack_verify(session=session, user=associate, scan_id="v2", code="CAP")
    assert not blocked.ok  # nothing else until the check is answered
    r = services.pack_qc(
        session=session, user=associate, scan_id="q1", failed_questions=["Folded?"], reason="torn"
    )
    assert not r.ok
    assert "does not ship" in r.message
    assert services.pack_expected(session)[tee_line.pk] == 1
    assert StockQuant.objects.get(product=products["TEE"], location__type="quarantine").quantity == 1

    assert (
        "checklist" in services.pack_verify(session=session, user=associate, scan_id="v3", code="TEE").message
    )
    assert services.pack_qc(session=session, user=associate, scan_id="q2", failed_questions=[]).ok
    r = services.pack_verify(session=session, user=associate, scan_id="v4", code="CAP")
    assert "All items verified" in r.message
    session.refresh_from_db()
    assert session.status == PackSession.Status.PACKED

    services.pack_ship(session=session, user=associate, weight_g=800)
    order.refresh_from_db()
    tee_line.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    assert (tee_line.shipped_quantity, tee_line.open_quantity) == (1, 1)
    level = StockLevel.objects.get(product=products["TEE"], warehouse=wh)
    assert (level.on_hand, level.quarantined, level.reserved) == (18, 1, 1)
    assert QcResult.objects.filter(stage="pack").count() == 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_checklists_on_the_pick_and_pack_screens(tablet_page, wh, released, associate, products, apparel):
    from tests.warehouse.test_browser import login, scan, settled

    _order, batch = _cart(wh, released, associate, ("TEE", 1))
    task = PickTask.objects.get(batch=batch)
    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto(f"/app/warehouse/batches/{batch.pk}/pick/")
    page.on("dialog", lambda d: d.accept())
    scan(page, task.location.code)
    assert page.locator("form[data-qc]").is_visible()
    assert page.locator("form[data-qc] label.qc-q").count() == 3  # two questions + the reason

    page.check("input[value='No stains?']")
    page.fill("form[data-qc] input[name=reason]", "ink on the sleeve")
    with page.expect_response(lambda r: "/scan/" in r.url):
        page.click("#qc-fail")
    settled(page)
    assert "put it in quarantine" in page.inner_text(".scan-msg.bad")
    with page.expect_response(lambda r: "/scan/" in r.url):
        page.click("#qc-pass")
    settled(page)
    assert "passed the check" in page.inner_text(".scan-msg.ok")
    assert page.locator("form[data-qc]").count() == 0
    scan(page, "TEE")
    assert page.locator("text=Cart complete").is_visible()
    failed = QcResult.objects.get(passed=False)
    assert (failed.reason, failed.failed_questions, failed.quarantined) == (
        "ink on the sleeve",
        ["No stains?"],
        1,
    )

    page.goto("/app/warehouse/pack/")
    page.fill(".scan-input", BatchOrder.objects.get(batch=batch).tote)
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/warehouse/pack/*/")
    scan(page, "TEE")
    assert page.locator("form[data-qc]").is_visible()
    with page.expect_response(lambda r: "/scan/" in r.url):
        page.click("#qc-pass")
    settled(page)
    assert "All items verified" in page.inner_text(".scan-msg.ok")
    assert QcResult.objects.filter(stage="pack", passed=True).count() == 1
