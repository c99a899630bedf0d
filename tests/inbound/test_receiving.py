"""Receiving against ASNs, putaway and QC through the services."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory import services as inv
from inventory.models import InboundShipment, StockLevel, StockQuant
from inventory.reconcile import ledger_drift
from warehouse.inbound import services
from warehouse.inbound.models import PurchaseOrder, PutawayTask, ReceiptLine
from warehouse.inbound.selectors import receiving_report
from warehouse.inbound.services import FloorError

from .conftest import loc, make_product

pytestmark = pytest.mark.django_db


def level(product, wh):
    return StockLevel.objects.get(product=product, warehouse=wh)


def test_receive_over_damaged_lot_and_not_on_asn(
    merchant_a, wh, products, asn, associate, django_capture_on_commit_callbacks
):
    session = services.receiving_start(shipment=asn, user=associate)
    mug, lamp, serum = products["mug"], products["lamp"], products["serum"]
    services.receipt_record(session=session, client_scan_id="s1", product=mug, quantity=12, user=associate)
    services.receipt_record(
        session=session,
        client_scan_id="s2",
        product=lamp,
        quantity=1,
        damaged=True,
        photo=SimpleUploadedFile("d.jpg", b"\xff\xd8fake", content_type="image/jpeg"),
    )
    services.receipt_record(session=session, client_scan_id="s3", product=lamp, quantity=4)
    services.receipt_record(session=session, client_scan_id="s4", product=serum, quantity=6, lot="L7")
    extra = make_product(merchant_a, "EXTRA")
    line, created = services.receipt_record(session=session, client_scan_id="s5", product=extra, quantity=2)
    assert created
    assert line.on_asn is False

    # the same scan again is a no-op
    again, created = services.receipt_record(session=session, client_scan_id="s1", product=mug, quantity=12)
    assert not created
    assert again.pk == ReceiptLine.objects.get(client_scan_id="s1").pk

    assert level(mug, wh).on_hand == 12
    assert level(lamp, wh).on_hand == 4
    assert level(lamp, wh).quarantined == 1
    assert StockQuant.objects.get(product=serum, lot="L7").quantity == 6
    assert level(extra, wh).on_hand == 2

    with django_capture_on_commit_callbacks(execute=True):
        services.receiving_complete(session=session)

    rows = {r["product"].sku: r for r in receiving_report(shipment=asn)["lines"]}
    assert (rows["MUG"]["expected"], rows["MUG"]["received"], rows["MUG"]["status"]) == (10, 12, "over")
    assert (rows["LAMP"]["received"], rows["LAMP"]["damaged"], rows["LAMP"]["status"]) == (4, 1, "ok")
    assert rows["EXTRA"]["status"] == "not on ASN"
    asn.refresh_from_db()
    assert asn.status == InboundShipment.Status.RECEIVED
    assert len(mail.outbox) == 1
    assert "MUG" in mail.outbox[0].body
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_lot_tracked_needs_lot_and_nothing_changes(wh, products, asn):
    session = services.receiving_start(shipment=asn)
    with pytest.raises(FloorError, match="lot"):
        services.receipt_record(session=session, client_scan_id="x", product=products["serum"], quantity=1)
    assert not ReceiptLine.objects.exists()
    assert not StockQuant.objects.filter(product=products["serum"]).exists()


def test_damaged_needs_photo_or_note(wh, products, asn):
    from django.core.exceptions import ValidationError

    session = services.receiving_start(shipment=asn)
    with pytest.raises(ValidationError):
        services.receipt_record(
            session=session, client_scan_id="x", product=products["mug"], quantity=1, damaged=True
        )


def test_backorder_filled_on_receipt(merchant_a, wh, products, asn):
    mug = products["mug"]
    alloc = inv.stock_reserve(
        merchant=merchant_a, product=mug, warehouse=wh, quantity=3, reference="order_line:1"
    )
    assert alloc.allocated == 0
    session = services.receiving_start(shipment=asn)
    services.receipt_record(session=session, client_scan_id="a", product=mug, quantity=5)
    alloc.refresh_from_db()
    assert alloc.allocated == 3
    assert level(mug, wh).reserved == 3


def test_putaway_suggests_and_confirms(merchant_a, wh, products, asn, associate):
    session = services.receiving_start(shipment=asn)
    services.receipt_record(session=session, client_scan_id="a", product=products["mug"], quantity=10)
    task = PutawayTask.objects.get(product=products["mug"])
    assert task.suggested_location.code == "A-01-01-1-A"  # nearest empty pick face to the dock
    assert task.suggestion_reason == "empty"
    with pytest.raises(FloorError):
        services.putaway_confirm(task=task, location=loc(wh, "QC"))
    services.putaway_confirm(task=task, location=task.suggested_location, user=associate)
    services.putaway_confirm(task=task, location=task.suggested_location, user=associate)  # idempotent
    assert StockQuant.objects.get(product=products["mug"], location=task.suggested_location).quantity == 10
    assert StockQuant.objects.get(product=products["mug"], location=loc(wh, "RCV")).quantity == 0
    # the next receipt of the same SKU goes where it already is
    services.receipt_record(session=session, client_scan_id="b", product=products["mug"], quantity=1)
    task2 = PutawayTask.objects.filter(product=products["mug"]).order_by("-pk").first()
    assert (task2.suggestion_reason, task2.suggested_location.code) == ("holds SKU", "A-01-01-1-A")
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_cold_product_goes_to_cold_slot(merchant_a, wh):
    chilled = make_product(merchant_a, "CHILL", temperature_max_c=5)
    shipment = inv.inbound_create(merchant=merchant_a, warehouse=wh, lines=[(chilled, 2)])
    session = services.receiving_start(shipment=shipment)
    services.receipt_record(session=session, client_scan_id="c", product=chilled, quantity=2)
    assert PutawayTask.objects.get(product=chilled).suggested_location.code == "C-01-01-1-A"


def test_qc_failure_quarantines_and_notifies(
    merchant_a, wh, products, asn, associate, django_capture_on_commit_callbacks
):
    services.qc_checklist_create(
        merchant=merchant_a,
        name="Lamps",
        category="LAMP",
        items=["Powers on", "No dents"],
        sample_rate_pct=20,
    )
    assert services.qc_should_sample(product=products["lamp"], received=5) == 1
    assert services.qc_should_sample(product=products["mug"], received=5) == 0
    session = services.receiving_start(shipment=asn)
    services.receipt_record(session=session, client_scan_id="a", product=products["lamp"], quantity=5)
    with django_capture_on_commit_callbacks(execute=True):
        inspection = services.qc_inspection_record(
            session=session,
            product=products["lamp"],
            results={"Powers on": False, "No dents": True},
            sampled=2,
            failed=2,
            user=associate,
        )
    assert not inspection.passed
    lv = level(products["lamp"], wh)
    assert (lv.on_hand, lv.quarantined) == (3, 2)
    assert any("Quality check failed" in m.subject for m in mail.outbox)
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_po_links_and_progress(merchant_a, wh, products):
    vendor = services.vendor_create(merchant=merchant_a, name="Acme Supply", lead_time_days=12)
    po = services.purchase_order_create(
        merchant=merchant_a,
        vendor=vendor,
        warehouse=wh,
        number="PO-9",
        lines=[(products["mug"], 10, Decimal("2.00"))],
    )
    shipment = inv.inbound_create(
        merchant=merchant_a, warehouse=wh, reference="PO-9", lines=[(products["mug"], 10)]
    )
    session = services.receiving_start(shipment=shipment)
    assert session.purchase_order == po
    services.receipt_record(session=session, client_scan_id="a", product=products["mug"], quantity=4)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.PARTIAL
    assert po.lines.get().quantity_received == 4


def test_foreign_product_refused(merchant_b, wh, products, asn):
    other = make_product(merchant_b, "OTHER")
    session = services.receiving_start(shipment=asn)
    with pytest.raises(FloorError):
        services.receipt_record(session=session, client_scan_id="a", product=other, quantity=1)
    assert not StockQuant.objects.filter(product=other).exists()
