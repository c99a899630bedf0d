"""The API foundation (../shared/API.md): keys, status codes, idempotency, throttling, pagination, schema."""

import pytest
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey
from fulfil.drf import KeyRateThrottle
from fulfil.models import AuditEntry
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_me_answers_with_the_keys_user_merchant_and_role(api_a, membership_a):
    response = api_a.get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    merchant = membership_a.merchant
    assert body["user"]["email"] == membership_a.user.email
    assert body["merchant"] == {
        "id": merchant.pk,
        "name": "Merchant A",
        "slug": "merchant-a",
        "country": "US",
        "timezone": "UTC",
        "currency": "USD",
        "plan": "standard",
    }
    assert body["role"] == "owner"
    assert body["is_operator"] is False
    assert body["api_key"]["prefix"] == ApiKey.objects.get(user=membership_a.user).prefix


def test_me_for_a_warehouse_staff_key_has_no_merchant(api_staff, associate):
    body = api_staff.get("/api/v1/me/").json()
    assert (body["merchant"], body["role"], body["is_operator"]) == (None, None, True)
    assert body["user"]["operator_role"] == "associate"
    assert body["user"]["warehouse_codes"] == []


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        ("Bearer ful_not-a-real-key", "Invalid or revoked API key."),
        ("Bearer", "Malformed Authorization header: use 'Bearer <key>'."),
        ("Bearer two parts", "Malformed Authorization header: use 'Bearer <key>'."),
    ],
)
def test_missing_or_bad_key_is_401(header, detail, membership_a):
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": detail}


def test_revoked_key_and_inactive_merchant_are_401(membership_a):
    api = api_client_for(membership_a.user, membership_a)
    key = ApiKey.objects.get(user=membership_a.user)
    membership_a.merchant.is_active = False
    membership_a.merchant.save()
    assert api.get("/api/v1/me/").json() == {"detail": "This merchant account is inactive."}
    membership_a.merchant.is_active = True
    membership_a.merchant.save()
    services.api_key_revoke(key=key)
    assert api.get("/api/v1/me/").status_code == 401


def test_api_key_list_is_paginated_and_stable(api_a, membership_a):
    for n in range(3):
        services.api_key_create(user=membership_a.user, membership=membership_a, name=f"key {n}")

    first = api_a.get("/api/v1/api-keys/", {"limit": 2}).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 4
    assert [k["name"] for k in first["results"]] == ["key 2", "key 1"]
    assert first["previous"] is None
    assert first["next"].endswith("/api/v1/api-keys/?limit=2&offset=2")
    second = api_a.get(first["next"]).json()
    assert [k["name"] for k in second["results"]] == ["key 0", "API key"]
    assert second["next"] is None
    assert "key_hash" not in second["results"][0]


def test_throttled_key_gets_429_with_retry_after(api_a, api_b, monkeypatch):
    monkeypatch.setattr(KeyRateThrottle, "THROTTLE_RATES", {"key": "3/min"})

    statuses = [api_a.get("/api/v1/me/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = api_a.get("/api/v1/me/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()
    assert api_b.get("/api/v1/me/").status_code == 200  # per key, not global


@pytest.mark.urls("tests.foundation.api_test_urls")
def test_idempotency_key_replays_the_first_answer_and_creates_nothing_new(api_a, api_b):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-7781-retry"}

    first = api_a.post("/api/v1/test-notes/", {"text": "hello"}, format="json", **headers)
    again = api_a.post("/api/v1/test-notes/", {"text": "hello"}, format="json", **headers)

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AuditEntry.objects.filter(object_type="test.note").count() == 1

    changed = api_a.post("/api/v1/test-notes/", {"text": "other"}, format="json", **headers)
    assert changed.status_code == 409
    assert changed.json() == {"detail": "This Idempotency-Key was used with a different request."}
    assert AuditEntry.objects.filter(object_type="test.note").count() == 1

    # Keys are per API key: another merchant using the same string is a different request.
    other = api_b.post("/api/v1/test-notes/", {"text": "hello"}, format="json", **headers)
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    # Without the header every call creates.
    api_a.post("/api/v1/test-notes/", {"text": "hello"}, format="json")
    assert AuditEntry.objects.filter(object_type="test.note").count() == 3


@pytest.mark.urls("tests.foundation.api_test_urls")
def test_idempotency_key_after_a_refusal_or_server_error_can_be_retried(api_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    bad = api_a.post("/api/v1/test-notes/", {"text": ""}, format="json", **headers)
    assert bad.status_code == 400
    assert bad.json() == {"text": ["This field may not be blank."]}
    again = api_a.post("/api/v1/test-notes/", {"text": ""}, format="json", **headers)
    assert (again.status_code, again.json()) == (400, bad.json())
    # The key is free again once the request is right.
    fixed = api_a.post("/api/v1/test-notes/", {"text": "ok"}, format="json", **headers)
    assert fixed.status_code == 201

    headers = {"HTTP_IDEMPOTENCY_KEY": "k-2"}
    assert api_a.post("/api/v1/test-notes/", {"text": "explode"}, format="json", **headers).status_code == 502
    retry = api_a.post("/api/v1/test-notes/", {"text": "explode"}, format="json", **headers)
    assert retry.status_code == 502
    assert "Idempotent-Replayed" not in retry


def test_schema_is_valid_openapi_and_describes_the_foundation(api_a):
    response = api_a.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/me/", "/api/v1/api-keys/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["BearerApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from Settings → API keys.",
    }
    me = schema["paths"]["/api/v1/me/"]["get"]
    assert "200" in me["responses"]
    page = schema["components"]["schemas"]["PaginatedApiKeyList"]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}


def test_docs_are_served_without_any_cdn(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "https://" not in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
