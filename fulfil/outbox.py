"""The event outbox: the one way a change in one app causes work in another.

``emit()`` writes an ``OutboxEvent`` row inside the caller's transaction, and schedules its dispatch on commit.
A rolled-back change therefore never emits, and a committed one is never lost: if the dispatch task is lost
(a killed worker, a restarted Redis) the periodic sweeper finds the pending row and dispatches it again.
Handlers are registered per event type with ``@handles("order.created")`` and must be idempotent; each
handler that succeeds is remembered on the row so a retry runs only the ones that have not.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from fulfil.models import OutboxEvent

log = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
_registry: dict[str, list[Handler]] = defaultdict(list)
MAX_ATTEMPTS = 8


def handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if fn not in _registry[event_type]:
            _registry[event_type].append(fn)
        return fn

    return register


def handlers_for(event_type: str) -> list[Handler]:
    return list(_registry.get(event_type, ())) + list(_registry.get("*", ()))


def handler_name(fn: Handler) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def emit(event_type: str, payload: dict[str, Any], *, merchant_id: int | None = None) -> OutboxEvent:
    event = OutboxEvent.objects.create(event_type=event_type, payload=payload, merchant_id=merchant_id)
    transaction.on_commit(partial(_enqueue, event_id=event.pk))
    return event


def emit_many(events: Iterable[tuple[str, dict[str, Any], int | None]]) -> list[OutboxEvent]:
    """``emit`` for many events at once: ``(type, payload, merchant_id)`` each, one bulk insert inside the
    caller's transaction, then one dispatch per event on commit (the same dispatch ``emit`` schedules)."""
    rows = [OutboxEvent(event_type=t, payload=p, merchant_id=m) for t, p, m in events]
    if not rows:
        return []
    created = OutboxEvent.objects.bulk_create(rows)
    for event in created:
        transaction.on_commit(partial(_enqueue, event_id=event.pk))
    return created


DRAIN_FLAG = "fulfil:outbox:drain-pending"
DRAIN_FLAG_TTL = 10  # seconds; if a drain task is lost with the flag set, the sweeper covers the gap
DRAIN_BATCH = 100
_flag_clients: dict[str, Any] = {}


def _drain_flag():
    """The Redis client holding the "a drain is queued" flag: the broker's own Redis, so the flag and the task
    it stands for live and die together. ``None`` when Celery is eager or the broker is not Redis (then each
    event is dispatched by its own task, as before)."""
    from fulfil.celery import app

    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    client = _flag_clients.get(url)
    if client is None:
        import redis

        client = _flag_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
    return client


def _enqueue(*, event_id: int) -> None:
    """After commit: make sure the event will be dispatched. With a Redis broker, one ``SET NX`` per event
    and one drain task per batch of events (``drain``) instead of one Celery publish per event."""
    from fulfil.tasks import outbox_dispatch, outbox_drain

    try:
        flag = _drain_flag()
        if flag is None:
            outbox_dispatch.delay(event_id=event_id)
        elif flag.set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_TTL):
            try:
                outbox_drain.delay()
            except Exception:
                flag.delete(DRAIN_FLAG)
                raise
    except Exception:  # broker down: the sweeper will pick the row up
        log.warning("outbox: could not enqueue event %s; the sweeper will retry", event_id, exc_info=True)


def drain(*, batch: int = DRAIN_BATCH, max_batches: int = 50) -> int:
    """Dispatches the fresh pending events (the drain task). The flag is cleared FIRST: an event committed
    after this point sets it again and queues another drain, and one committed before is visible to the
    queries below — so no event waits for the sweeper unless a task is lost. Rows are claimed in bulk with
    ``FOR UPDATE SKIP LOCKED`` (a concurrent drain or dispatch takes others), each event dispatched in its own
    savepoint by ``dispatch``, one commit per batch. Returns the number of events handled."""
    flag = _drain_flag()
    if flag is not None:
        flag.delete(DRAIN_FLAG)
    n = 0
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(status=OutboxEvent.Status.PENDING, next_attempt_at__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            for event_id in ids:
                dispatch(event_id)
        n += len(ids)
        if len(ids) < batch:
            return n
    if flag is not None and flag.set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_TTL):
        from fulfil.tasks import outbox_drain

        outbox_drain.delay()  # more than max_batches × batch waiting: queue another drain, yield the worker
    return n


def dispatch(event_id: int) -> str:
    """Run every handler of one event that has not yet succeeded. Returns the event's status."""
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None:
            return "locked-or-missing"
        if event.status != OutboxEvent.Status.PENDING:
            return event.status
        errors = []
        for fn in handlers_for(event.event_type):
            name = handler_name(fn)
            if name in event.handled:
                continue
            try:
                with transaction.atomic():
                    fn(event)
            except Exception as exc:
                log.exception("outbox handler %s failed for event %s", name, event.pk)
                errors.append(f"{name}: {exc!r}")
            else:
                event.handled = [*event.handled, name]
        event.attempts += 1
        event.dispatched_at = timezone.now()
        if errors:
            event.last_error = "\n".join(errors)[:5000]
            if event.attempts >= MAX_ATTEMPTS:
                event.status = OutboxEvent.Status.FAILED
            else:
                event.next_attempt_at = timezone.now() + timedelta(seconds=min(2**event.attempts, 600))
        else:
            event.status = OutboxEvent.Status.DONE
            event.last_error = ""
        event.save()
        return event.status


def sweep(*, older_than_seconds: int = 10, limit: int = 500) -> list[int]:
    """Ids of pending events whose dispatch is overdue (lost task, or retry time reached)."""
    now = timezone.now()
    qs = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.PENDING, created_at__lte=now - timedelta(seconds=older_than_seconds)
    )
    qs = qs.exclude(next_attempt_at__gt=now)
    return list(qs.order_by("pk").values_list("pk", flat=True)[:limit])


def retry_failed(event_id: int) -> None:
    """Operator action: put a failed event back in the queue."""
    OutboxEvent.objects.filter(pk=event_id, status=OutboxEvent.Status.FAILED).update(
        status=OutboxEvent.Status.PENDING, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(partial(_enqueue, event_id=event_id))
