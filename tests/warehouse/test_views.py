"""Floor screens: staff only, scans through HTMX partials, documents render."""

from __future__ import annotations

import pytest

from warehouse import services
from warehouse.models import BatchOrder, PickTask

pytestmark = pytest.mark.django_db

PAGES = ["/app/warehouse/", "/app/warehouse/pack/", "/app/warehouse/replenish/"]


@pytest.mark.parametrize("url", PAGES)
def test_merchant_users_are_refused(client_a, url):
    assert client_a.get(url).status_code == 403


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/app/warehouse/")
    assert resp.status_code == 302
    assert "login" in resp["Location"]


def test_merchant_cannot_scan_on_a_cart(client_a, wh, released, associate):
    released(("TEE", 1))
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()
    resp = client_a.post(
        f"/app/warehouse/batches/{batch.pk}/pick/scan/", {"code": "A-01-02-1-A", "scan_id": "m"}
    )
    assert resp.status_code == 403
    assert not PickTask.objects.filter(location_confirmed=True).exists()


def test_manager_creates_a_wave_and_associate_picks_by_htmx(client, wh, released, manager, associate):
    released(("TEE", 1))
    client.force_login(manager)
    assert client.get("/app/warehouse/").status_code == 200
    resp = client.post(
        "/app/warehouse/waves/create/", {"wh": "WH1", "line_profile": "any", "handling": "any", "totes": "8"}
    )
    assert resp.status_code == 302
    batch = BatchOrder.objects.get().batch
    client.force_login(associate)
    page = client.get(f"/app/warehouse/batches/{batch.pk}/pick/")
    assert b"A-01-02-1-A" in page.content
    assert b"scan-input" in page.content
    bad = client.post(
        f"/app/warehouse/batches/{batch.pk}/pick/scan/",
        {"code": "A-03-09-1-A", "scan_id": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert b'data-scan-result="bad"' in bad.content
    assert b"Wrong location" in bad.content
    ok = client.post(
        f"/app/warehouse/batches/{batch.pk}/pick/scan/",
        {"code": "LOC:A-01-02-1-A", "scan_id": "2"},
        HTTP_HX_REQUEST="true",
    )
    assert b'data-scan-result="ok"' in ok.content
    done = client.post(
        f"/app/warehouse/batches/{batch.pk}/pick/scan/",
        {"code": "TEE", "scan_id": "3"},
        HTTP_HX_REQUEST="true",
    )
    assert b"Cart complete" in done.content
    pdf = client.get(f"/app/warehouse/batches/{batch.pk}/picklist.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
