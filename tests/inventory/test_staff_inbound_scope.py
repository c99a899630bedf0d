"""Warehouse staff keys list only the inbound shipments of the warehouses they work in."""

import pytest

from inventory import services
from tests.conftest import api_client_for
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def asns(merchant_a, merchant_b):
    wh1 = WarehouseFactory(code="WH1")
    wh2 = WarehouseFactory(code="WH2")
    pa = ProductFactory(merchant=merchant_a, sku="IN-A")
    pb = ProductFactory(merchant=merchant_b, sku="IN-B")
    return {
        "a1": services.inbound_create(merchant=merchant_a, warehouse=wh1, lines=[(pa, 3)], reference="A-WH1"),
        "a2": services.inbound_create(merchant=merchant_a, warehouse=wh2, lines=[(pa, 3)], reference="A-WH2"),
        "b1": services.inbound_create(merchant=merchant_b, warehouse=wh1, lines=[(pb, 2)], reference="B-WH1"),
    }


def refs(resp):
    assert resp.status_code == 200
    return sorted(s["reference"] for s in resp.json()["results"])


def test_staff_key_lists_only_its_warehouses_shipments(api_staff, asns):
    # the associate works in WH1 (tests/inventory/conftest.py): both merchants' WH1 shipments, not WH2's
    assert refs(api_staff.get("/api/v1/inbound-shipments/")) == ["A-WH1", "B-WH1"]
    assert api_staff.get("/api/v1/inbound-shipments/").json()["count"] == 2
    assert api_staff.get(f"/api/v1/inbound-shipments/{asns['a2'].pk}/").status_code == 403
    assert api_staff.get(f"/api/v1/inbound-shipments/{asns['a1'].pk}/").status_code == 200


def test_unassigned_staff_see_none_and_admins_see_all(associate, asns):
    from accounts.models import User

    associate.warehouse_codes = []
    associate.save(update_fields=["warehouse_codes"])
    assert refs(api_client_for(associate, None).get("/api/v1/inbound-shipments/")) == []
    admin = User.objects.create_user(
        "admin@fulfil.example", "pw-admin-123", operator_role=User.OperatorRole.OPERATOR_ADMIN, is_staff=True
    )
    assert refs(api_client_for(admin, None).get("/api/v1/inbound-shipments/")) == ["A-WH1", "A-WH2", "B-WH1"]


def test_merchant_key_still_sees_its_own_in_every_warehouse(api_a, asns):
    assert refs(api_a.get("/api/v1/inbound-shipments/")) == ["A-WH1", "A-WH2"]
