"""The Django admin: every registered model's list loads (with a search) for an operator admin, and failed
outbox events are visible there and can be retried."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from fulfil import outbox

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def admin_client_(client, db):
    superuser = User.objects.create_superuser("root@fulfil.example", "pw-root-12345")
    client.force_login(superuser)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "model_admin"), MODEL_ADMINS, ids=[model._meta.label for model, _ in MODEL_ADMINS]
)
def test_every_admin_list_loads_and_searches(model, model_admin, admin_client_, membership_a, api_a):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert admin_client_.get(url).status_code == 200
    if model_admin.search_fields:
        assert admin_client_.get(url, {"q": "acme"}).status_code == 200
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        change = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk])
        assert admin_client_.get(change).status_code == 200


def test_operators_models_have_list_displays_and_searches():
    ours = [(m, a) for m, a in MODEL_ADMINS if m._meta.app_label in {"accounts", "fulfil"} and m is not User]
    assert {m._meta.model_name for m, _ in ours} >= {
        "merchant",
        "membership",
        "apikey",
        "phoneverification",
        "outboxevent",
        "auditentry",
        "idempotencyrecord",
    }
    for model, model_admin in ours:
        assert model_admin.list_display != ("__str__",), model
        assert model_admin.search_fields, model


@pytest.mark.django_db(transaction=True)
def test_failed_event_is_retried_then_listed_for_an_operator_who_can_retry_it(admin_client_):
    state = {"broken": True, "calls": 0}

    @outbox.handles("test.operator_retry")
    def downstream(event):
        state["calls"] += 1
        if state["broken"]:
            raise ConnectionError("warehouse system down")

    event = outbox.emit("test.operator_retry", {"order": 1})  # autocommit: dispatched at once (eager)
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        outbox.dispatch(event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts, state["calls"]) == ("failed", outbox.MAX_ATTEMPTS, 8)
    assert "warehouse system down" in event.last_error
    assert outbox.sweep(older_than_seconds=0) == []  # failed events wait for an operator

    url = reverse("admin:fulfil_outboxevent_changelist")
    failed = admin_client_.get(url, {"status__exact": "failed"}).content.decode()
    done = admin_client_.get(url, {"status__exact": "done"}).content.decode()
    assert f"test.operator_retry #{event.pk}" in failed or f'value="{event.pk}"' in failed
    assert f'value="{event.pk}"' not in done

    state["broken"] = False
    response = admin_client_.post(
        url, {"action": "retry", "_selected_action": [event.pk], "index": 0}, follow=True
    )

    assert "1 events queued again." in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("done", 1, "")
    assert state["calls"] == 9
