"""The event outbox: the one way a change in one app causes work in another.

``emit()`` writes an ``OutboxEvent`` row inside the caller's transaction, and schedules its dispatch on commit.
A rolled-back change therefore never emits, and a committed one is never lost: if the dispatch task is lost
(a killed worker, a restarted Redis) the periodic sweeper finds the pending row and dispatches it again.
Handlers are registered per event type with ``@handles("order.created")`` and must be idempotent; each
handler that succeeds is remembered on the row so a retry runs only the ones that have not.

Coalesced types (``coalesce(type)``, Postgres): an event whose payload names a thing whose CURRENT state the
handlers read (e.g. "the stock of product P in warehouse W changed") has at most one waiting copy. The app that
registers the type creates, in a migration, the partial unique index ``(event_type, (payload::text)) WHERE
status = 'pending' AND dispatched_at IS NULL AND event_type = '<type>'``; writers insert with ``ON CONFLICT … DO
UPDATE … WHERE false`` (``coalesce_conflict_sql``): on a conflict nothing is written, but the waiting row stays
locked until the writer commits. A dispatcher claims rows by setting ``dispatched_at`` (the drain: in its own
short transaction, before any handler runs; ``dispatch``: under its row lock), which takes the row out of the
index — so it never runs handlers for a row while a change folded into it is uncommitted, and a change after the
claim inserts a fresh row. The handlers therefore always run after the last change they stand for.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
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


_coalesced: set[str] = set()


def coalesce(event_type: str) -> None:
    """Registers ``event_type`` as coalesced (see the module docstring; the registering app's migration creates
    its index). Call at import of the module that emits it."""
    if "'" in event_type:
        raise ValueError("event type must not contain a quote")
    _coalesced.add(event_type)


def coalesced(event_type: str) -> bool:
    return event_type in _coalesced and connection.vendor == "postgresql"


def coalesce_conflict_sql(event_type: str, *, alias: str = "o") -> str:
    """The ``ON CONFLICT`` clause for an ``INSERT INTO fulfil_outboxevent AS <alias>`` of a coalesced type."""
    return (
        "ON CONFLICT (event_type, (payload::text)) WHERE status = 'pending' AND dispatched_at IS NULL "
        f"AND event_type = '{event_type}' DO UPDATE SET attempts = {alias}.attempts WHERE false"
    )


def _insert_coalesced(event_type: str, rows: list[tuple[dict[str, Any], int | None]]) -> list[OutboxEvent]:
    """One INSERT of distinct payloads, in payload-text order (so two writers lock waiting rows in the same
    order); returns the events it inserted (a conflict folds into the waiting row: nothing is returned)."""
    table = OutboxEvent._meta.db_table
    field = OutboxEvent._meta.get_field("payload")
    now = timezone.now()
    seen: dict[str, tuple[dict[str, Any], int | None]] = {}
    for payload, merchant_id in rows:
        seen.setdefault(json.dumps(payload, sort_keys=True), (payload, merchant_id))
    values = ", ".join(["(%s::jsonb, %s::bigint)"] * len(seen))
    params: list[Any] = []
    for payload, merchant_id in seen.values():
        params += [field.get_db_prep_save(payload, connection), merchant_id]
    sql = (
        f"INSERT INTO {table} AS o (event_type, payload, merchant_id, status, handled, attempts, last_error, "  # noqa: S608 - table from model meta, values are parameters
        f"created_at) SELECT %s, v.p, v.m, 'pending', '[]'::jsonb, 0, '', %s FROM (VALUES {values}) AS v(p, m) "
        f'ORDER BY v.p::text COLLATE "C" {coalesce_conflict_sql(event_type)} RETURNING id, payload, merchant_id'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [event_type, now, *params])
        inserted = cursor.fetchall()
    return [
        OutboxEvent(
            pk=pk,
            event_type=event_type,
            payload=p if isinstance(p, dict) else json.loads(p),
            merchant_id=m,
            created_at=now,
        )
        for pk, p, m in inserted
    ]


def emit(event_type: str, payload: dict[str, Any], *, merchant_id: int | None = None) -> OutboxEvent:
    """Records an event in the caller's transaction; dispatched after commit. A coalesced type folds into its
    waiting copy when there is one (that row is returned)."""
    if coalesced(event_type):
        created = _insert_coalesced(event_type, [(payload, merchant_id)])
        if not created:
            waiting = (
                OutboxEvent.objects.filter(
                    event_type=event_type,
                    payload=payload,
                    status=OutboxEvent.Status.PENDING,
                    dispatched_at__isnull=True,
                )
                .order_by("pk")
                .first()
            )
            return waiting or OutboxEvent(event_type=event_type, payload=payload, merchant_id=merchant_id)
        event = created[0]
    else:
        event = OutboxEvent.objects.create(event_type=event_type, payload=payload, merchant_id=merchant_id)
    transaction.on_commit(partial(_enqueue, event_id=event.pk))
    return event


def emit_many(events: Iterable[tuple[str, dict[str, Any], int | None]]) -> list[OutboxEvent]:
    """``emit`` for many events at once: ``(type, payload, merchant_id)`` each, one bulk insert inside the
    caller's transaction, then one on-commit callback that schedules their dispatch (as ``emit`` does).
    Coalesced types go in one ``INSERT … ON CONFLICT`` per type; only the rows inserted are returned."""
    plain: list[OutboxEvent] = []
    folded: dict[str, list[tuple[dict[str, Any], int | None]]] = defaultdict(list)
    for t, p, m in events:
        if coalesced(t):
            folded[t].append((p, m))
        else:
            plain.append(OutboxEvent(event_type=t, payload=p, merchant_id=m))
    created = OutboxEvent.objects.bulk_create(plain) if plain else []
    for event_type in sorted(folded):
        created += _insert_coalesced(event_type, folded[event_type])
    enqueue_on_commit([event.pk for event in created])
    return created


def enqueue_on_commit(event_ids: Iterable[int]) -> None:
    """For rows written with SQL of one's own (a hot path's one-statement insert): dispatch them after commit
    exactly as ``emit`` does (at once in autocommit) — with ONE on-commit callback for all of them (with a Redis
    broker that is one ``SET NX``/drain kick for the whole batch, not one round trip per event)."""
    ids = tuple(event_ids)
    if ids:
        transaction.on_commit(partial(_enqueue_many, event_ids=ids))


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


def _enqueue_many(*, event_ids: tuple[int, ...]) -> None:
    """After commit, for a batch of events: one drain kick covers them all (the drain claims every pending
    row); without the drain flag (eager Celery, another broker) each is dispatched by its own task."""
    try:
        flag = _drain_flag()
    except Exception:  # broker down: the sweeper will pick the rows up
        log.warning("outbox: could not enqueue events %s; the sweeper will retry", event_ids, exc_info=True)
        return
    if flag is not None:
        _enqueue(event_id=event_ids[0])
        return
    for event_id in event_ids:
        _enqueue(event_id=event_id)


def drain(*, batch: int = DRAIN_BATCH, max_batches: int = 50) -> int:
    """Dispatches the fresh pending events (the drain task). The flag is cleared FIRST: an event committed
    after this point sets it again and queues another drain, and one committed before is visible to the
    queries below — so no event waits for the sweeper unless a task is lost. Each batch of up to ``batch``
    rows is claimed (``dispatched_at`` set) in a short transaction of its own, ``FOR UPDATE SKIP LOCKED`` (a
    concurrent drain or dispatch, or a writer folding a change into a coalesced row, holds others), then
    dispatched, each event in its own savepoint by ``dispatch``, one commit per batch. Rows skipped because
    they were locked get another drain shortly after. Returns the number of events handled."""
    flag = _drain_flag()
    if flag is not None:
        flag.delete(DRAIN_FLAG)
    n = 0
    for _ in range(max_batches):
        ids = _claim(batch)
        with transaction.atomic():
            for event_id in ids:
                _dispatch(event_id)
        n += len(ids)
        if len(ids) < batch:
            break
    else:
        _requeue_drain(
            flag, countdown=0
        )  # more than max_batches × batch waiting: another drain, yield the worker
        return n
    if flag is not None and _unclaimed().exists():  # skipped while locked (or written since): look again soon
        _requeue_drain(flag, countdown=DRAIN_RETRY_SECONDS)
    return n


DRAIN_RETRY_SECONDS = 0.2


def _unclaimed():
    return OutboxEvent.objects.filter(
        status=OutboxEvent.Status.PENDING, next_attempt_at__isnull=True, dispatched_at__isnull=True
    )


def _claim(batch: int) -> list[int]:
    """Claims up to ``batch`` unclaimed pending rows, oldest first, in its own transaction (so a writer waiting
    to fold into one of them waits for this short claim only, never for the handlers)."""
    table = OutboxEvent._meta.db_table
    sql = (
        f"UPDATE {table} SET dispatched_at = %s WHERE id IN (SELECT id FROM {table} "  # noqa: S608 - table from model meta
        "WHERE status = 'pending' AND next_attempt_at IS NULL AND dispatched_at IS NULL "
        "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), batch])
        return sorted(row[0] for row in cursor.fetchall())


def _requeue_drain(flag, *, countdown: float) -> None:
    if flag is not None and flag.set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_TTL):
        from fulfil.tasks import outbox_drain

        try:
            outbox_drain.apply_async(countdown=countdown) if countdown else outbox_drain.delay()
        except Exception:
            flag.delete(DRAIN_FLAG)
            log.warning("outbox: could not queue a drain; the sweeper will retry", exc_info=True)


def dispatch(event_id: int) -> str:
    """Run every handler of one event that has not yet succeeded. Returns the event's status."""
    return _dispatch(event_id)


def _dispatch(event_id: int) -> str:
    with transaction.atomic():
        event = OutboxEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None:
            # a coalesced row not yet claimed may be locked by a writer folding a change into it: wait for
            # that writer's commit (milliseconds) rather than leave the row to the sweeper
            if not _unclaimed().filter(pk=event_id, event_type__in=_coalesced).exists():
                return "locked-or-missing"
            event = OutboxEvent.objects.select_for_update().filter(pk=event_id).first()
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
    failed = OutboxEvent.objects.filter(pk=event_id, status=OutboxEvent.Status.FAILED)
    # unclaimed again, so the next drain takes it — except a coalesced type, whose unclaimed copy is unique
    # (the sweeper takes that one)
    failed.exclude(event_type__in=_coalesced).update(
        status=OutboxEvent.Status.PENDING, attempts=0, next_attempt_at=None, dispatched_at=None
    )
    failed.update(status=OutboxEvent.Status.PENDING, attempts=0, next_attempt_at=None)
    transaction.on_commit(partial(_enqueue, event_id=event_id))
