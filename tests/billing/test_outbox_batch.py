"""``fulfil.outbox.emit_many`` (the import path's events, billing's estimates among their handlers) registers ONE
after-commit callback for all of its events: one drain kick with a Redis broker, one dispatch each otherwise."""

from __future__ import annotations

import pytest

from fulfil import outbox
from fulfil.models import OutboxEvent

pytestmark = pytest.mark.django_db


class FakeFlag:
    def __init__(self):
        self.sets = 0

    def set(self, *args, **kwargs):
        self.sets += 1
        return False  # a drain is already queued: nothing else to publish

    def delete(self, *args):
        pass


def _emit_three(merchant_a):
    return outbox.emit_many([("billing.test_batch", {"n": n}, merchant_a.pk) for n in range(3)])


def test_emit_many_one_callback_one_kick_with_redis(
    merchant_a, monkeypatch, django_capture_on_commit_callbacks
):
    flag = FakeFlag()
    monkeypatch.setattr(outbox, "_drain_flag", lambda: flag)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        events = _emit_three(merchant_a)
    assert len(events) == 3
    assert OutboxEvent.objects.filter(event_type="billing.test_batch").count() == 3
    assert len(callbacks) == 1
    assert flag.sets == 1


def test_emit_many_without_flag_dispatches_each(merchant_a, monkeypatch, django_capture_on_commit_callbacks):
    seen: list[int] = []
    monkeypatch.setattr(outbox, "_drain_flag", lambda: None)
    monkeypatch.setattr(outbox, "_enqueue", lambda *, event_id: seen.append(event_id))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        events = _emit_three(merchant_a)
    assert len(callbacks) == 1
    assert seen == [e.pk for e in events]


def test_emit_many_of_nothing_registers_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert outbox.emit_many([]) == []
    assert callbacks == []
