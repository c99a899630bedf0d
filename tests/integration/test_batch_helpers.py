"""``outbox.emit_many`` and ``audit.record_many``: the public batch helpers the orders batch path uses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from fulfil import audit, outbox
from fulfil.models import AuditEntry, OutboxEvent

pytestmark = pytest.mark.django_db


def test_emit_many_is_one_insert_and_one_callback_dispatching_every_event_on_commit(
    merchant_a, django_capture_on_commit_callbacks
):
    seen = []

    @outbox.handles("test.emit_many")
    def record(event):
        seen.append(event.payload["n"])

    try:
        with (
            django_capture_on_commit_callbacks(execute=False) as callbacks,
            transaction.atomic(),
            CaptureQueriesContext(connection) as queries,
        ):
            events = outbox.emit_many([("test.emit_many", {"n": i}, merchant_a.pk) for i in range(3)])
        inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) == 1
        assert [e.payload for e in events] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert all(e.pk for e in events)
        assert len(callbacks) == 1  # one after-commit callback for the whole batch
        assert seen == []  # nothing before commit
        for callback in callbacks:
            callback()
        assert seen == [0, 1, 2]
        assert set(
            OutboxEvent.objects.filter(event_type="test.emit_many").values_list("status", flat=True)
        ) == {"done"}
    finally:
        outbox._registry.pop("test.emit_many", None)


def test_emit_many_rolled_back_emits_nothing(merchant_a, django_capture_on_commit_callbacks):
    def emit_then_fail():
        with transaction.atomic():
            outbox.emit_many([("test.rollback", {}, merchant_a.pk)])
            raise RuntimeError

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        emit_then_fail()
    assert callbacks == []
    assert not OutboxEvent.objects.filter(event_type="test.rollback").exists()
    assert outbox.emit_many([]) == []


def test_record_many_is_one_insert_with_the_actor_and_jsonable_values(merchant_a, user_a):
    actor = audit.Actor(user_id=user_a.pk, label=user_a.email, source="ui")
    other = audit.Actor(label="worker", source="worker")
    with audit.audit_context(actor), CaptureQueriesContext(connection) as queries:
        rows = audit.record_many(
            [
                {"obj_type": "order", "obj_id": 7, "action": "order.x", "merchant_id": merchant_a.pk,
                 "after": {"amount": Decimal("1.50")}, "message": "m"},
                {"obj_type": "order", "obj_id": 8, "action": "order.y", "actor": other},
            ]
        )  # fmt: skip
    assert len(queries.captured_queries) == 1
    assert len(rows) == 2
    got = list(
        AuditEntry.objects.order_by("pk").values_list(
            "object_id", "action", "merchant_id", "actor_id", "actor_label", "source", "after", "message"
        )
    )
    assert got == [
        ("7", "order.x", merchant_a.pk, user_a.pk, user_a.email, "ui", {"amount": "1.50"}, "m"),
        ("8", "order.y", None, None, "worker", "worker", {}, ""),
    ]
    assert audit.record_many([]) == []
