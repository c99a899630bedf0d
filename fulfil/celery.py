"""The Celery app. Periodic work is declared once, here, in ``beat_schedule``.

Queues: ``inbox`` carries the webhook inbox's drain and single-row retries (channel orders into the book);
``celery`` (the default) carries everything else — order processing, outbox handlers (billing estimates,
channel stock pushes), polls. Production runs one worker per queue (``make worker``, docker-compose), so a
burst of outbox work never delays an import; a worker started without ``-Q`` consumes both (tests, small
installs)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")

app = Celery("fulfil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

INBOX_QUEUE = "inbox"
app.conf.task_default_queue = "celery"
app.conf.task_queues = (Queue("celery"), Queue(INBOX_QUEUE))
app.conf.task_routes = {
    "integrations.tasks.inbox_drain": {"queue": INBOX_QUEUE},
    "integrations.tasks.inbox_process": {"queue": INBOX_QUEUE},
}

app.conf.beat_schedule = {
    "outbox-sweep": {"task": "fulfil.tasks.outbox_sweep", "schedule": 30.0},
}


def add_periodic(name: str, task: str, seconds: float, **options) -> None:
    """Apps register their periodic tasks here from ``AppConfig.ready`` so the schedule stays in one place."""
    app.conf.beat_schedule[name] = {"task": task, "schedule": seconds, **options}
