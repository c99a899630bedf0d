"""Read-only outbound API for warehouse staff keys: waves, a cart's pick list in route order; merchant keys
get 403; both endpoints are in the schema."""

from __future__ import annotations

import pytest

from warehouse import services
from warehouse.models import PickTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(wh, released, associate):
    released(("TEE", 1))
    released(("CAP", 2), ("MUG", 1))
    return services.wave_create(warehouse=wh, user=associate)


def test_staff_key_lists_waves_with_their_carts(api_staff, wave):
    resp = api_staff.get("/api/v1/waves/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 1
    w = body["results"][0]
    assert (w["id"], w["warehouse"], w["status"]) == (wave.pk, "WH1", "open")
    batch = wave.batches.get()
    assert w["batches"] == [
        {
            "id": batch.pk,
            "number": batch.number,
            "status": "open",
            "single_order": False,
            "route_length_m": batch.route_length_m,
            "route_method": batch.route_method,
            "orders": 2,
        }
    ]
    assert api_staff.get("/api/v1/waves/?warehouse=NOPE").json()["count"] == 0
    assert api_staff.get("/api/v1/waves/?status=bogus").status_code == 400


def test_staff_key_reads_a_cart_pick_list_in_route_order(api_staff, wave):
    batch = wave.batches.get()
    resp = api_staff.get(f"/api/v1/carts/{batch.pk}/")
    assert resp.status_code == 200
    body = resp.json()
    tasks = list(PickTask.objects.filter(batch=batch).order_by("sequence", "pk"))
    assert [line["id"] for line in body["pick_list"]] == [t.pk for t in tasks]
    assert [line["sequence"] for line in body["pick_list"]] == [1, 2, 3]
    assert body["pick_list"][-1]["sku"] == "MUG"  # fragile last
    first = body["pick_list"][0]
    assert first["location"] == tasks[0].location.code
    assert first["tote"] == tasks[0].batch_order.tote
    assert api_staff.get("/api/v1/carts/999999/").status_code == 404


def test_merchant_keys_and_anonymous_are_refused(api_a, client, wave):
    batch = wave.batches.get()
    assert api_a.get("/api/v1/waves/").status_code == 403
    assert api_a.get(f"/api/v1/carts/{batch.pk}/").status_code == 403
    assert client.get("/api/v1/waves/").status_code in (401, 403)


def test_endpoints_are_in_the_schema(api_staff):
    schema = api_staff.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    assert "/api/v1/waves/" in schema
    assert "/api/v1/carts/{batch_id}/" in schema
    assert "pick_list" in schema
