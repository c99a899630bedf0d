import pytest

from inventory import services
from inventory.models import InboundShipment, Product, StockLevel
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def wh():
    return WarehouseFactory(code="WH1", name="Fulfil East")


def test_create_product_with_metric_fields_and_bad_barcode(api_a, merchant_a):
    bad = api_a.post(
        "/api/v1/products/", {"sku": "TEE-1", "name": "Tee", "barcode": "036000291453"}, format="json"
    )
    assert bad.status_code == 400
    assert "check digit" in bad.json()["barcode"][0]
    assert not Product.objects.filter(sku="TEE-1").exists()
    ok = api_a.post(
        "/api/v1/products/",
        {"sku": "TEE-1", "name": "Tee", "barcode": "036000291452", "weight_g": 180, "value": "12.5"},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert (body["sku"], body["weight_g"], body["value"], body["status"], body["components"]) == (
        "TEE-1",
        180,
        "12.50",
        "draft",
        [],
    )
    dup = api_a.post("/api/v1/products/", {"sku": "TEE-1", "name": "Again"}, format="json")
    assert dup.status_code == 400
    assert "sku" in dup.json()


def test_kit_via_api_and_patch(api_a, merchant_a):
    ProductFactory(merchant=merchant_a, sku="A1")
    ProductFactory(merchant=merchant_a, sku="B1")
    r = api_a.post(
        "/api/v1/products/",
        {
            "sku": "KIT",
            "name": "Kit",
            "components": [{"sku": "A1", "quantity": 2}, {"sku": "B1", "quantity": 1}],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["is_kit"] is True
    assert r.json()["components"] == [{"sku": "A1", "quantity": 2}, {"sku": "B1", "quantity": 1}]
    r = api_a.patch("/api/v1/products/KIT/", {"name": "Better kit", "status": "active"}, format="json")
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["status"]) == ("Better kit", "active")
    assert api_a.get("/api/v1/products/NOPE/").status_code == 404


def test_inventory_and_movements(api_a, merchant_a, wh):
    p = ProductFactory(merchant=merchant_a, sku="SOCK")
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=12)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=5, reference="order_line:9")
    r = api_a.get("/api/v1/inventory/?sku=SOCK")
    assert r.status_code == 200
    row = r.json()["results"][0]
    assert {
        k: row[k] for k in ("sku", "warehouse", "on_hand", "reserved", "available", "backordered", "inbound")
    } == {
        "sku": "SOCK",
        "warehouse": "WH1",
        "on_hand": 12,
        "reserved": 5,
        "available": 7,
        "backordered": 0,
        "inbound": 0,
    }
    m = api_a.get("/api/v1/inventory/movements/?sku=SOCK&since=2000-01-01").json()["results"]
    assert [(x["type"], x["quantity"], x["from"], x["to"]) for x in m] == [("receive", 12, None, "RCV")]
    assert api_a.get("/api/v1/inventory/movements/?since=garbage").status_code == 400


def test_inbound_create_and_receive_by_staff_only(api_a, api_staff, merchant_a, wh):
    ProductFactory(merchant=merchant_a, sku="MUG")
    r = api_a.post(
        "/api/v1/inbound-shipments/",
        {"warehouse": "WH1", "reference": "PO-1", "lines": [{"sku": "MUG", "quantity": 10}]},
        format="json",
    )
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert StockLevel.objects.get(product__sku="MUG").inbound == 10
    body = {"lines": [{"sku": "MUG", "quantity": 8, "damaged": 1}]}
    denied = api_a.post(f"/api/v1/inbound-shipments/{sid}/receive/", body, format="json")
    assert denied.status_code == 403
    assert StockLevel.objects.get(product__sku="MUG").on_hand == 0
    ok = api_staff.post(f"/api/v1/inbound-shipments/{sid}/receive/", body, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["lines"] == [
        {"sku": "MUG", "quantity": 10, "received": 8, "damaged": 1, "discrepancy": -1}
    ]
    assert ok.json()["status"] == "receiving"
    lv = StockLevel.objects.get(product__sku="MUG")
    assert (lv.on_hand, lv.quarantined, lv.inbound, lv.available) == (8, 1, 1, 8)
    r = api_staff.post(
        f"/api/v1/inbound-shipments/{sid}/receive/", {"lines": [{"sku": "MUG", "quantity": 1}]}, format="json"
    )
    assert r.json()["status"] == "received"
    assert InboundShipment.objects.get(pk=sid).status == "received"
    assert api_a.get(f"/api/v1/inbound-shipments/{sid}/").json()["lines"][0]["discrepancy"] == 0


def test_warehouses_list(api_a, wh):
    r = api_a.get("/api/v1/warehouses/")
    assert [w["code"] for w in r.json()["results"]] == ["WH1"]


def test_schema_is_valid(api_a):
    r = api_a.get("/api/v1/schema/?format=json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in [
        "/api/v1/products/",
        "/api/v1/products/{sku}/",
        "/api/v1/warehouses/",
        "/api/v1/inventory/",
        "/api/v1/inventory/movements/",
        "/api/v1/inbound-shipments/",
        "/api/v1/inbound-shipments/{shipment_id}/",
        "/api/v1/inbound-shipments/{shipment_id}/receive/",
    ]:
        assert p in paths


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sku": "", "name": "x"},
        {"sku": "A B", "name": "x"},
        {"sku": "X1", "name": "x", "weight_g": -1},
        {"sku": "X1", "name": "x", "weight_g": "heavy"},
        {"sku": "X1", "name": "x", "value": "1e99"},
        {"sku": "X1", "name": "x", "hazmat": True},
        {"sku": "X1", "name": "x", "un_class": "3"},
        {"sku": "X1", "name": "x", "components": [{"sku": "NOPE", "quantity": 1}]},
        {"sku": "X1", "name": "x", "components": "bad"},
        {"sku": "X1", "name": "x", "status": "sold"},
        {"sku": "X1", "name": "x", "country_of_origin": "USA"},
        {"sku": "X1", "name": "x", "temperature_min_c": 30, "temperature_max_c": 5},
        ["not", "an", "object"],
    ],
)
def test_bad_product_bodies_are_400_never_500(api_a, merchant_a, body):
    r = api_a.post("/api/v1/products/", body, format="json")
    assert r.status_code == 400, r.content
    assert not Product.objects.filter(merchant=merchant_a).exists()


def test_bad_inbound_and_receive_bodies_are_4xx(api_a, api_staff, merchant_a, wh):
    ProductFactory(merchant=merchant_a, sku="LOT", requires_lot_tracking=True)
    assert (
        api_a.post(
            "/api/v1/inbound-shipments/",
            {"warehouse": "NOPE", "lines": [{"sku": "LOT", "quantity": 1}]},
            format="json",
        ).status_code
        == 400
    )
    assert (
        api_a.post("/api/v1/inbound-shipments/", {"warehouse": "WH1", "lines": []}, format="json").status_code
        == 400
    )
    assert (
        api_a.post(
            "/api/v1/inbound-shipments/",
            {"warehouse": "WH1", "lines": [{"sku": "X", "quantity": 1}]},
            format="json",
        ).status_code
        == 400
    )
    r = api_a.post(
        "/api/v1/inbound-shipments/",
        {"warehouse": "WH1", "lines": [{"sku": "LOT", "quantity": 2}]},
        format="json",
    )
    sid = r.json()["id"]
    no_lot = api_staff.post(
        f"/api/v1/inbound-shipments/{sid}/receive/", {"lines": [{"sku": "LOT", "quantity": 2}]}, format="json"
    )
    assert no_lot.status_code == 409
    assert "lot" in no_lot.json()["detail"]
    assert (
        api_staff.post(
            f"/api/v1/inbound-shipments/{sid}/receive/",
            {"lines": [{"sku": "LOT", "quantity": 0}]},
            format="json",
        ).status_code
        == 400
    )
    assert (
        api_staff.post(
            "/api/v1/inbound-shipments/999999/receive/",
            {"lines": [{"sku": "LOT", "quantity": 1}]},
            format="json",
        ).status_code
        == 404
    )
    ok = api_staff.post(
        f"/api/v1/inbound-shipments/{sid}/receive/",
        {"lines": [{"sku": "LOT", "quantity": 2, "lot": "L1", "expires_on": "2030-01-01"}]},
        format="json",
    )
    assert ok.status_code == 200
    again = api_staff.post(
        f"/api/v1/inbound-shipments/{sid}/receive/",
        {"lines": [{"sku": "LOT", "quantity": 1, "lot": "L1"}]},
        format="json",
    )
    assert again.status_code == 409  # already received


def test_idempotent_product_create(api_a, merchant_a):
    body = {"sku": "IDEM", "name": "Once"}
    first = api_a.post("/api/v1/products/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api_a.post("/api/v1/products/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert Product.objects.filter(merchant=merchant_a, sku="IDEM").count() == 1
