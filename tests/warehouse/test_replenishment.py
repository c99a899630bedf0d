"""Replenishment: a wave that leaves a pick face low asks for stock from reserve; an associate takes the
task on the tablet, scans the reserve location, then the pick face, and the units move through inventory."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel, StockMovement, StockQuant
from warehouse import services
from warehouse.models import ReplenishmentTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_face(wh, released, associate):
    released(("SOCK", 1))  # the face holds 3: after this wave 2 are left (< 5)
    services.wave_create(warehouse=wh, user=associate)
    return ReplenishmentTask.objects.get()


def test_a_wave_leaving_a_pick_face_low_creates_one_task_from_reserve(
    wh, released, associate, products, low_face
):
    task = low_face
    assert (task.product, task.to_location.code, task.from_location.code) == (
        products["SOCK"],
        "A-04-01-1-A",
        "A-04-06-2-A",
    )
    assert task.quantity == 10  # 2 × the threshold, capped by what the reserve holds
    assert task.status == "open"
    released(("SOCK", 1))
    services.wave_create(warehouse=wh, user=associate)
    assert ReplenishmentTask.objects.count() == 1  # one open task per pick face
    # a healthy face asks for nothing
    released(("TEE", 1))
    services.wave_create(warehouse=wh, user=associate)
    assert not ReplenishmentTask.objects.filter(product=products["TEE"]).exists()


def test_take_scan_from_then_to_moves_the_stock(wh, associate, manager, products, low_face):
    task = low_face
    assert services.replenishment_take(task=task, user=associate).taken_by == associate
    assert services.replenishment_take(task=task, user=associate).taken_by == associate  # idempotent

    wrong = services.replenishment_scan(task=task, user=associate, scan_id="1", code="A-04-01-1-A")
    assert not wrong.ok
    assert "Go to A-04-06-2-A" in wrong.message
    assert services.replenishment_scan(task=task, user=associate, scan_id="2", code="A-04-06-2-A").ok
    assert not services.replenishment_scan(task=task, user=associate, scan_id="3", code="A-01-01-1-A").ok
    done = services.replenishment_scan(task=task, user=associate, scan_id="4", code="LOC:A-04-01-1-A")
    assert done.ok
    assert "Done: 10 × SOCK" in done.message
    assert services.replenishment_scan(task=task, user=associate, scan_id="4", code="LOC:A-04-01-1-A").replay

    task.refresh_from_db()
    assert (task.status, task.moved_quantity) == ("done", 10)
    sock = products["SOCK"]
    assert StockQuant.objects.get(product=sock, location=task.to_location).quantity == 13
    assert not StockQuant.objects.filter(product=sock, location=task.from_location, quantity__gt=0).exists()
    move = StockMovement.objects.get(reference=f"replenish:{task.pk}")
    assert (move.type, move.quantity, move.from_location_id, move.to_location_id) == (
        "move",
        10,
        task.from_location_id,
        task.to_location_id,
    )
    level = StockLevel.objects.get(product=sock, warehouse=wh)
    assert level.on_hand == 13  # a move inside the building changes no counter


def test_someone_elses_task_is_refused(associate, manager, low_face):
    services.replenishment_take(task=low_face, user=associate)
    with pytest.raises(services.WarehouseError):
        services.replenishment_take(task=low_face, user=manager)
    r = services.replenishment_scan(task=low_face, user=manager, scan_id="m", code="A-04-06-2-A")
    assert not r.ok
    low_face.refresh_from_db()
    assert low_face.from_confirmed is False


def test_replenishment_screens(client, associate, low_face):
    client.force_login(associate)
    page = client.get("/app/warehouse/replenish/")
    assert page.status_code == 200
    assert b"A-04-06-2-A" in page.content
    resp = client.post(f"/app/warehouse/replenish/{low_face.pk}/take/")
    assert resp.status_code == 302
    assert resp["Location"] == f"/app/warehouse/replenish/{low_face.pk}/"
    screen = client.get(resp["Location"])
    assert b"data-scan-queue" in screen.content
    assert b'id="next-location">A-04-06-2-A' in screen.content
    scan = client.post(
        f"/app/warehouse/replenish/{low_face.pk}/scan/",
        {"code": "A-04-06-2-A", "scan_id": "a"},
        HTTP_HX_REQUEST="true",
    )
    assert b'id="next-location">A-04-01-1-A' in scan.content
    client.post(f"/app/warehouse/replenish/{low_face.pk}/scan/", {"code": "A-04-01-1-A", "scan_id": "b"})
    low_face.refresh_from_db()
    assert low_face.status == "done"
