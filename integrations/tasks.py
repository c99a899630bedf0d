"""Celery tasks: thin, take ids, call a service. Retries and dead-lettering are recorded on the inbox/push
rows themselves (so they survive a lost broker); the sweeper re-enqueues what is due."""

from __future__ import annotations

import contextlib

from celery import shared_task

from integrations import services
from integrations.base import ProviderError, RetryableProviderError
from integrations.models import ChannelConnection, ChannelPush, WebhookInbox


def _retry_at(model, pk: int, task, **kwargs) -> None:
    """Schedule the next attempt of a failed row at its ``next_attempt_at`` (the sweeper also would)."""
    from django.utils import timezone

    row = model.objects.filter(pk=pk).values("next_attempt_at").first()
    if row and row["next_attempt_at"]:
        countdown = max(0.0, (row["next_attempt_at"] - timezone.now()).total_seconds())
        with contextlib.suppress(Exception):  # broker down: the sweeper will find it
            task.apply_async(kwargs=kwargs, countdown=countdown)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def inbox_process(*, inbox_id: int) -> str:
    status = services.inbox_process(inbox_id=inbox_id)
    if status == WebhookInbox.Status.FAILED:
        _retry_at(WebhookInbox, inbox_id, inbox_process, inbox_id=inbox_id)
    return status


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def inbox_drain() -> int:
    """Runs in the ``inbox`` queue (``fulfil.celery``): a worker of its own, so imports wait for nothing."""
    from fulfil.celery import app
    from integrations import inbox

    # Eager (tests, embedded dev): run through once, inline, without waiting for stragglers.
    return inbox.inbox_drain(idle_seconds=0 if app.conf.task_always_eager else inbox.IDLE_SECONDS)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def push_send(*, push_id: int) -> str:
    status = services.push_send(push_id=push_id)
    if status == "retry":
        _retry_at(ChannelPush, push_id, push_send, push_id=push_id)
    return status


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280, bind=True, max_retries=8)
def connection_reconcile(self, *, connection_id: int) -> dict:
    conn = ChannelConnection.objects.filter(pk=connection_id).first()
    if conn is None or not conn.is_live:
        return {}
    try:
        return services.orders_reconcile(connection=conn)
    except RetryableProviderError as exc:
        raise self.retry(
            exc=exc, countdown=exc.retry_after or min(2 ** (self.request.retries + 1), 600)
        ) from exc
    except ProviderError:
        return {"error": True}


@shared_task(acks_late=True, time_limit=600, soft_time_limit=580)
def connection_first_import(*, connection_id: int) -> dict:
    conn = ChannelConnection.objects.filter(pk=connection_id).first()
    if conn is None or not conn.is_live:
        return {}
    return services.connection_first_import(connection=conn)


@shared_task(acks_late=True, time_limit=120)
def reconcile_all() -> int:
    """Periodic: a reconciliation poll of every live connection (webhooks get lost)."""
    ids = list(ChannelConnection.objects.filter(status__in=["active", "error"]).values_list("pk", flat=True))
    for pk in ids:
        connection_reconcile.delay(connection_id=pk)
    return len(ids)


@shared_task(acks_late=True, time_limit=120)
def sweep() -> dict:
    """Periodic: re-enqueue inbox rows and pushes left pending (a killed worker, a flushed Redis): pending
    inbox rows go to a drain (a backlog is not split into one task per row), failed ones one by one."""
    from integrations import inbox

    inbox_ids, push_ids = services.sweep_due()
    if inbox_ids:
        inbox.inbox_sweep(ids=inbox_ids)
    for pk in push_ids:
        push_send.delay(push_id=pk)
    return {"inbox": len(inbox_ids), "pushes": len(push_ids)}


@shared_task(acks_late=True, time_limit=120)
def alerts_check() -> int:
    return len(services.alerts_check())
