"""The tablet's batched receiving path: everything queued on the tablet goes out in one JSON request that is
received in one transaction through inventory's set-based ``inbound_receive``; each scan stays idempotent on
its client scan id; the query count does not grow with the batch."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services as inv
from inventory.models import Allocation, StockLevel, StockMovement
from inventory.reconcile import ledger_drift
from warehouse.inbound.models import PutawayTask, ReceiptLine

from .conftest import make_product

pytestmark = pytest.mark.django_db

MUG, LAMP = "036000291452", "4006381333931"


def url(asn):
    return f"/app/warehouse/inbound/floor/receive/{asn.pk}/"


def post_batch(client, asn, scans):
    return client.post(
        url(asn), json.dumps({"scans": scans}), content_type="application/json", HTTP_HX_REQUEST="true"
    )


def test_one_request_receives_the_batch_and_answers_each_scan(
    client, associate, merchant_a, wh, products, asn
):
    client.force_login(associate)
    scans = [
        {"client_scan_id": "t1", "scan": MUG, "quantity": "4"},
        {"client_scan_id": "t2", "scan": MUG, "quantity": "6"},
        {"client_scan_id": "t3", "scan": LAMP},
        {"client_scan_id": "t4", "scan": "036000291453"},  # bad check digit
        {"client_scan_id": "t5", "scan": "09506000134352"},  # SERUM without its lot
        {"client_scan_id": "t1", "scan": MUG, "quantity": "4"},  # the same id twice: received once
    ]
    response = post_batch(client, asn, scans)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div id="receive-panel">')  # a fragment, not the page
    assert "Received: 4 × MUG available" in html
    assert "Received: 6 × MUG available" in html
    assert "Received: 1 × LAMP available" in html
    assert "Bad check digit" in html
    assert "SERUM is lot-tracked" in html
    assert sorted(ReceiptLine.objects.values_list("client_scan_id", "quantity")) == [
        ("t1", 4),
        ("t2", 6),
        ("t3", 1),
    ]
    assert StockLevel.objects.get(product=products["mug"], warehouse=wh).on_hand == 10
    assert StockLevel.objects.get(product=products["lamp"], warehouse=wh).on_hand == 1
    assert PutawayTask.objects.count() == 3
    assert ledger_drift(merchant_id=merchant_a.pk) == []

    again = post_batch(client, asn, scans[:3])  # the tablet lost the answer and sends the batch again
    assert again.status_code == 200
    assert again.content.decode().count("Already recorded") == 3
    assert ReceiptLine.objects.count() == 3
    assert StockLevel.objects.get(product=products["mug"], warehouse=wh).on_hand == 10
    assert StockMovement.objects.filter(type="receive").count() == 3


def test_a_batch_fills_waiting_backorders_in_its_transaction(
    client, associate, merchant_a, wh, products, asn
):
    waiting = inv.stock_reserve(
        merchant=merchant_a, product=products["mug"], warehouse=wh, quantity=3, reference="order_line:1"
    )
    assert waiting.allocated == 0
    client.force_login(associate)
    post_batch(
        client,
        asn,
        [{"client_scan_id": "b1", "scan": MUG, "quantity": "2"}, {"client_scan_id": "b2", "scan": MUG}],
    )
    waiting = Allocation.objects.get(pk=waiting.pk)
    assert waiting.allocated == 3
    level = StockLevel.objects.get(product=products["mug"], warehouse=wh)
    assert (level.on_hand, level.reserved, level.backordered) == (3, 3, 0)


def test_not_on_asn_is_received_and_flagged(client, associate, merchant_a, wh, products, asn):
    make_product(merchant_a, "EXTRA", barcode="012345678905")
    client.force_login(associate)
    html = post_batch(
        client, asn, [{"client_scan_id": "x1", "scan": "012345678905", "quantity": "2"}]
    ).content.decode()
    assert "Received: 2 × EXTRA available (NOT ON ASN — flagged)" in html
    assert ReceiptLine.objects.get().on_asn is False


def test_another_merchants_barcode_is_refused(client, associate, merchant_b, wh, products, asn):
    make_product(merchant_b, "THEIRS", barcode="012345678905")
    client.force_login(associate)
    html = post_batch(client, asn, [{"client_scan_id": "y1", "scan": "012345678905"}]).content.decode()
    assert "Unknown item" in html
    assert not ReceiptLine.objects.exists()


def test_bad_bodies_are_400_and_change_nothing(client, associate, asn, products):
    client.force_login(associate)
    for body in ("nope", json.dumps({"scans": "x"}), json.dumps([1])):
        response = client.post(url(asn), body, content_type="application/json")
        assert response.status_code == 400
    too_many = [{"client_scan_id": f"z{i}", "scan": MUG} for i in range(201)]
    assert post_batch(client, asn, too_many).status_code == 400
    assert not ReceiptLine.objects.exists()


def test_merchant_users_cannot_post_scans(client_a, asn, products):
    response = post_batch(client_a, asn, [{"client_scan_id": "m1", "scan": MUG}])
    assert response.status_code == 403
    assert not ReceiptLine.objects.exists()


def _queries(client, asn, scans) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert post_batch(client, asn, scans).status_code == 200
    import os

    if os.environ.get("SHOW_QUERIES"):
        for q in ctx.captured_queries:
            print(q["sql"][:130])
    return len(ctx.captured_queries)


def test_queries_per_batch_do_not_grow_with_the_batch(client, associate, merchant_a, wh, products):
    """Whole request (session, auth, the receive, the re-rendered panel): a fixed number of queries per batch.
    Before batching, one scan was 40 queries for the POST plus 14 for the page after its redirect."""
    many = [make_product(merchant_a, f"P{i}", barcode="") for i in range(20)]
    asn = inv.inbound_create(merchant=merchant_a, warehouse=wh, lines=[(p, 10) for p in many])
    client.force_login(associate)
    client.get(url(asn))
    one = _queries(client, asn, [{"client_scan_id": "q0", "scan": "P0"}])
    twenty = _queries(
        client, asn, [{"client_scan_id": f"q{i}", "scan": f"P{i}", "quantity": "9"} for i in range(20)]
    )
    print(f"queries: one scan {one}, a batch of 20 {twenty} ({twenty / 20:.1f} per scan)")
    assert one <= 40
    assert twenty <= one + 2


def test_the_merchants_report_polls_while_receiving_is_open(client, client_a, associate, products, asn):
    from warehouse.inbound import services

    report = f"/app/warehouse/inbound/shipments/{asn.pk}/"
    page = client_a.get(report).content.decode()
    assert 'id="report-live" hx-get' in page  # expected: the page waits for the truck
    session = services.receiving_start(shipment=asn, user=associate)
    services.receipt_record(session=session, client_scan_id="r1", product=products["mug"], quantity=7)
    fragment = client_a.get(report, HTTP_HX_REQUEST="true")
    assert "HX-Request" in fragment["Vary"]
    html = fragment.content.decode()
    assert html.strip().startswith('<div id="report-live" hx-get')
    assert '<td class="received">7</td>' in html
    assert "<header" not in html  # the fragment only
    services.receiving_complete(session=session, notify=False)
    done = client_a.get(report, HTTP_HX_REQUEST="true").content.decode()
    assert done.strip().startswith('<div id="report-live">')  # no hx-get: polling stops


def test_the_cached_product_map_belongs_to_its_session(
    client, associate, merchant_a, merchant_b, wh, products, asn
):
    """A cached map under the same session id from another database (or another session) is not used."""
    from django.core.cache import cache

    from warehouse.inbound import services
    from warehouse.inbound.views import _receiving_catalog

    session = services.receiving_start(shipment=asn, user=associate)
    session.shipment = asn
    catalog = _receiving_catalog(session)
    assert catalog["merchant_id"] == merchant_a.pk
    assert catalog["sku"]["MUG"] == products["mug"].pk
    cache.set(f"inbound:rcv-catalog:{session.pk}", {"merchant_id": merchant_b.pk, "products": {}}, 60)
    assert _receiving_catalog(session)["sku"]["MUG"] == products["mug"].pk
