"""The Celery app. Periodic work is declared once, here, in ``beat_schedule``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")

app = Celery("fulfil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "outbox-sweep": {"task": "fulfil.tasks.outbox_sweep", "schedule": 30.0},
}


def add_periodic(name: str, task: str, seconds: float, **options) -> None:
    """Apps register their periodic tasks here from ``AppConfig.ready`` so the schedule stays in one place."""
    app.conf.beat_schedule[name] = {"task": task, "schedule": seconds, **options}
