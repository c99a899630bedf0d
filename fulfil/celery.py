"""The Celery app. Periodic work is declared once, here, in ``beat_schedule``.

Queues: ``inbox`` carries the webhook inbox's drain and single-row retries (channel orders into the book);
``orders`` carries order processing (validate, route, allocate, release); ``celery`` (the default) carries
everything else — outbox handlers (billing estimates, channel stock pushes), polls, sweepers. Production runs
a worker per queue (``make worker``, docker-compose), so a burst of outbox work never delays an import or an
allocation, and processing never takes the drain's CPU; a worker started without ``-Q`` consumes every queue
(tests, small installs)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")

app = Celery("fulfil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

INBOX_QUEUE = "inbox"
ORDERS_QUEUE = "orders"
app.conf.task_default_queue = "celery"
app.conf.task_queues = (Queue("celery"), Queue(INBOX_QUEUE), Queue(ORDERS_QUEUE))
app.conf.task_routes = {
    "integrations.tasks.inbox_drain": {"queue": INBOX_QUEUE},
    "integrations.tasks.inbox_process": {"queue": INBOX_QUEUE},
    "orders.tasks.orders_process_batch": {"queue": ORDERS_QUEUE},
    "orders.tasks.order_process": {"queue": ORDERS_QUEUE},
}

app.conf.beat_schedule = {
    "outbox-sweep": {"task": "fulfil.tasks.outbox_sweep", "schedule": 30.0},
}


def add_periodic(name: str, task: str, seconds: float, **options) -> None:
    """Apps register their periodic tasks here from ``AppConfig.ready`` so the schedule stays in one place."""
    app.conf.beat_schedule[name] = {"task": task, "schedule": seconds, **options}
