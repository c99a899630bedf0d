"""Waves, picking scans, short picks, packing and QC through the services."""

from __future__ import annotations

import pytest

from inventory.models import Location, StockQuant
from orders.models import Order
from warehouse import services
from warehouse.models import Batch, BatchOrder, FloorMetric, PackSession, PickTask, ScanEvent

pytestmark = pytest.mark.django_db


def pick_all(batch, user, *, sid="s"):
    """Scan location then item for every pending task."""
    n = 0
    while (
        task := PickTask.objects.filter(batch=batch, status="pending").order_by("sequence").first()
    ) is not None:
        assert services.pick_scan(batch=batch, user=user, scan_id=f"{sid}{n}a", code=task.location.code).ok
        r = services.pick_scan(
            batch=batch, user=user, scan_id=f"{sid}{n}b", code=task.product.sku, quantity=task.remaining
        )
        assert r.ok, r.message
        n += 1


def test_wave_batches_released_orders_onto_one_cart_in_route_order(wh, released, associate):
    orders = [released(("TEE", 1)), released(("CAP", 2), ("MUG", 1)), released(("TEE", 1), ("SOCK", 1))]
    wave = services.wave_create(warehouse=wh, user=associate)
    batches = list(Batch.objects.filter(wave=wave))
    assert len(batches) == 1
    batch = batches[0]
    assert sorted(BatchOrder.objects.filter(batch=batch).values_list("order_id", flat=True)) == sorted(
        o.pk for o in orders
    )
    tasks = list(PickTask.objects.filter(batch=batch).order_by("sequence"))
    assert len(tasks) == 5
    assert tasks[-1].product.sku == "MUG"  # fragile last
    assert batch.route_method in {"local-search", "held-karp", "ratliff-rosenthal"}
    assert batch.route_length_m < batch.single_order_length_m


def test_expedited_orders_are_picked_alone(wh, released, associate):
    released(("TEE", 1))
    rush = released(("CAP", 1), service="expedited")
    wave = services.wave_create(warehouse=wh, user=associate)
    alone = Batch.objects.get(wave=wave, orders__order=rush)
    assert alone.single_order is True
    assert alone.orders.count() == 1


def test_picking_refuses_wrong_scans_and_is_idempotent(wh, released, associate):
    order = released(("TEE", 2))
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    services.batch_start(batch=batch, user=associate)
    order.refresh_from_db()
    assert order.status == Order.Status.PICKING
    task = PickTask.objects.get(batch=batch)

    wrong = services.pick_scan(batch=batch, user=associate, scan_id="1", code="A-04-01-1-A")
    assert not wrong.ok
    assert "Wrong location" in wrong.message
    task.refresh_from_db()
    assert task.location_confirmed is False

    assert services.pick_scan(batch=batch, user=associate, scan_id="2", code=f"LOC:{task.location.code}").ok
    assert not services.pick_scan(batch=batch, user=associate, scan_id="3", code="CAP").ok
    assert services.pick_scan(batch=batch, user=associate, scan_id="4", code="TEE").ok
    again = services.pick_scan(batch=batch, user=associate, scan_id="4", code="TEE")  # a retried POST
    assert again.replay
    task.refresh_from_db()
    assert task.picked_quantity == 1
    assert services.pick_scan(batch=batch, user=associate, scan_id="5", code="TEE").ok
    task.refresh_from_db()
    assert task.status == PickTask.Status.PICKED
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PICKED
    assert FloorMetric.objects.filter(kind="mis_scan").count() == 2
    assert ScanEvent.objects.count() == 5
    # the units left the shelf for packing
    shelf = StockQuant.objects.get(product=task.product, location=task.location)
    assert shelf.quantity == 18


def test_short_pick_reallocates_from_reserve_and_requests_a_count(wh, released, associate, products):
    released(("SOCK", 5))  # face has 3, reserve 10: the wave plans 3 from the face + 2 from reserve
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    services.batch_start(batch=batch, user=associate)
    first = PickTask.objects.filter(batch=batch).order_by("sequence").first()
    assert services.pick_scan(batch=batch, user=associate, scan_id="a", code=first.location.code).ok
    result = services.pick_short(batch=batch, user=associate, scan_id="b")
    assert result.ok
    first.refresh_from_db()
    assert first.status == PickTask.Status.SHORT
    assert first.short_quantity == first.quantity
    from fulfil.models import OutboxEvent

    ev = OutboxEvent.objects.get(event_type="warehouse.short_pick")
    assert ev.payload["location_id"] == first.location_id
    assert ev.payload["product_id"] == products["SOCK"].pk


def test_short_pick_without_other_stock_backorders(wh, released, associate):
    released(("TEE", 1))
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    services.batch_start(batch=batch, user=associate)
    r = services.pick_short(batch=batch, user=associate, scan_id="x")
    assert "backordered" in r.message
    assert BatchOrder.objects.get(batch=batch).status == BatchOrder.Status.SHORT


def test_pack_verifies_every_item_then_recommends_a_box(wh, released, associate):
    order = released(("TEE", 1), ("CAP", 1))
    wave = services.wave_create(warehouse=wh, user=associate)
    batch = wave.batches.get()
    services.batch_start(batch=batch, user=associate)
    pick_all(batch, associate)
    tote = BatchOrder.objects.get(batch=batch).tote
    session = services.pack_open(warehouse=wh, user=associate, code=f"TOTE:{tote}")
    assert not services.pack_verify(session=session, user=associate, scan_id="p1", code="MUG").ok
    assert services.pack_verify(session=session, user=associate, scan_id="p2", code="TEE").ok
    session.refresh_from_db()
    assert session.status == PackSession.Status.VERIFYING
    assert services.pack_verify(session=session, user=associate, scan_id="p3", code="CAP").ok
    session.refresh_from_db()
    assert session.status == PackSession.Status.PACKED
    order.refresh_from_db()
    assert order.status == Order.Status.PACKED
    parcels = session.plan["parcels"]
    assert len(parcels) == 1
    assert len(parcels[0]["placements"]) == 2


def test_qc_failure_quarantines_the_unit(wh, products, associate):
    from warehouse.models import QcChecklist

    checklist = QcChecklist.objects.create(category="", stage="pack", name="Visual", questions=["No damage?"])
    loc = Location.objects.get(warehouse=wh, code="A-01-02-1-A")
    res = services.qc_record(
        checklist=checklist,
        product=products["TEE"],
        user=associate,
        failed_questions=["No damage?"],
        location=loc,
    )
    assert res.passed is False
    assert res.quarantined == 1
    q = StockQuant.objects.get(product=products["TEE"], location__type="quarantine")
    assert q.quantity == 1


def test_schedule_makes_one_wave_before_the_cutoff(wh, released):
    import datetime as dt

    released(("TEE", 1))
    wh.cutoff_time = dt.time(15, 0)
    wh.save()
    at = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
    assert services.waves_schedule_due(now=at) == 1
    assert services.waves_schedule_due(now=at) == 0  # nothing left, and once per cut-off
    assert services.waves_schedule_due(now=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)) == 0


def test_demo_loader_seeds_the_box_catalog(wh):
    from warehouse.demo import load
    from warehouse.models import BoxType

    BoxType.objects.all().delete()
    load()
    load()
    assert BoxType.objects.filter(warehouse=wh).count() == 12
