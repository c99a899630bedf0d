import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.db import transaction

from accounts.models import ApiKey, Membership, Merchant
from fulfil import outbox
from fulfil.models import AuditEntry, OutboxEvent

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy_with_no_warnings():
    env = {
        "PATH": os.environ["PATH"],
        "FULFIL_ENV": "production",
        "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-key-0987654321",
        "ALLOWED_HOSTS": "fulfil.example",
        "FIELD_ENCRYPTION_KEY": "m0hx7y6mT1Yd8U0rXn3qF2o9zq3l3a5b6c7d8e9f0g0=",
        "DJANGO_SETTINGS_MODULE": "fulfil.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    hint = (
        "\nSchema warnings (drf_spectacular.W001) count too: name a choice set shared by several serializers in"
        " SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES'] (fulfil/settings.py), give views distinct operation ids."
    )
    assert result.returncode == 0, result.stdout + result.stderr + hint
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {
        "PATH": os.environ["PATH"],
        "FULFIL_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "fulfil.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_signup_verify_profile_dashboard(client):
    response = client.post(
        "/accounts/signup/", {"email": "new@shop.example", "password1": "a-strong-pass-123"}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/accounts/confirm-email/" in line
    ).strip()
    response = client.get(link[link.index("/accounts/") :])
    assert response.status_code == 302
    response = client.post(
        "/app/account/profile/",
        {
            "name": "New Shop",
            "contact_name": "Sam",
            "street1": "1 A St",
            "city": "Austin",
            "postal_code": "73301",
            "country": "US",
            "timezone": "UTC",
            "currency": "USD",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    merchant = Merchant.objects.get(name="New Shop")
    assert Membership.objects.get(merchant=merchant).role == "owner"
    page = client.get("/app/").content.decode()
    assert 'id="onboarding"' in page
    assert 'data-step="profile"' in page


@pytest.mark.django_db
def test_api_key_auth_and_revocation(membership_a):
    from tests.conftest import api_client_for

    api = api_client_for(membership_a.user, membership_a)
    assert api.get("/api/v1/schema/").status_code == 200
    key = ApiKey.objects.get(user=membership_a.user)
    assert len(key.key_hash) == 64
    key.revoked_at = key.created_at
    key.save()
    response = api.get("/api/v1/schema/")
    assert response.status_code == 401


@pytest.mark.django_db
def test_create_api_key_command_prints_key_last(membership_a, capsys):
    from django.core.management import call_command

    call_command("create_api_key", membership_a.user.email)
    raw = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw.startswith("ful_")
    assert ApiKey.objects.filter(key_hash=ApiKey.hash(raw), membership=membership_a).exists()


@pytest.mark.django_db(transaction=True)
def test_outbox_runs_handlers_after_commit_and_never_for_rollback():
    seen = []

    @outbox.handles("test.ping")
    def on_ping(event):
        seen.append(event.payload["n"])

    with transaction.atomic():
        outbox.emit("test.ping", {"n": 1})

    def emit_then_fail():
        with transaction.atomic():
            outbox.emit("test.ping", {"n": 2})
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        emit_then_fail()
    assert seen == [1]
    assert OutboxEvent.objects.get().status == OutboxEvent.Status.DONE
    assert not OutboxEvent.objects.filter(payload__n=2).exists()


@pytest.mark.django_db(transaction=True)
def test_outbox_failed_handler_is_retried_then_visible():
    calls = {"n": 0}

    @outbox.handles("test.flaky")
    def flaky(event):
        calls["n"] += 1
        raise ValueError("downstream down")

    event = outbox.emit("test.flaky", {})
    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.PENDING
    assert "downstream down" in event.last_error
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.dispatch(event.pk)
    event.refresh_from_db()
    assert event.status == OutboxEvent.Status.FAILED
    assert event.attempts == outbox.MAX_ATTEMPTS


@pytest.mark.django_db
def test_profile_change_is_audited(client_a, merchant_a):
    client_a.post(
        "/app/account/profile/",
        {
            "name": merchant_a.name,
            "contact_name": "New Contact",
            "street1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
            "timezone": "UTC",
            "currency": "USD",
        },
    )
    entry = AuditEntry.objects.get(object_type="merchant", action="profile_updated")
    assert entry.after == {"contact_name": "New Contact"}
    assert entry.before == {"contact_name": "Pat Owner"}
    assert entry.source == "ui"
    assert entry.request_id


@pytest.mark.django_db
def test_a_broken_onboarding_step_shows_as_not_done_and_the_dashboard_still_loads(client_a, merchant_a):
    from fulfil import onboarding

    def broken(merchant):
        raise RuntimeError("step bug")

    onboarding.register(onboarding.Step(key="zz_broken", title="Broken step", order=999, is_done=broken))
    try:
        steps = {step.key: done for step, done in onboarding.progress(merchant_a).items}
        response = client_a.get("/app/")
    finally:
        onboarding._steps.pop("zz_broken")
    assert steps["zz_broken"] is False
    assert steps["profile"] is True
    assert response.status_code == 200
    assert 'data-step="zz_broken"' in response.content.decode()


@pytest.mark.django_db
def test_home_and_dashboard_link_to_the_public_pricing_page(client, client_a):
    from django.test import Client

    anonymous = Client().get("/").content.decode()
    assert 'href="/pricing/"' in anonymous
    assert 'href="/accounts/signup/"' in anonymous
    dashboard = client_a.get("/app/").content.decode()
    assert 'id="pricing-card"' in dashboard
    assert 'href="/pricing/"' in dashboard


PROFILE = {
    "name": "Trail Gear Co",
    "contact_name": "Robin",
    "street1": "200 Summit Ave",
    "city": "Boulder",
    "postal_code": "80302",
    "country": "us",
    "timezone": "America/Denver",
    "currency": "usd",
    "contact_phone": "(303) 555-0123",
}


@pytest.mark.django_db
def test_profile_normalises_country_currency_and_phone(client):
    from tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    assert client.post("/app/account/profile/", PROFILE).status_code == 302
    merchant = Merchant.objects.get(name="Trail Gear Co")
    assert (merchant.country, merchant.currency, merchant.timezone, merchant.contact_phone) == (
        "US",
        "USD",
        "America/Denver",
        "+13035550123",
    )
    assert merchant.slug == "trail-gear-co"
    assert merchant.contact_email == user.email


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus"),
        ("country", "XX"),
        ("currency", "US"),
        ("contact_phone", "123"),
        ("name", ""),
    ],
)
def test_profile_refuses_bad_values_and_creates_nothing(client, field, value):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.post("/app/account/profile/", {**PROFILE, field: value})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert Merchant.objects.count() == 0


def test_beat_runs_the_outbox_sweeper_every_30_seconds():
    from fulfil.celery import app

    assert app.conf.beat_schedule["outbox-sweep"] == {"task": "fulfil.tasks.outbox_sweep", "schedule": 30.0}
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every app's tasks
    assert "fulfil.tasks.outbox_sweep" in app.tasks
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {name} names an unknown task"


@pytest.mark.django_db
def test_sweep_picks_overdue_pending_events_only():
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    old = now - timedelta(minutes=5)
    lost = OutboxEvent.objects.create(event_type="t", payload={})
    waiting_retry = OutboxEvent.objects.create(
        event_type="t", payload={}, next_attempt_at=now + timedelta(minutes=1)
    )
    due_retry = OutboxEvent.objects.create(
        event_type="t", payload={}, next_attempt_at=now - timedelta(seconds=1)
    )
    done = OutboxEvent.objects.create(event_type="t", payload={}, status=OutboxEvent.Status.DONE)
    failed = OutboxEvent.objects.create(event_type="t", payload={}, status=OutboxEvent.Status.FAILED)
    fresh = OutboxEvent.objects.create(event_type="t", payload={})
    OutboxEvent.objects.exclude(pk=fresh.pk).update(created_at=old)

    assert outbox.sweep() == [lost.pk, due_retry.pk]
    assert {waiting_retry.pk, done.pk, failed.pk, fresh.pk}.isdisjoint(outbox.sweep())
