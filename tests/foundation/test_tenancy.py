"""Several merchants per user and switching between them; operator staff land on the warehouse screens."""

import pytest

from accounts.models import Membership, User
from accounts.services import api_key_create
from fulfil.tenancy import SESSION_KEY
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hats(membership_a, merchant_b):
    """Merchant A's owner is also a member of merchant B."""
    Membership.objects.create(user=membership_a.user, merchant=merchant_b, role=Membership.Role.MEMBER)
    return membership_a.user


def test_user_with_two_merchants_switches_between_them(client, two_hats, merchant_a, merchant_b):
    api_key_create(user=two_hats, membership=two_hats.memberships.get(merchant=merchant_a), name="key-of-a")
    api_key_create(user=two_hats, membership=two_hats.memberships.get(merchant=merchant_b), name="key-of-b")
    client.force_login(two_hats)

    page = client.get("/app/").content.decode()
    assert "<h1>Merchant A</h1>" in page
    assert 'aria-label="Switch merchant"' in page
    assert "key-of-a" in client.get("/app/account/api-keys/").content.decode()

    response = client.post("/app/account/switch/", {"merchant_id": merchant_b.pk})

    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert client.session[SESSION_KEY] == merchant_b.pk
    assert "<h1>Merchant B</h1>" in client.get("/app/").content.decode()
    keys_page = client.get("/app/account/api-keys/").content.decode()
    assert "key-of-b" in keys_page
    assert "key-of-a" not in keys_page


@pytest.mark.parametrize("bad", ["not-a-number", "", "-1"])
def test_switching_to_a_merchant_you_do_not_belong_to_is_404(client, user_a, merchant_a, merchant_b, bad):
    client.force_login(user_a)
    client.get("/app/")
    for value in [merchant_b.pk, bad]:
        assert client.post("/app/account/switch/", {"merchant_id": value}).status_code == 404
    assert client.session[SESSION_KEY] == merchant_a.pk
    assert "<h1>Merchant A</h1>" in client.get("/app/").content.decode()


def test_switching_is_post_only(client_a, merchant_a):
    assert client_a.get(f"/app/account/switch/?merchant_id={merchant_a.pk}").status_code == 405


def test_an_inactive_merchant_is_never_current(client, two_hats, merchant_a, merchant_b):
    client.force_login(two_hats)
    client.post("/app/account/switch/", {"merchant_id": merchant_b.pk})
    merchant_b.is_active = False
    merchant_b.save()
    assert "<h1>Merchant A</h1>" in client.get("/app/").content.decode()
    assert client.session[SESSION_KEY] == merchant_a.pk


def test_a_left_merchant_falls_back_to_the_remaining_one(client, two_hats, merchant_a, merchant_b):
    client.force_login(two_hats)
    client.post("/app/account/switch/", {"merchant_id": merchant_b.pk})
    Membership.objects.filter(user=two_hats, merchant=merchant_b).delete()
    assert "<h1>Merchant A</h1>" in client.get("/app/").content.decode()


def _login(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_merchant_user_lands_on_the_dashboard(client, user_a):
    assert _login(client, user_a.email)["Location"] == "/app/"


def test_new_user_without_a_merchant_lands_on_the_profile_step(client):
    user = UserFactory()
    assert _login(client, user.email)["Location"] == "/app/account/profile/"
    assert client.get("/app/")["Location"] == "/app/account/profile/"


@pytest.mark.parametrize("role", ["associate", "manager", "operator_admin"])
def test_operator_staff_land_on_the_warehouse_screens(client, role):
    user = UserFactory(email=f"{role}@fulfil.example", operator_role=role, is_staff=True)

    assert _login(client, user.email)["Location"] == "/app/warehouse/"
    assert client.get("/app/")["Location"] == "/app/warehouse/"
    assert client.get("/")["Location"] == "/app/"
    assert client.get("/app/account/api-keys/")["Location"] == "/app/warehouse/"


def test_operator_who_is_also_a_merchant_member_gets_the_merchant_dashboard(client, merchant_a):
    staff = UserFactory(email="dual@fulfil.example", operator_role="manager", is_staff=True)
    MembershipFactory(user=staff, merchant=merchant_a, role="member")
    assert _login(client, staff.email)["Location"] == "/app/"


@pytest.mark.parametrize(
    ("role", "superuser", "is_operator", "is_manager"),
    [
        ("", False, False, False),
        ("associate", False, True, False),
        ("manager", False, True, True),
        ("operator_admin", False, True, True),
        ("", True, True, True),
    ],
)
def test_operator_role_properties(role, superuser, is_operator, is_manager):
    user = User(email="x@fulfil.example", operator_role=role, is_superuser=superuser)
    assert (user.is_operator, user.is_warehouse_manager) == (is_operator, is_manager)


def test_nav_shows_warehouse_to_operators_and_not_to_merchants(client, client_a):
    assert 'href="/app/warehouse/"' not in client_a.get("/app/").content.decode()
    client.force_login(UserFactory(email="m@fulfil.example", operator_role="manager", is_staff=True))
    assert 'href="/app/warehouse/"' in client.get("/app/account/phone/").content.decode()


@pytest.mark.parametrize(
    ("role", "superuser", "codes", "expected"),
    [
        ("", False, [], {"WH1": False, "WH2": False}),
        ("associate", False, [], {"WH1": False, "WH2": False}),
        ("associate", False, ["WH1"], {"WH1": True, "WH2": False}),
        ("manager", False, ["WH2"], {"WH1": False, "WH2": True}),
        ("operator_admin", False, ["WH1"], {"WH1": True, "WH2": True}),
        ("", True, [], {"WH1": True, "WH2": True}),
    ],
)
def test_operators_work_in_their_assigned_warehouses(role, superuser, codes, expected):
    user = User(email="x@fulfil.example", operator_role=role, is_superuser=superuser, warehouse_codes=codes)
    assert {code: user.works_in(code) for code in ["WH1", "WH2"]} == expected
