"""Pages: merchant side and the floor (operator only), through the Django test client."""

import pytest

from inventory.models import InboundShipment, StockLevel
from warehouse.inbound import services
from warehouse.inbound.models import CycleCount, PutawayTask, ReceiptLine

from .conftest import loc

pytestmark = pytest.mark.django_db

FLOOR_URLS = [
    "/app/warehouse/inbound/floor/",
    "/app/warehouse/inbound/floor/schedule/",
    "/app/warehouse/inbound/floor/receive/",
    "/app/warehouse/inbound/floor/putaway/",
    "/app/warehouse/inbound/floor/counts/",
    "/app/warehouse/inbound/floor/counts/approvals/",
    "/app/warehouse/inbound/floor/counts/variance/",
    "/app/warehouse/inbound/floor/help/",
    "/app/warehouse/inbound/floor/returns/",
]


@pytest.mark.parametrize("url", FLOOR_URLS)
def test_floor_pages_for_staff_only(url, client, associate, user_a):
    client.force_login(associate)
    response = client.get(url)
    assert response.status_code == 200
    assert b"scan-input" in response.content or b"<h1>" in response.content
    client.force_login(user_a)
    assert client.get(url).status_code == 403


def test_merchant_creates_asn_and_sees_report(client_a, merchant_a, wh, products):
    response = client_a.post(
        "/app/warehouse/inbound/new/",
        {
            "warehouse": wh.pk,
            "reference": "PO-77",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "expected_at": "2030-01-02",
            "lines": "MUG, 10\nLAMP, 3",
        },
    )
    assert response.status_code == 302
    shipment = InboundShipment.objects.get(reference="PO-77")
    assert shipment.lines.count() == 2
    assert StockLevel.objects.get(product=products["mug"], warehouse=wh).inbound == 10
    page = client_a.get(f"/app/warehouse/inbound/shipments/{shipment.pk}/").content.decode()
    assert "MUG" in page
    assert "1Z999" in page


def test_merchant_asn_bad_sku_is_400_and_creates_nothing(client_a, wh, products):
    response = client_a.post("/app/warehouse/inbound/new/", {"warehouse": wh.pk, "lines": "NOPE, 1"})
    assert response.status_code == 400
    assert not InboundShipment.objects.exists()


def test_floor_receive_gs1_scan_and_putaway(client, associate, wh, products, asn):
    client.force_login(associate)
    url = f"/app/warehouse/inbound/floor/receive/{asn.pk}/"
    assert client.get(url).status_code == 200
    gs1_text = "]C10109506000134352" + "17300131" + "10LOT-9"
    client.post(url, {"scan": gs1_text, "quantity": "6", "client_scan_id": "abc"})
    client.post(url, {"scan": gs1_text, "quantity": "6", "client_scan_id": "abc"})  # resent: no-op
    line = ReceiptLine.objects.get()
    assert (line.product.sku, line.quantity, line.lot, str(line.expires_on)) == (
        "SERUM",
        6,
        "LOT-9",
        "2030-01-31",
    )
    bad = client.post(url, {"scan": "036000291453", "client_scan_id": "x2"}, follow=True).content.decode()
    assert "Bad check digit" in bad
    task = PutawayTask.objects.get()
    response = client.post(
        f"/app/warehouse/inbound/floor/putaway/{task.pk}/", {"scan": f"LOC:{task.suggested_location.code}"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "done"


def test_count_sheet_pdf(client, associate, wh, products, merchant_a):
    services.count_create(location=loc(wh, "A-01-01-1-A"), product=products["mug"])
    client.force_login(associate)
    response = client.get("/app/warehouse/inbound/floor/counts/sheet.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert CycleCount.objects.count() == 1
