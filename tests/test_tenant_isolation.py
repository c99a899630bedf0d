"""Merchant B never sees merchant A's objects: in pages, API lists, API details, or writes (404)."""

import pytest

from tests.conftest import api_client_for
from tests.isolation import NOT_TENANT_SCOPED, STAFF_ONLY, all_cases

CASES = all_cases()
IDS = [c.name for c in CASES]


@pytest.fixture
def setup(membership_a, membership_b, client):
    return membership_a, membership_b


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_owner_sees_and_other_merchant_does_not_in_pages(case, membership_a, membership_b, client):
    obj = case.make(membership_a.merchant)
    marker = case.marker(obj)
    client.force_login(membership_a.user)
    for url in case.html_lists:
        assert marker in client.get(url).content.decode(), f"owner should see {marker} at {url}"
    if case.html_detail:
        assert client.get(case.html_detail(obj)).status_code == 200
    client.force_login(membership_b.user)
    for url in case.html_lists:
        response = client.get(url)
        assert response.status_code == 200
        assert marker not in response.content.decode(), f"{case.name} leaked into {url}"
    if case.html_detail:
        assert client.get(case.html_detail(obj)).status_code == 404


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_other_merchant_api_gets_404_and_empty_lists(case, membership_a, membership_b):
    obj = case.make(membership_a.merchant)
    marker = case.marker(obj)
    api_a = api_client_for(membership_a.user, membership_a)
    api_b = api_client_for(membership_b.user, membership_b)
    for url in case.api_lists:
        assert marker in api_a.get(url).content.decode()
        response = api_b.get(url)
        assert response.status_code == 200
        assert marker not in response.content.decode(), f"{case.name} leaked into {url}"
    if case.api_detail:
        assert api_a.get(case.api_detail(obj)).status_code == 200
        response = api_b.get(case.api_detail(obj))
        assert response.status_code == 404
        assert marker not in response.content.decode()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.api_writes], ids=[c.name for c in CASES if c.api_writes]
)
def test_other_merchant_cannot_write(case, membership_a, membership_b, client):
    obj = case.make(membership_a.merchant)
    api_b = api_client_for(membership_b.user, membership_b)
    client.force_login(membership_b.user)
    for method, url_fn, body in case.api_writes:
        url = url_fn(obj)
        caller = api_b if url.startswith("/api/") else client
        response = (
            getattr(caller, method)(url, body, format="json")
            if caller is api_b
            else getattr(caller, method)(url, body)
        )
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"


def test_every_api_list_has_an_isolation_case():
    """A new list endpoint must come with a case (or a reason in ``NOT_TENANT_SCOPED``)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    lists = {path for path, ops in schema["paths"].items() if "get" in ops and "{" not in path}
    covered = {url.split("?")[0] for case in CASES for url in case.api_lists}
    missing = sorted(lists - covered - set(NOT_TENANT_SCOPED) - set(STAFF_ONLY))
    assert missing == [], f"add tests/isolation cases for {missing}"


@pytest.mark.parametrize("url", sorted(STAFF_ONLY))
def test_staff_only_lists_refuse_merchant_keys(url, api_a, api_staff):
    assert api_a.get(url).status_code == 403
    assert api_staff.get(url).status_code == 200
