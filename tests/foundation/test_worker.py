"""A real Celery worker (not eager) against the real Redis and Postgres."""

from datetime import timedelta

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.celery import app
from fulfil.models import AuditEntry, OutboxEvent
from fulfil.tasks import outbox_sweep
from tests.conftest import wait_for
from tests.foundation import worker_handlers

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]

CELERY_WORKER_INCLUDE = ["tests.foundation.worker_handlers"]


def test_real_worker_dispatches_outbox_event(celery_worker_process):
    with transaction.atomic():
        event = outbox.emit("test.worker_ping", {"n": 7})

    def done():
        event.refresh_from_db()
        return event.status == OutboxEvent.Status.DONE

    wait_for(done, timeout=30)
    assert event.attempts == 1


def test_worker_killed_mid_handler_and_redis_flushed_loses_nothing(celery_worker_process, tmp_path):
    # Given an event whose handler is running in the worker,
    with transaction.atomic():
        event = outbox.emit("test.slow", {"dir": str(tmp_path)})
    runs = tmp_path / "runs.log"
    wait_for(lambda: runs.exists() and runs.read_text() == "started\n", timeout=30)

    # when the worker is killed mid-handler and Redis loses the queued task,
    celery_worker_process.kill()
    redis.Redis.from_url(app.conf.broker_url).flushdb()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.handled) == (OutboxEvent.Status.PENDING, 0, [])
    assert not AuditEntry.objects.filter(object_type="test.slow").exists()

    # then a new worker and the beat sweeper finish it, exactly once.
    (tmp_path / "release").touch()
    celery_worker_process.start()
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    outbox_sweep.delay()

    def done():
        event.refresh_from_db()
        return event.status == OutboxEvent.Status.DONE

    wait_for(done, timeout=30)
    assert event.attempts == 1
    assert event.handled == [outbox.handler_name(worker_handlers.slow_handler)]
    assert runs.read_text() == "started\nstarted\ndone\n"
    assert AuditEntry.objects.filter(object_type="test.slow", object_id=str(event.pk)).count() == 1
    # Sweeping again finds nothing to do.
    assert outbox.sweep() == []


def test_real_worker_drains_many_events_behind_one_flag(celery_worker_process):
    # Given a Redis broker, events committed one by one set the drain flag once and queue outbox_drain tasks,
    # not one outbox_dispatch per event,
    broker = redis.Redis.from_url(app.conf.broker_url)
    events = []
    for n in range(30):
        with transaction.atomic():
            events.append(outbox.emit("test.worker_ping", {"n": n}))
    assert broker.exists(outbox.DRAIN_FLAG) or OutboxEvent.objects.filter(status="done").exists()

    # then the worker's drain dispatches every one of them, once.
    def done():
        return OutboxEvent.objects.filter(pk__in=[e.pk for e in events], status="done").count() == 30

    wait_for(done, timeout=30)
    assert set(
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("attempts", flat=True)
    ) == {1}
    assert outbox.sweep(older_than_seconds=0) == []
