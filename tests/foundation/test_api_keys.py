"""API keys: shown once, stored hashed, revocable, per membership; the CLI command; the demo data."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Membership, Merchant, User
from fulfil.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_key_created_in_settings_is_shown_once_and_works(client_a, membership_a):
    from rest_framework.test import APIClient

    response = client_a.post("/app/account/api-keys/", {"name": "ERP sync"})

    page = response.content.decode()
    raw = page.split('id="new-key">')[1].split("<")[0]
    assert raw.startswith("ful_")
    key = ApiKey.objects.get(name="ERP sync")
    assert (key.membership, key.user, key.prefix) == (membership_a, membership_a.user, raw[:12])
    assert key.key_hash == ApiKey.hash(raw)
    assert raw not in client_a.get("/app/account/api-keys/").content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").json()["merchant"]["id"] == membership_a.merchant_id
    entry = AuditEntry.objects.get(object_type="api_key", action="created")
    assert entry.after == {"name": "ERP sync", "prefix": raw[:12]}
    assert entry.actor_id == membership_a.user_id

    response = client_a.post(f"/app/account/api-keys/{key.pk}/revoke/")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("/api/v1/me/").status_code == 401
    assert AuditEntry.objects.filter(object_type="api_key", action="revoked").count() == 1


def test_create_api_key_command_for_operator_staff_and_for_one_of_several_merchants(
    associate, membership_a, merchant_b, capsys
):
    call_command("create_api_key", associate.email)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    staff_key = ApiKey.objects.get(key_hash=ApiKey.hash(raw))
    assert (staff_key.user, staff_key.membership) == (associate, None)

    second = Membership.objects.create(user=membership_a.user, merchant=merchant_b, role="admin")
    call_command("create_api_key", membership_a.user.email.upper(), merchant=merchant_b.slug)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert ApiKey.objects.get(key_hash=ApiKey.hash(raw)).membership == second


def test_create_api_key_command_refuses_unknown_users_and_merchantless_customers():
    from tests.factories import UserFactory

    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_key", "ghost@nowhere.example")
    loner = UserFactory()
    with pytest.raises(CommandError, match="belongs to no merchant"):
        call_command("create_api_key", loner.email)
    assert ApiKey.objects.count() == 0


def test_loaddemo_twice_gives_the_documented_logins_once(capsys):
    call_command("loaddemo")
    call_command("loaddemo")

    out = capsys.readouterr().out
    assert out.count("Every demo password: fulfil-demo") == 2
    assert list(Merchant.objects.order_by("name").values_list("name", flat=True)[:2]) == [
        "Acme Outdoor",
        "Globex Beauty",
    ]
    for email, merchant in [
        ("owner@acme.example", "Acme Outdoor"),
        ("owner@globex.example", "Globex Beauty"),
    ]:
        user = User.objects.get(email=email)
        assert user.check_password("fulfil-demo")
        assert list(user.memberships.values_list("merchant__name", "role")) == [(merchant, "owner")]
    staff = ["associate@fulfil.example", "manager@fulfil.example", "admin@fulfil.example"]
    roles = dict(User.objects.filter(email__in=staff).values_list("email", "operator_role"))
    assert roles == {
        "associate@fulfil.example": "associate",
        "manager@fulfil.example": "manager",
        "admin@fulfil.example": "operator_admin",
    }
    assert User.objects.get(email="associate@fulfil.example").warehouse_codes == ["WH1"]
    admin = User.objects.get(email="admin@fulfil.example")
    assert (admin.is_superuser, admin.is_staff, admin.check_password("fulfil-demo")) == (True, True, True)
