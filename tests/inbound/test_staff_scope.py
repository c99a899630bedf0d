"""Staff scoping on the receiving floor and the staff receive API: associates and managers see and act only
in the warehouses they are assigned to (``warehouse.access``). Staff of the ASN's warehouse get 200; staff
of another warehouse get 403 and nothing changes — no session, receipt, putaway, count, grade or stock."""

from __future__ import annotations

import pytest

from accounts.models import User
from fulfil.models import AuditEntry
from inventory import services as inv
from inventory.models import InboundShipment, StockLevel, StockQuant
from tests.conftest import api_client_for
from warehouse.inbound import services
from warehouse.inbound.models import CycleCount, PutawayTask, ReceiptLine, ReceivingSession, ReturnUnit

from .conftest import loc
from .test_counts_returns import shipped_order

pytestmark = pytest.mark.django_db

ROLES = [User.OperatorRole.ASSOCIATE, User.OperatorRole.MANAGER]


def make_staff(role: str, codes: list[str]) -> User:
    return User.objects.create_user(
        f"{role}-{'-'.join(codes) or 'none'}@fulfil.example",
        "pw-staff-123",
        operator_role=role,
        is_staff=True,
        warehouse_codes=codes,
    )


@pytest.fixture
def other_wh(db):
    return inv.warehouse_create(code="OTHER", name="Other DC")


@pytest.fixture
def floor(merchant_a, wh, other_wh, products, asn):
    """In TST1: an ASN being received with a putaway task, an open count, a count awaiting approval and an
    open return. A second ASN waits for the other warehouse."""
    session = services.receiving_start(shipment=asn)
    services.receipt_record(session=session, client_scan_id="a", product=products["mug"], quantity=4)
    inv.stock_receive(
        merchant=merchant_a,
        product=products["mug"],
        warehouse=wh,
        quantity=5,
        location=loc(wh, "A-01-03-1-A"),
    )
    count, _ = services.count_create(location=loc(wh, "A-01-03-1-A"), product=products["mug"])
    lamp = products["lamp"]
    inv.stock_receive(
        merchant=merchant_a, product=lamp, warehouse=wh, quantity=20, location=loc(wh, "A-01-02-1-A")
    )
    approval, _ = services.count_create(location=loc(wh, "A-01-02-1-A"), product=lamp)
    services.count_submit(count=approval, quantity=12)
    approval = services.count_submit(count=approval, quantity=14)
    assert approval.status == CycleCount.Status.APPROVAL
    order = shipped_order(merchant_a, products["mug"], qty=3)
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="damaged", lines=[(products["mug"], 3)], warehouse=wh
    )
    elsewhere = inv.inbound_create(
        merchant=merchant_a, warehouse=other_wh, reference="PO-ELSEWHERE", lines=[(products["lamp"], 2)]
    )
    return {
        "asn": asn,
        "fresh": inv.inbound_create(merchant=merchant_a, warehouse=wh, reference="PO-2", lines=[(lamp, 1)]),
        "elsewhere": elsewhere,
        "task": PutawayTask.objects.get(),
        "count": count,
        "approval": approval,
        "rma": rma,
        "mug": products["mug"],
    }


def snapshot() -> tuple:
    """Everything a floor request could change."""
    return (
        sorted(InboundShipment.objects.values_list("pk", "status")),
        ReceivingSession.objects.count(),
        ReceiptLine.objects.count(),
        sorted(PutawayTask.objects.values_list("pk", "status")),
        sorted(CycleCount.objects.values_list("pk", "status", "first_count", "final_count")),
        ReturnUnit.objects.count(),
        sorted(StockQuant.objects.values_list("pk", "quantity")),
        sorted(StockLevel.objects.values_list("pk", "on_hand", "inbound")),
        AuditEntry.objects.count(),
    )


def _url(template: str, f) -> str:
    return template.format(
        asn=f["asn"].pk,
        fresh=f["fresh"].pk,
        task=f["task"].pk,
        count=f["count"].pk,
        rma=f["rma"].pk,
        mug=f["mug"].pk,
    )


PAGES = [
    "/app/warehouse/inbound/floor/receive/{asn}/",
    "/app/warehouse/inbound/floor/receive/{fresh}/",  # opening it starts a receiving session
    "/app/warehouse/inbound/floor/putaway/{task}/",
    "/app/warehouse/inbound/floor/counts/{count}/",
    "/app/warehouse/inbound/floor/returns/{rma}/",
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", PAGES)
def test_floor_pages_answer_staff_of_the_warehouse(url, role, client, floor):
    client.force_login(make_staff(role, ["TST1"]))
    assert client.get(_url(url, floor)).status_code == 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", PAGES)
def test_floor_pages_refuse_staff_of_another_warehouse_and_change_nothing(url, role, client, floor):
    client.force_login(make_staff(role, ["OTHER"]))
    before = snapshot()
    assert client.get(_url(url, floor)).status_code == 403
    assert snapshot() == before


POSTS = [
    ("/app/warehouse/inbound/floor/receive/", {"scan": "ASN:{fresh}"}),
    ("/app/warehouse/inbound/floor/receive/{asn}/", {"scan": "MUG", "quantity": "1", "client_scan_id": "z1"}),
    ("/app/warehouse/inbound/floor/receive/{asn}/done/", {}),
    ("/app/warehouse/inbound/floor/receive/{asn}/qc/{mug}/", {"sampled": "1", "client_scan_id": "z2"}),
    ("/app/warehouse/inbound/floor/putaway/{task}/", {"scan": "LOC:A-01-01-1-A"}),
    ("/app/warehouse/inbound/floor/counts/{count}/", {"quantity": "5"}),
    ("/app/warehouse/inbound/floor/counts/approvals/", {"count_id": "{approval}", "decision": "approve"}),
    ("/app/warehouse/inbound/floor/returns/", {"scan": "RMA-00001"}),
    (
        "/app/warehouse/inbound/floor/returns/{rma}/",
        {"scan": "MUG", "grade": "restock", "client_scan_id": "z3"},
    ),
    ("/app/warehouse/inbound/floor/returns/{rma}/", {"action": "finish"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("url", "data"), POSTS)
def test_floor_actions_refuse_staff_of_another_warehouse_and_change_nothing(url, data, role, client, floor):
    client.force_login(make_staff(role, ["OTHER"]))
    data = {k: v.replace("{approval}", str(floor["approval"].pk)) for k, v in data.items()}
    data = {k: _url(v, floor) if "{" in v else v for k, v in data.items()}
    before = snapshot()
    assert client.post(_url(url, floor), data).status_code == 403
    assert snapshot() == before


def test_staff_of_the_warehouse_receive_count_and_approve(client, floor):
    client.force_login(make_staff(User.OperatorRole.ASSOCIATE, ["TST1"]))
    url = f"/app/warehouse/inbound/floor/receive/{floor['asn'].pk}/"
    assert client.post(url, {"scan": "MUG", "quantity": "2", "client_scan_id": "ok1"}).status_code == 302
    assert ReceiptLine.objects.count() == 2
    client.post(f"/app/warehouse/inbound/floor/counts/{floor['count'].pk}/", {"quantity": "5"})
    assert CycleCount.objects.get(pk=floor["count"].pk).status == CycleCount.Status.DONE
    client.force_login(make_staff(User.OperatorRole.MANAGER, ["TST1"]))
    client.post(
        "/app/warehouse/inbound/floor/counts/approvals/",
        {"count_id": floor["approval"].pk, "decision": "approve"},
    )
    assert CycleCount.objects.get(pk=floor["approval"].pk).status == CycleCount.Status.DONE


@pytest.mark.parametrize("role", [*ROLES, User.OperatorRole.OPERATOR_ADMIN])
def test_floor_lists_show_only_the_assigned_warehouses(role, client, floor):
    """Staff of TST1 see its work, not OTHER's ASN; staff of OTHER the reverse; operator admins all."""
    everywhere = role == User.OperatorRole.OPERATOR_ADMIN
    for codes, expect_tst1 in [(["TST1"], True), (["OTHER"], everywhere)]:
        client.force_login(make_staff(role, [] if everywhere else codes))
        schedule = client.get("/app/warehouse/inbound/floor/schedule/").content.decode()
        assert ("PO-1" in schedule) is expect_tst1
        assert ("PO-ELSEWHERE" in schedule) is (everywhere or codes == ["OTHER"])
        home = client.get("/app/warehouse/inbound/floor/").context
        assert (home["putaways"], home["counts"], home["approvals"], home["returns"]) == (
            (1, 2, 1, 1) if expect_tst1 else (0, 0, 0, 0)
        )
        for url, n in [
            ("/app/warehouse/inbound/floor/putaway/", 1),
            ("/app/warehouse/inbound/floor/counts/", 1),
            ("/app/warehouse/inbound/floor/counts/approvals/", 1),
            ("/app/warehouse/inbound/floor/returns/", 1),
        ]:
            assert client.get(url).context["page"].paginator.count == (n if expect_tst1 else 0), url
        if everywhere:
            break


# --- The staff receive API (inventory) ----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_receive_api_refuses_a_staff_key_of_another_warehouse(role, floor):
    asn = floor["fresh"]
    body = {"lines": [{"sku": "LAMP", "quantity": 1}]}
    other = api_client_for(make_staff(role, ["OTHER"]), None)
    nowhere = api_client_for(make_staff(role, []), None)
    before = snapshot()
    assert other.post(f"/api/v1/inbound-shipments/{asn.pk}/receive/", body, format="json").status_code == 403
    assert snapshot() == before
    assert (
        nowhere.post(f"/api/v1/inbound-shipments/{asn.pk}/receive/", body, format="json").status_code == 403
    )
    assert snapshot() == before
    lamp_level = StockLevel.objects.get(product__sku="LAMP", warehouse=asn.warehouse)
    mine = api_client_for(make_staff(role, ["TST1"]), None)
    ok = mine.post(f"/api/v1/inbound-shipments/{asn.pk}/receive/", body, format="json")
    assert ok.status_code == 200, ok.content
    assert StockLevel.objects.get(pk=lamp_level.pk).on_hand == lamp_level.on_hand + 1
