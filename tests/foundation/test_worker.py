"""A real Celery worker (not eager) against the real Redis and Postgres."""

import pytest
from django.db import transaction

from fulfil import outbox
from fulfil.models import OutboxEvent
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_real_worker_dispatches_outbox_event(celery_worker_process):
    with transaction.atomic():
        event = outbox.emit("test.worker_ping", {"n": 7})

    def done():
        event.refresh_from_db()
        return event.status == OutboxEvent.Status.DONE

    wait_for(done, timeout=30)
    assert event.attempts == 1
