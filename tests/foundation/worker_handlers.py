"""Outbox handlers imported by the real test worker (``CELERY_WORKER_INCLUDE``) and by the tests."""

import time
from pathlib import Path

from fulfil import outbox
from fulfil.models import AuditEntry


@outbox.handles("test.slow")
def slow_handler(event):
    """Notes that it started, waits until the test drops a ``release`` file, then records its effect.
    Idempotent: the effect is keyed by the event id and commits with the dispatch."""
    workdir = Path(event.payload["dir"])
    with (workdir / "runs.log").open("a") as log:
        log.write("started\n")
    deadline = time.time() + 60
    while not (workdir / "release").exists() and time.time() < deadline:
        time.sleep(0.05)
    AuditEntry.objects.get_or_create(object_type="test.slow", object_id=str(event.pk), action="handled")
    with (workdir / "runs.log").open("a") as log:
        log.write("done\n")
