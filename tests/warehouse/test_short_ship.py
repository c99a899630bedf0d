"""A short pick with nowhere else to pick from: the packer ships what was picked (only those units leave
through the ledger), the order is partially shipped, the rest stays reserved and is picked and shipped on a
later cart."""

from __future__ import annotations

import pytest

from inventory.models import Allocation, StockLevel, StockMovement, StockQuant
from orders.models import Order
from tests.carriers.conftest import make_account
from warehouse import services
from warehouse.models import BatchOrder, PackSession, PickTask

pytestmark = pytest.mark.django_db


def _pick_and_pack(wh, batch, user, *, short_sku=None, short_after=0, sid="s"):
    services.batch_start(batch=batch, user=user)
    n = 0
    while (
        task := PickTask.objects.filter(batch=batch, status="pending").order_by("sequence").first()
    ) is not None:
        assert services.pick_scan(batch=batch, user=user, scan_id=f"{sid}{n}l", code=task.location.code).ok
        if task.product.sku == short_sku:
            if short_after:
                r = services.pick_scan(
                    batch=batch, user=user, scan_id=f"{sid}{n}i", code=task.product.sku, quantity=short_after
                )
                assert r.ok, r.message
            r = services.pick_short(batch=batch, user=user, scan_id=f"{sid}{n}s")
            assert "backordered" in r.message
        else:
            r = services.pick_scan(
                batch=batch, user=user, scan_id=f"{sid}{n}i", code=task.product.sku, quantity=task.remaining
            )
            assert r.ok, r.message
        n += 1
    bo = BatchOrder.objects.get(batch=batch)
    session = services.pack_open(warehouse=wh, user=user, code=f"TOTE:{bo.tote}")
    for line_id, due in services.pack_expected(session).items():
        sku = PickTask.objects.filter(line_id=line_id).first().product.sku
        for u in range(due):
            assert services.pack_verify(
                session=session, user=user, scan_id=f"{sid}v{line_id}-{u}", code=sku
            ).ok
    session.refresh_from_db()
    assert session.status == PackSession.Status.PACKED
    return session


def test_short_picked_order_ships_what_was_picked_and_the_rest_later(
    wh, released, associate, products, fake_easypost
):
    make_account(fake_easypost, carrier="usps")
    # given an order for 3 TEE (one shelf, nothing in reserve) and 1 CAP
    order = released(("TEE", 3), ("CAP", 1))
    tee, cap = products["TEE"], products["CAP"]
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()

    # when the picker finds only 1 TEE on the shelf and the packer ships the tote
    session = _pick_and_pack(wh, batch, associate, short_sku="TEE", short_after=1)
    assert BatchOrder.objects.get(batch=batch).status == BatchOrder.Status.SHORT
    assert services.pack_expected(session) == {
        order.lines.get(sku="TEE").pk: 1,
        order.lines.get(sku="CAP").pk: 1,
    }
    services.pack_ship(session=session, user=associate, weight_g=700)

    # then the order is partially shipped: 1 TEE + 1 CAP left, 2 TEE still open and reserved
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    tee_line, cap_line = order.lines.get(sku="TEE"), order.lines.get(sku="CAP")
    assert (tee_line.shipped_quantity, tee_line.open_quantity, tee_line.allocated_quantity) == (1, 2, 2)
    assert (cap_line.shipped_quantity, cap_line.open_quantity) == (1, 0)
    # only the picked units went through the ledger
    ships = StockMovement.objects.filter(type="ship", reference=tee_line.reference)
    assert sum(ships.values_list("quantity", flat=True)) == 1
    level = StockLevel.objects.get(product=tee, warehouse=wh)
    assert (level.on_hand, level.reserved) == (19, 2)
    alloc = Allocation.objects.get(reference=tee_line.reference)
    assert (alloc.requested, alloc.allocated, alloc.picked, alloc.shipped, alloc.status) == (
        3,
        2,
        0,
        1,
        "open",
    )
    assert StockLevel.objects.get(product=cap, warehouse=wh).on_hand == 19
    assert BatchOrder.objects.get(batch=batch).status == BatchOrder.Status.SHIPPED

    # and the rest is picked on a later cart (say the units turned up) and ships: the order is complete
    second = services.wave_create(warehouse=wh, user=associate).batches.get()
    tasks = list(PickTask.objects.filter(batch=second))
    assert [(t.product.sku, t.quantity) for t in tasks] == [("TEE", 2)]
    session2 = _pick_and_pack(wh, second, associate, sid="t")
    services.pack_ship(session=session2, user=associate, weight_g=600)
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    tee_line.refresh_from_db()
    assert (tee_line.shipped_quantity, tee_line.open_quantity) == (3, 0)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (17, 0)
    assert StockQuant.objects.get(product=tee, location__type="pick").quantity == 17


def test_short_pick_backordered_when_no_stock_left(wh, released, associate, products, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    # given SOCK 3 on the face + 10 in reserve, an order for 13 SOCK and 1 TEE; the face is empty in fact
    order = released(("SOCK", 13), ("TEE", 1))
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()
    services.batch_start(batch=batch, user=associate)
    # the picker picks TEE and the reserve's 10 SOCK, and finds no SOCK at the face
    n = 0
    while (
        task := PickTask.objects.filter(batch=batch, status="pending").order_by("sequence").first()
    ) is not None:
        services.pick_scan(batch=batch, user=associate, scan_id=f"x{n}l", code=task.location.code)
        if task.product.sku == "SOCK" and task.location.type == "pick":
            services.pick_short(batch=batch, user=associate, scan_id=f"x{n}s")
        else:
            services.pick_scan(
                batch=batch, user=associate, scan_id=f"x{n}i", code=task.product.sku, quantity=task.remaining
            )
        n += 1
    bo = BatchOrder.objects.get(batch=batch)
    assert bo.status == BatchOrder.Status.SHORT
    session = services.pack_open(warehouse=wh, user=associate, code=bo.tote)
    sock_line = order.lines.get(sku="SOCK")
    assert services.pack_expected(session)[sock_line.pk] == 10
    for line_id, due in services.pack_expected(session).items():
        sku = PickTask.objects.filter(line_id=line_id).first().product.sku
        for u in range(due):
            services.pack_verify(session=session, user=associate, scan_id=f"v{line_id}-{u}", code=sku)
    services.pack_ship(session=session, user=associate, weight_g=900)
    order.refresh_from_db()
    sock_line.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    assert (sock_line.shipped_quantity, sock_line.open_quantity) == (10, 3)
    # the 3 missing units are re-reserved against what the ledger still shows (the face's 3, to be
    # recounted): reserved, not shipped
    level = StockLevel.objects.get(product=products["SOCK"], warehouse=wh)
    assert (level.on_hand, level.reserved) == (3, 3)
