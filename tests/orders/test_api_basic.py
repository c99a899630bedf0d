import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db

BODY = {
    "external_id": "EXT-1",
    "ship_to": {
        "name": "Ann Lee",
        "street1": "1 Main St",
        "city": "Boston",
        "state": "MA",
        "postal_code": "02110",
        "country": "US",
        "email": "ann@example.com",
    },
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}],
    "shipping_service": "standard",
}


def test_create_then_same_external_id_returns_existing(api_a):
    r1 = api_a.post("/api/v1/orders/", BODY, format="json")
    assert r1.status_code == 201, r1.content
    r2 = api_a.post("/api/v1/orders/", BODY, format="json")
    assert r2.status_code == 200
    assert r1.json()["id"] == r2.json()["id"]
    assert Order.objects.count() == 1
    data = r1.json()
    assert data["channel"] == "api"
    assert data["lines"][0]["allocated_quantity"] == 0
    assert data["total"] == "20.00"


def test_list_filters_and_cursor(api_a, api_b):
    for i in range(5):
        api_a.post("/api/v1/orders/", {**BODY, "external_id": f"E{i}"}, format="json")
    r = api_a.get("/api/v1/orders/?limit=2")
    assert r.status_code == 200
    page1 = r.json()
    assert [o["external_id"] for o in page1["results"]] == ["E4", "E3"]
    r2 = api_a.get(page1["next"])
    assert [o["external_id"] for o in r2.json()["results"]] == ["E2", "E1"]
    assert api_a.get("/api/v1/orders/?q=e3").json()["results"][0]["external_id"] == "E3"
    assert api_a.get("/api/v1/orders/?status=cancelled").json()["results"] == []
    assert api_b.get("/api/v1/orders/").json()["results"] == []
    assert api_a.get("/api/v1/orders/?created_after=garbage").status_code == 400


def test_hold_release_cancel_history_and_409(api_a):
    oid = api_a.post("/api/v1/orders/", BODY, format="json").json()["id"]
    assert api_a.post(f"/api/v1/orders/{oid}/hold/", {}, format="json").json()["status"] == "on_hold"
    r = api_a.post(f"/api/v1/orders/{oid}/hold/", {}, format="json")
    assert r.status_code == 409
    assert "on hold" in r.json()["detail"]
    assert api_a.post(f"/api/v1/orders/{oid}/release/", {}, format="json").json()["status"] == "new"
    assert api_a.post(f"/api/v1/orders/{oid}/cancel/", {}, format="json").json()["status"] == "cancelled"
    assert api_a.post(f"/api/v1/orders/{oid}/cancel/", {}, format="json").status_code == 409
    hist = api_a.get(f"/api/v1/orders/{oid}/history/").json()["results"]
    assert [h["action"] for h in hist][:2] == ["order.imported", "order.hold"]


@pytest.mark.parametrize(
    "query",
    [
        "cursor=garbage!!",
        "cursor=WyJhYmMiXQ",  # ["abc"]
        "sort=placed&cursor=WyJub3BlIiwgMV0",  # ["nope", 1]
        "sort=priority&cursor=WzFd",  # [1]: wrong length
        "limit=abc",
        "created_before=2020-13-45",
    ],
)
def test_bad_list_parameters_are_400_never_500(api_a, query):
    assert api_a.get(f"/api/v1/orders/?{query}").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "lines": [{"sku": "X", "quantity": 0}]},
        {**BODY, "lines": []},
        {**BODY, "ship_to": {**BODY["ship_to"], "country": "USA"}},
        {**BODY, "shipping_service": "teleport"},
        {**BODY, "external_id": ""},
        {**BODY, "lines": "nope"},
    ],
)
def test_bad_create_bodies_are_400(api_a, body):
    response = api_a.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_patch_and_cancel_with_unknown_lines_are_refused_cleanly(api_a):
    oid = api_a.post("/api/v1/orders/", BODY, format="json").json()["id"]
    r = api_a.patch(f"/api/v1/orders/{oid}/", {"lines": [{"id": 999999, "quantity": 1}]}, format="json")
    assert r.status_code == 409
    r = api_a.post(f"/api/v1/orders/{oid}/cancel/", {"lines": [{"id": 999999}]}, format="json")
    assert r.status_code == 409
    assert api_a.get(f"/api/v1/orders/{oid}/").json()["status"] == "new"
