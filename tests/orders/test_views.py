"""The order book pages: list, filters, keyset pages, export, bulk, detail actions, manual entry, CSV."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import CsvImport, Order, SavedFilter
from orders.services import order_start_picking
from tests.orders.conftest import LA, canonical

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(merchant_a, stocked, run_import):
    return [
        run_import(merchant_a, canonical("A-1", customer_name="Zed Alpha", customer_email="zed@example.com")),
        run_import(merchant_a, canonical("A-2", channel="shopify", ship_to=LA, lines=(("LAMP", 1),))),
        run_import(merchant_a, canonical("A-3", lines=(("NOPE", 1),))),
    ]


def test_list_shows_channel_filters_searches_and_pages(client_a, three):
    body = client_a.get("/app/orders/").content.decode()
    assert all(o.number in body for o in three)
    assert "Shopify" in body
    body = client_a.get("/app/orders/?channel=shopify").content.decode()
    assert "A-2" in body
    assert "A-1" not in body
    body = client_a.get("/app/orders/?q=zed").content.decode()
    assert "A-1" in body
    assert "A-3" not in body
    body = client_a.get("/app/orders/?exception=unknown_sku").content.decode()
    assert "A-3" in body
    assert "A-1" not in body
    body = client_a.get("/app/orders/?sku=LAMP").content.decode()
    assert "A-2" in body
    assert "A-1" not in body
    body = client_a.get("/app/orders/?warehouse=WEST").content.decode()
    assert "A-2" in body
    assert "A-3" not in body
    assert client_a.get("/app/orders/?created_after=nonsense").status_code == 200


def test_keyset_pagination_follows_next(client_a, merchant_a):
    for i in range(55):
        Order.objects.create(merchant=merchant_a, external_id=f"P{i:02d}", number=f"P{i:02d}")
    response = client_a.get("/app/orders/")
    body = response.content.decode()
    assert "P54" in body
    assert "P04" not in body
    cursor = response.context["page"].next_cursor
    body2 = client_a.get(f"/app/orders/?cursor={cursor}").content.decode()
    assert "P04" in body2
    assert "P54" not in body2


def test_htmx_filter_returns_only_rows(client_a, three):
    response = client_a.get(
        "/app/orders/?channel=shopify", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="order-rows"
    )
    body = response.content.decode()
    assert 'id="order-rows"' in body
    assert "<html" not in body


def test_export_streams_csv_of_the_filter(client_a, three):
    response = client_a.get("/app/orders/export.csv?channel=api")
    content = b"".join(response.streaming_content).decode()
    rows = content.strip().splitlines()
    assert rows[0].startswith("number,channel,external_id,status")
    assert len(rows) == 3
    assert "A-2" not in content


def test_saved_filter(client_a, three, user_a):
    client_a.post("/app/orders/filters/", {"name": "Shopify only", "query": "channel=shopify&cursor=abc"})
    saved = SavedFilter.objects.get(user=user_a)
    assert saved.query == "channel=shopify"
    assert "Shopify only" in client_a.get("/app/orders/").content.decode()


def test_bulk_hold_with_confirmation_and_summary(client_a, three):
    ids = [str(o.pk) for o in three]
    confirm = client_a.post("/app/orders/bulk/", {"action": "hold", "scope": "selected", "ids": ids})
    assert b"Yes, hold 3 orders" in confirm.content
    assert Order.objects.filter(status="on_hold").count() == 0
    done = client_a.post(
        "/app/orders/bulk/", {"action": "hold", "scope": "selected", "ids": ids, "confirm": "1"}
    )
    assert done.context["result"].done == 3
    assert Order.objects.filter(status="on_hold").count() == 3


def test_bulk_cancel_all_matching_filter_reports_refusals(client_a, three):
    order_start_picking(order=three[1])
    done = client_a.post(
        "/app/orders/bulk/", {"action": "cancel", "scope": "filter", "f_status": "", "confirm": "1"}
    )
    result = done.context["result"]
    assert result.done == 2
    assert result.refused[0][0] == three[1].number
    assert "intercept" in result.refused[0][1]
    assert b"2 done" in done.content


def test_detail_shows_lines_allocation_routing_timeline_and_state_actions(client_a, three):
    body = client_a.get(f"/app/orders/{three[0].pk}/").content.decode()
    assert "EAST: 1/1" in body
    assert "all lines in stock" in body
    assert "order.imported" in body
    assert "Put on hold" in body
    assert "Release hold" not in body


def test_detail_actions_and_409_refusal(client_a, three):
    order = three[0]
    assert client_a.post(f"/app/orders/{order.pk}/hold/").status_code == 302
    order.refresh_from_db()
    assert order.status == "on_hold"
    response = client_a.post(f"/app/orders/{order.pk}/hold/")
    assert response.status_code == 409
    assert "on hold" in response.content.decode()


def test_manual_entry_goes_through_the_import_path(client_a, stocked, django_capture_on_commit_callbacks):
    data = {
        "external_id": "M-1",
        "name": "Cy Ray",
        "street1": "5 Elm St",
        "city": "Boston",
        "state": "MA",
        "postal_code": "02110",
        "country": "US",
        "email": "cy@example.com",
        "shipping_service": "standard",
        "priority": "0",
        "sku_0": "TENT",
        "qty_0": "2",
        "price_0": "12.50",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post("/app/orders/new/", data)
    order = Order.objects.get(external_id="M-1")
    assert response.status_code == 302
    assert (order.channel, order.total) == ("manual", 25)
    order.refresh_from_db()
    assert order.status == "released"
    assert client_a.post("/app/orders/new/", {**data, "sku_0": ""}).status_code == 200
    assert Order.objects.count() == 1


CSV = (
    "external_id,sku,quantity,unit_price,ship_to_name,street1,city,state,postal_code,country,customer_email\n"
    "C-1,TENT,1,10.00,Al,1 A St,Boston,MA,02110,US,al@example.com\n"
    "C-1,STOVE,2,5.00,Al,1 A St,Boston,MA,02110,US,al@example.com\n"
    "C-2,LAMP,x,1,Bea,2 B St,Denver,CO,80202,US,\n"
    ",TENT,1,1,Cat,3 C St,Austin,TX,73301,US,\n"
    "C-3,LAMP,1,1,Dee,4 D St,Seattle,WA,98101,US,\n"
)


def test_csv_upload_preview_errors_then_confirm_once(client_a, stocked, django_capture_on_commit_callbacks):
    response = client_a.post("/app/orders/import/", {"file": SimpleUploadedFile("o.csv", CSV.encode())})
    batch = CsvImport.objects.get()
    assert response.status_code == 302
    preview = client_a.get(f"/app/orders/import/{batch.pk}/").content.decode()
    assert "2</strong> orders ready" in preview
    assert "row 4" in preview.lower() or ">4<" in preview
    assert "quantity &#x27;x&#x27;" in preview or "quantity 'x'" in preview
    assert Order.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        client_a.post(f"/app/orders/import/{batch.pk}/")
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["C-1", "C-3"]
    assert Order.objects.get(external_id="C-1").lines.count() == 2
    client_a.post(f"/app/orders/import/{batch.pk}/")
    assert Order.objects.count() == 2


def test_exceptions_page_maps_sku(client_a, three, django_capture_on_commit_callbacks):
    assert "NOPE" in client_a.get("/app/orders/exceptions/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client_a.post(
            "/app/orders/exceptions/", {"external_sku": "NOPE", "product_sku": "TENT", "channel": ""}
        )
    three[2].refresh_from_db()
    assert three[2].status == "released"


def test_settings_and_routing_pages(client_a, three, merchant_a):
    response = client_a.post(
        "/app/orders/settings/",
        {
            "notify_shipped": "on",
            "auto_release": "on",
            "allow_split": "",
            "max_wait_days": "2",
            "split_penalty": "4.00",
            "wait_cost_per_day": "1.00",
            "preferred": "WEST, EAST",
            "reply_to": "",
        },
    )
    assert response.status_code == 302
    from orders.models import OrderSettings

    s = OrderSettings.objects.get(merchant=merchant_a)
    assert (s.allow_split, s.max_wait_days, s.preferred_warehouses, s.notify_received) == (
        False,
        2,
        ["WEST", "EAST"],
        False,
    )
    body = client_a.get("/app/orders/routing/").content.decode()
    assert "split shipments" in body
    sim = client_a.get(
        "/app/orders/routing/?simulate=1&allow_split=on&max_wait_days=0&split_penalty=0&wait_cost_per_day=1&preferred=WEST"
    )
    assert sim.context["simulation"].orders == 2


def test_export_and_bulk_never_reach_another_merchant(client, three, membership_b):
    client.force_login(membership_b.user)
    content = b"".join(client.get("/app/orders/export.csv").streaming_content).decode()
    assert content.strip().splitlines()[1:] == []
    done = client.post(
        "/app/orders/bulk/",
        {"action": "cancel", "scope": "selected", "ids": [str(o.pk) for o in three], "confirm": "1"},
    )
    assert done.context["result"].done == 0
    assert Order.objects.filter(status="cancelled").count() == 0
