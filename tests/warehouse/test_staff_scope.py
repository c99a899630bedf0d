"""Staff scoping on the outbound floor: associates and managers act only in the warehouses they are assigned
to (``warehouse.access``). Every screen and endpoint that opens a batch, pack session or replenishment task
answers 200 to staff of its warehouse and 403 to staff of another — and a refused request changes nothing.
Managers assign staff to their own warehouses at /app/warehouse/staff/."""

from __future__ import annotations

import pytest

from accounts.models import User
from fulfil.models import AuditEntry
from inventory.models import StockQuant, Warehouse
from tests.conftest import api_client_for
from warehouse import services
from warehouse.models import Batch, BatchOrder, PackSession, PickTask, ReplenishmentTask, ScanEvent, Wave

from .test_services import pick_all

pytestmark = pytest.mark.django_db

ROLES = [User.OperatorRole.ASSOCIATE, User.OperatorRole.MANAGER]


def make_staff(role: str, codes: list[str], email: str = "") -> User:
    return User.objects.create_user(
        email or f"{role}-{'-'.join(codes) or 'none'}@fulfil.example",
        "pw-staff-123",
        operator_role=role,
        is_staff=True,
        warehouse_codes=codes,
    )


@pytest.fixture
def wh2(db):
    return Warehouse.objects.create(code="WH2", name="West", timezone="UTC")


@pytest.fixture
def floor(wh, wh2, released, manager):
    """In WH1: a packed-ready session (cart 1 picked) and an open cart 2 that left a pick face low."""
    released(("TEE", 1))
    picked = services.wave_create(warehouse=wh, user=manager).batches.get()
    picked = services.batch_start(batch=picked, user=manager)
    pick_all(picked, manager)
    session = services.pack_open(warehouse=wh, user=manager, code=BatchOrder.objects.get(batch=picked).tote)
    released(("SOCK", 1))  # the face holds 3: after this wave 2 are left, below the threshold
    cart = services.wave_create(warehouse=wh, user=manager).batches.get()
    return {"cart": cart, "session": session, "task": ReplenishmentTask.objects.get()}


def snapshot() -> tuple:
    """Everything a floor request could change."""
    return (
        Wave.objects.count(),
        sorted(Batch.objects.values_list("pk", "status", "picker_id")),
        sorted(PickTask.objects.values_list("pk", "status", "picked_quantity", "location_confirmed")),
        ScanEvent.objects.count(),
        sorted(PackSession.objects.values_list("pk", "status", "verified")),
        sorted(ReplenishmentTask.objects.values_list("pk", "status", "taken_by_id")),
        sorted(StockQuant.objects.values_list("pk", "quantity")),
        AuditEntry.objects.count(),
    )


PAGES = [
    "/app/warehouse/batches/{cart}/",
    "/app/warehouse/batches/{cart}/picklist.pdf",
    "/app/warehouse/batches/{cart}/pick/",
    "/app/warehouse/pack/{session}/",
    "/app/warehouse/pack/{session}/slip.pdf",
    "/app/warehouse/replenish/{task}/",
    "/app/warehouse/?wh=WH1",
    "/app/warehouse/pack/?wh=WH1",
    "/app/warehouse/replenish/?wh=WH1",
]


def _url(template: str, floor) -> str:
    return template.format(cart=floor["cart"].pk, session=floor["session"].pk, task=floor["task"].pk)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", PAGES)
def test_pages_answer_staff_of_their_warehouse(url, role, client, floor):
    client.force_login(make_staff(role, ["WH1"]))
    assert client.get(_url(url, floor)).status_code == 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", [*PAGES, "/app/warehouse/pack/{session}/label/1.pdf"])
def test_pages_refuse_staff_of_another_warehouse_and_change_nothing(url, role, client, floor):
    client.force_login(make_staff(role, ["WH2"]))
    before = snapshot()
    assert client.get(_url(url, floor)).status_code == 403
    assert snapshot() == before


POSTS = [
    ("/app/warehouse/batches/{cart}/pick/scan/", {"code": "A-04-01-1-A", "scan_id": "x1"}),
    ("/app/warehouse/batches/{cart}/pick/scan/", {"action": "short", "scan_id": "x2"}),
    ("/app/warehouse/pack/{session}/scan/", {"code": "TEE", "scan_id": "x3"}),
    ("/app/warehouse/pack/{session}/ship/", {"weight_g": "500"}),
    ("/app/warehouse/replenish/{task}/take/", {}),
    ("/app/warehouse/replenish/{task}/scan/", {"code": "A-04-06-2-A", "scan_id": "x4"}),
    ("/app/warehouse/waves/create/", {"wh": "WH1", "line_profile": "any", "handling": "any", "totes": "8"}),
    ("/app/warehouse/pack/", {"wh": "WH1", "code": "T1"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("url", "data"), POSTS)
def test_actions_refuse_staff_of_another_warehouse_and_change_nothing(url, data, role, client, floor):
    client.force_login(make_staff(role, ["WH2"]))
    before = snapshot()
    assert client.post(_url(url, floor), data).status_code == 403
    assert snapshot() == before


def test_staff_of_the_warehouse_act_there(client, floor, released, wh):
    associate = make_staff(User.OperatorRole.ASSOCIATE, ["WH1"])
    client.force_login(associate)
    task = floor["task"]
    assert client.post(f"/app/warehouse/replenish/{task.pk}/take/").status_code == 302
    task.refresh_from_db()
    assert task.taken_by == associate
    # waves are a manager's work: an associate of WH1 may not create one, a manager of WH1 may
    released(("CAP", 1))
    wave = {"wh": "WH1", "line_profile": "any", "handling": "any", "totes": "8"}
    assert client.post("/app/warehouse/waves/create/", wave).status_code == 403
    assert Wave.objects.count() == 2
    client.force_login(make_staff(User.OperatorRole.MANAGER, ["WH1"]))
    assert client.post("/app/warehouse/waves/create/", wave).status_code == 302
    assert Wave.objects.count() == 3
    assert Wave.objects.latest("pk").warehouse == wh


def test_operator_admin_works_in_every_warehouse(client, floor):
    client.force_login(make_staff(User.OperatorRole.OPERATOR_ADMIN, []))
    for url in PAGES:
        assert client.get(_url(url, floor)).status_code == 200, url
    assert client.get("/app/warehouse/?wh=WH2").status_code == 200


def test_the_warehouse_picker_lists_only_assigned_warehouses(client, wh, wh2):
    client.force_login(make_staff(User.OperatorRole.ASSOCIATE, ["WH1"]))
    page = client.get("/app/warehouse/").content.decode()
    assert '<option value="WH1"' in page
    assert '<option value="WH2"' not in page
    assert client.get("/app/warehouse/?wh=WH2").status_code == 403
    client.force_login(make_staff(User.OperatorRole.MANAGER, ["WH1", "WH2"]))
    page = client.get("/app/warehouse/?wh=WH2").content.decode()
    assert '<option value="WH1"' in page
    assert '<option value="WH2" selected' in page
    assert "<h1>Outbound floor — WH2</h1>" in page


@pytest.mark.parametrize(
    "url",
    [
        "/app/warehouse/",
        "/app/warehouse/pack/",
        "/app/warehouse/replenish/",
        "/app/warehouse/inbound/floor/",
        "/app/warehouse/inbound/floor/putaway/",
    ],
)
def test_staff_without_a_warehouse_see_an_explanation_not_a_crash(url, client, wh):
    client.force_login(make_staff(User.OperatorRole.ASSOCIATE, []))
    response = client.get(url)
    assert response.status_code == 200
    assert "ask your manager to assign you a warehouse" in response.content.decode()


# --- The staff API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_api_cart_and_waves_follow_the_assignment(role, floor):
    mine = api_client_for(make_staff(role, ["WH1"]), None)
    other = api_client_for(make_staff(role, ["WH2"]), None)
    nowhere = api_client_for(make_staff(role, [], email=f"{role}-x@fulfil.example"), None)
    cart = floor["cart"].pk
    assert mine.get(f"/api/v1/carts/{cart}/").status_code == 200
    assert other.get(f"/api/v1/carts/{cart}/").status_code == 403
    assert nowhere.get(f"/api/v1/carts/{cart}/").status_code == 403
    assert mine.get("/api/v1/waves/").json()["count"] == 2
    assert other.get("/api/v1/waves/").json()["count"] == 0
    assert nowhere.get("/api/v1/waves/").json()["count"] == 0
    assert mine.get("/api/v1/waves/?warehouse=WH1").json()["count"] == 2
    assert other.get("/api/v1/waves/?warehouse=WH1").status_code == 403
    admin = api_client_for(make_staff(User.OperatorRole.OPERATOR_ADMIN, []), None)
    assert admin.get("/api/v1/waves/").json()["count"] == 2
    assert admin.get(f"/api/v1/carts/{cart}/").status_code == 200


# --- Managers assign staff ------------------------------------------------------------------------------


def _audits(user: User) -> list[tuple]:
    return list(
        AuditEntry.objects.filter(object_type="user", object_id=str(user.pk)).values_list(
            "action", "before", "after", "actor_id"
        )
    )


def test_manager_assigns_and_unassigns_staff_in_their_warehouses(client, wh, wh2):
    boss = make_staff(User.OperatorRole.MANAGER, ["WH1"], email="boss1@fulfil.example")
    newbie = make_staff(User.OperatorRole.ASSOCIATE, [], email="newbie@fulfil.example")
    client.force_login(boss)
    page = client.get("/app/warehouse/staff/").content.decode()
    assert "newbie@fulfil.example" in page
    assert "Warehouse associate" in page
    assert "Assign WH1" in page
    assert "Assign WH2" not in page  # not the manager's warehouse

    assert (
        client.post(
            "/app/warehouse/staff/", {"staff": newbie.pk, "wh": "WH1", "action": "assign"}
        ).status_code
        == 302
    )
    newbie.refresh_from_db()
    assert newbie.warehouse_codes == ["WH1"]
    assert _audits(newbie) == [
        ("warehouse_assigned", {"warehouse_codes": []}, {"warehouse_codes": ["WH1"]}, boss.pk)
    ]
    client.post(
        "/app/warehouse/staff/", {"staff": newbie.pk, "wh": "WH1", "action": "assign"}
    )  # again: no-op
    assert len(_audits(newbie)) == 1

    client.post("/app/warehouse/staff/", {"staff": newbie.pk, "wh": "WH1", "action": "unassign"})
    newbie.refresh_from_db()
    assert newbie.warehouse_codes == []
    assert _audits(newbie)[-1][:3] == (
        "warehouse_unassigned",
        {"warehouse_codes": ["WH1"]},
        {"warehouse_codes": []},
    )


def test_manager_cannot_assign_outside_their_warehouses_nor_touch_admins_or_themselves(client, wh, wh2):
    boss = make_staff(User.OperatorRole.MANAGER, ["WH1"], email="boss1@fulfil.example")
    newbie = make_staff(User.OperatorRole.ASSOCIATE, ["WH2"], email="newbie@fulfil.example")
    admin = make_staff(User.OperatorRole.OPERATOR_ADMIN, [], email="admin1@fulfil.example")
    client.force_login(boss)
    before = (sorted(User.objects.values_list("pk", "warehouse_codes")), AuditEntry.objects.count())
    refused = [
        ({"staff": newbie.pk, "wh": "WH2", "action": "unassign"}, 403),
        ({"staff": newbie.pk, "wh": "WH2", "action": "assign"}, 403),
        ({"staff": boss.pk, "wh": "WH1", "action": "unassign"}, 403),
        ({"staff": admin.pk, "wh": "WH1", "action": "assign"}, 404),
        ({"staff": newbie.pk, "wh": "NOPE", "action": "assign"}, 404),
    ]
    for data, status in refused:
        assert client.post("/app/warehouse/staff/", data).status_code == status, data
    assert (sorted(User.objects.values_list("pk", "warehouse_codes")), AuditEntry.objects.count()) == before


def test_only_managers_open_the_staff_screen_and_admins_assign_anywhere(client, wh, wh2, user_a):
    newbie = make_staff(User.OperatorRole.ASSOCIATE, ["WH1"], email="newbie@fulfil.example")
    client.force_login(newbie)
    assert client.get("/app/warehouse/staff/").status_code == 403
    assert (
        client.post(
            "/app/warehouse/staff/", {"staff": newbie.pk, "wh": "WH2", "action": "assign"}
        ).status_code
        == 403
    )
    client.force_login(user_a)
    assert client.get("/app/warehouse/staff/").status_code == 403
    newbie.refresh_from_db()
    assert newbie.warehouse_codes == ["WH1"]
    client.force_login(make_staff(User.OperatorRole.OPERATOR_ADMIN, [], email="admin1@fulfil.example"))
    client.post("/app/warehouse/staff/", {"staff": newbie.pk, "wh": "WH2", "action": "assign"})
    newbie.refresh_from_db()
    assert newbie.warehouse_codes == ["WH1", "WH2"]
