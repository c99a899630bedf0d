"""Shared fixtures. Tenancy: ``merchant_a``/``merchant_b`` are two tenants with an owner each;
``client_a`` is a browser session and ``api_a`` an API client with a Bearer key for merchant A."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from tests.factories import MembershipFactory

FIXTURES_DIR = Path(
    os.environ.get("FULFIL_VENDOR_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs Postgres (set DATABASE_URL)"
)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def vendor_fixtures() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"vendor fixtures not found at {FIXTURES_DIR} (set FULFIL_VENDOR_FIXTURES)")
    return FIXTURES_DIR


@pytest.fixture
def membership_a(db):
    return MembershipFactory(merchant__name="Merchant A", merchant__slug="merchant-a")


@pytest.fixture
def membership_b(db):
    return MembershipFactory(merchant__name="Merchant B", merchant__slug="merchant-b")


@pytest.fixture
def merchant_a(membership_a):
    return membership_a.merchant


@pytest.fixture
def merchant_b(membership_b):
    return membership_b.merchant


@pytest.fixture
def user_a(membership_a):
    return membership_a.user


@pytest.fixture
def client_a(client, membership_a):
    client.force_login(membership_a.user)
    return client


def api_client_for(user, membership=None) -> APIClient:
    _, raw = account_services.api_key_create(user=user, membership=membership)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


@pytest.fixture
def api_a(membership_a) -> APIClient:
    return api_client_for(membership_a.user, membership_a)


@pytest.fixture
def api_b(membership_b) -> APIClient:
    return api_client_for(membership_b.user, membership_b)


@pytest.fixture
def associate(db) -> User:
    return User.objects.create_user(
        "picker@fulfil.example", "pw-associate-123", operator_role=User.OperatorRole.ASSOCIATE, is_staff=True
    )


@pytest.fixture
def manager(db) -> User:
    return User.objects.create_user(
        "boss@fulfil.example", "pw-manager-123", operator_role=User.OperatorRole.MANAGER, is_staff=True
    )


@pytest.fixture
def api_staff(associate) -> APIClient:
    return api_client_for(associate, None)
