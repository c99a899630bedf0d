"""Build-kit tasks (warehouse.kitting): the merchant asks, staff scan components and confirm what they built
(partial builds allowed), stock moves through inventory's kit_build, billing gets inventory.kits_built."""

from __future__ import annotations

import pytest

from fulfil.models import OutboxEvent
from inventory import services as inventory
from inventory.models import StockLevel, StockMovement
from inventory.reconcile import ledger_drift
from inventory.selectors import stock_available
from tests.factories import MerchantFactory
from warehouse import kitting
from warehouse.exceptions import WarehouseError
from warehouse.models import KitBuildTask, ScanEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit(merchant_a, products):
    return inventory.product_create(
        merchant=merchant_a,
        sku="GIFTSET",
        name="Gift set",
        components=[(products["TEE"], 1), (products["MUG"], 2)],
    )


def on_hand(product, wh):
    return StockLevel.objects.get(product=product, warehouse=wh).on_hand


def test_partial_then_full_build_moves_stock_and_emits_kits_built(merchant_a, wh, products, kit, associate):
    task = kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=3)
    # scan components for 2 kits: 2 tees, 4 mugs (a case of 4 as one scan with a count)
    assert kitting.kit_task_scan(task=task, user=associate, scan_id="s1", code="TEE").ok
    assert kitting.kit_task_scan(task=task, user=associate, scan_id="s2", code="TEE").ok
    r = kitting.kit_task_scan(task=task, user=associate, scan_id="s3", code="MUG", quantity=4)
    assert r.message == "4 of 6 MUG. Kits ready to confirm: 2."
    # a replayed scan changes nothing
    assert kitting.kit_task_scan(task=task, user=associate, scan_id="s3", code="MUG", quantity=4).replay
    task.refresh_from_db()
    assert kitting.kits_ready(task) == 2
    # more than scanned is refused, nothing moves
    with pytest.raises(WarehouseError, match="make 2 kit"):
        kitting.kit_task_confirm(task=task, user=associate, quantity=3)
    assert on_hand(products["TEE"], wh) == 20
    done = kitting.kit_task_confirm(task=task, user=associate, quantity=2)
    assert (done.status, done.built_quantity, done.remaining) == ("open", 2, 1)
    assert on_hand(products["TEE"], wh) == 18
    assert on_hand(products["MUG"], wh) == 16
    assert on_hand(kit, wh) == 2
    ev = OutboxEvent.objects.get(event_type="inventory.kits_built")
    assert ev.payload["quantity"] == 2
    assert ev.payload["task_id"] == task.pk
    assert ev.payload["warehouse"] == "WH1"
    # the last kit
    kitting.kit_task_scan(task=task, user=associate, scan_id="s4", code="TEE")
    kitting.kit_task_scan(task=task, user=associate, scan_id="s5", code="MUG", quantity=2)
    result = kitting.kit_task_confirm_scan(task=task, user=associate, scan_id="c2", quantity=1)
    assert result.message == "Built 1 × GIFTSET. Task done: 3 built."
    # a retried tap builds nothing more
    assert kitting.kit_task_confirm_scan(task=task, user=associate, scan_id="c2", quantity=1).replay
    task.refresh_from_db()
    assert (task.status, task.built_quantity) == ("done", 3)
    assert on_hand(kit, wh) == 3
    assert StockMovement.objects.filter(type="kit_build", product=kit).count() == 2
    assert OutboxEvent.objects.filter(event_type="inventory.kits_built").count() == 2
    # 3 built + min(17 tees // 1, 14 mugs // 2) = 3 + 7
    assert stock_available(merchant=merchant_a, product=kit, warehouse=wh) == 10
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_wrong_scans_are_refused(merchant_a, wh, products, kit, associate):
    task = kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=1)
    assert kitting.kit_task_scan(task=task, user=associate, scan_id="w1", code="CAP").message == (
        "Not a component of GIFTSET."
    )
    assert not kitting.kit_task_scan(task=task, user=associate, scan_id="w2", code="TEE", quantity=2).ok
    task.refresh_from_db()
    assert task.scanned == {}
    assert ScanEvent.objects.filter(screen="kit_build", ok=False).count() == 2


def test_create_refuses_foreign_or_non_kits(merchant_a, wh, products, kit):
    other = MerchantFactory()
    with pytest.raises(WarehouseError):
        kitting.kit_task_create(merchant=other, kit=kit, warehouse=wh, quantity=1)
    with pytest.raises(WarehouseError):
        kitting.kit_task_create(merchant=merchant_a, kit=products["TEE"], warehouse=wh, quantity=1)
    with pytest.raises(WarehouseError):
        kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=0)
    assert KitBuildTask.objects.count() == 0


def test_merchant_requests_and_cancels_from_the_inventory_pages(client_a, merchant_a, wh, products, kit):
    page = client_a.get(f"/app/warehouse/kits/?kit={kit.sku}")
    assert page.status_code == 200
    assert b"GIFTSET" in page.content
    resp = client_a.post("/app/warehouse/kits/", {"kit": "GIFTSET", "warehouse": "WH1", "quantity": "5"})
    assert resp.status_code == 302
    task = KitBuildTask.objects.get()
    assert (task.merchant_id, task.quantity, task.status) == (merchant_a.pk, 5, "open")
    bad = client_a.post("/app/warehouse/kits/", {"kit": "TEE", "warehouse": "WH1", "quantity": "5"})
    assert bad.status_code == 400
    assert KitBuildTask.objects.count() == 1
    detail = client_a.get(f"/app/inventory/products/{kit.pk}/")
    assert b"Build kits ahead" in detail.content
    client_a.post(f"/app/warehouse/kits/{task.pk}/cancel/")
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_staff_of_another_warehouse_get_403_and_merchant_b_404(
    client, client_a, merchant_a, wh, products, kit
):
    from accounts.models import User
    from tests.factories import MembershipFactory

    task = kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=1)
    elsewhere = User.objects.create_user(
        "far@fulfil.example", "pw-far-123", operator_role=User.OperatorRole.ASSOCIATE, is_staff=True
    )
    elsewhere.warehouse_codes = ["WH9"]
    elsewhere.save(update_fields=["warehouse_codes"])
    client.force_login(elsewhere)
    assert client.get(f"/app/warehouse/kits/floor/{task.pk}/").status_code == 403
    assert (
        client.post(f"/app/warehouse/kits/floor/{task.pk}/scan/", {"scan_id": "x", "code": "TEE"}).status_code
        == 403
    )
    assert b"GIFTSET" not in client.get("/app/warehouse/kits/floor/").content
    task.refresh_from_db()
    assert task.scanned == {}
    mb = MembershipFactory()
    client.force_login(mb.user)
    assert client.post(f"/app/warehouse/kits/{task.pk}/cancel/").status_code == 404
    task.refresh_from_db()
    assert task.status == "open"


def test_an_order_for_kits_picks_a_built_kit_as_the_kit_and_the_rest_as_components(
    merchant_a, wh, products, kit, released, associate
):
    from inventory.models import Allocation
    from orders.models import Order
    from tests.warehouse.test_services import pick_all
    from warehouse import services
    from warehouse.models import BatchOrder, PackSession, PickTask

    kit.status = "active"
    kit.save(update_fields=["status"])
    inventory.kit_build(merchant=merchant_a, kit=kit, warehouse=wh, quantity=1)
    order = released(("GIFTSET", 2))
    line = order.lines.get()
    parent = Allocation.objects.get(reference=line.reference, parent__isnull=True)
    assert (parent.allocated, parent.prebuilt) == (2, 1)
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    tasks = sorted(PickTask.objects.filter(batch=batch).values_list("product__sku", "quantity"))
    assert tasks == [("GIFTSET", 1), ("MUG", 2), ("TEE", 1)]
    services.batch_start(batch=batch, user=associate)
    pick_all(batch, associate)
    parent.refresh_from_db()
    assert parent.picked == 1
    tote = BatchOrder.objects.get(batch=batch).tote
    session = services.pack_open(warehouse=wh, user=associate, code=f"TOTE:{tote}")
    assert services.pack_expected(session) == {line.pk: 2}
    assert services.pack_verify(session=session, user=associate, scan_id="p1", code="GIFTSET").ok
    assert services.pack_verify(session=session, user=associate, scan_id="p2", code="GIFTSET").ok
    session.refresh_from_db()
    assert session.status == PackSession.Status.PACKED
    order.refresh_from_db()
    assert order.status == Order.Status.PACKED
    assert inventory.stock_ship(merchant=merchant_a, reference=line.reference) == 1 + 2 + 1
    assert on_hand(kit, wh) == 0
    assert on_hand(products["TEE"], wh) == 18
    assert on_hand(products["MUG"], wh) == 16
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_a_manager_asks_for_kits_for_a_merchant_an_associate_cannot(
    client, merchant_a, wh, kit, manager, associate
):
    client.force_login(associate)
    refused = client.post(
        "/app/warehouse/kits/floor/", {"merchant": merchant_a.slug, "kit": "GIFTSET", "quantity": 3}
    )
    assert refused.status_code == 403
    assert KitBuildTask.objects.count() == 0
    client.force_login(manager)
    bad = client.post(
        "/app/warehouse/kits/floor/", {"merchant": merchant_a.slug, "kit": "TEE", "quantity": 3}
    )
    assert bad.status_code == 400
    ok = client.post(
        "/app/warehouse/kits/floor/", {"merchant": merchant_a.slug, "kit": "GIFTSET", "quantity": 3}
    )
    assert ok.status_code == 302
    task = KitBuildTask.objects.get()
    assert (task.merchant_id, task.warehouse_id, task.quantity, task.requested_by_id) == (
        merchant_a.pk,
        wh.pk,
        3,
        manager.pk,
    )
    assert b"GIFTSET" in client.get("/app/warehouse/kits/floor/").content


def test_a_manager_takes_free_built_kits_apart(client, merchant_a, wh, products, kit, manager):
    inventory.kit_build(merchant=merchant_a, kit=kit, warehouse=wh, quantity=3)
    inventory.stock_reserve(merchant=merchant_a, product=kit, warehouse=wh, quantity=1, reference="o1")
    client.force_login(manager)
    too_many = client.post(
        "/app/warehouse/kits/floor/",
        {"merchant": merchant_a.slug, "kit": "GIFTSET", "quantity": 3, "action": "unbuild"},
    )
    assert too_many.status_code == 400
    assert on_hand(kit, wh) == 3
    ok = client.post(
        "/app/warehouse/kits/floor/",
        {"merchant": merchant_a.slug, "kit": "GIFTSET", "quantity": 2, "action": "unbuild"},
    )
    assert ok.status_code == 302
    assert on_hand(kit, wh) == 1
    assert on_hand(products["TEE"], wh) == 19
    assert on_hand(products["MUG"], wh) == 18
    assert KitBuildTask.objects.count() == 0
    assert ledger_drift(merchant_id=merchant_a.pk) == []
