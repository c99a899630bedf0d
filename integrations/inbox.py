"""The webhook inbox: a verified webhook is stored durably (one INSERT … ON CONFLICT DO NOTHING, committed
before the 2xx) and a drain is kicked; the drain turns stored rows into orders in batches, in a Celery queue
of its own (``inbox``, see ``fulfil.celery``) so that outbox handlers and order processing never delay it.

The kick (after commit, in the web process): one ``SET NX`` of a "drain queued" flag in the broker's Redis;
whoever sets it enqueues one ``inbox_drain``. The drain clears the flag FIRST, then claims rows — so a row
committed after that sets the flag again and queues the next drain, and a row committed before is visible to
the drain's queries. A web process that asked less than ``KICK_LOCAL_SECONDS`` ago does not ask again: the
drain it counted on had not started when it asked, and a drain waits ``IDLE_SECONDS`` (longer) of empty
inbox before it stops, so it still sees the row. The sweeper (beat, 15 s) is the last resort for a lost task.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import timedelta

from django.core.signals import setting_changed
from django.db import connection as db
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from fulfil.bulk import insert_rows
from integrations import ports, privacy, ratelimit, services
from integrations.base import RejectedProviderError, RetryableProviderError, Webhook, connector_for
from integrations.models import ChannelConnection, ChannelEvent, DeadLetter, WebhookInbox

log = logging.getLogger(__name__)

S = ChannelConnection.Status
E = ChannelEvent.Outcome

DRAIN_FLAG = "integrations:inbox-drain-queued"
DRAIN_FLAG_TTL = 30  # seconds; a drain task lost with the flag set delays the next kick at most this long
KICK_LOCAL_SECONDS = 0.25
IDLE_SECONDS = 1.0  # > KICK_LOCAL_SECONDS + one idle poll: see the module docstring
IDLE_POLL_SECONDS = 0.1
BATCH = 100
BATCH_MAX = 400  # a full batch means a backlog: the next one is larger (fewer commits and per-batch reads)
# A batch that was not full means a stream, not a backlog: the next one starts this long after the last began,
# so it gathers the rows that arrived meanwhile. A batch costs ~10 ms of CPU whatever its size (queries,
# processing and outbox kicks): at 800 webhooks/s, batches of 5 cost 2.45 ms per order, of 100 0.42 ms.
GATHER_SECONDS = 0.25

_INSERT_INBOX = """
INSERT INTO integrations_webhookinbox
    (platform, event_id, account_id, connection_id, topic, headers, body, status, attempts, last_error, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 0, '', now())
ON CONFLICT (platform, event_id) DO NOTHING
RETURNING id
"""


def webhook_accept(
    *, platform: str, webhook: Webhook, body: bytes, headers: dict, connection_id: int | None = None
) -> int | None:
    """Store a verified webhook durably (one INSERT … ON CONFLICT DO NOTHING) and kick the drain on commit.
    Returns the inbox id, or None for a duplicate delivery."""
    text = body.decode("utf-8", errors="replace")
    if db.vendor == "postgresql":
        params = [
            platform,
            webhook.event_id[:255],
            webhook.account_id[:255],
            connection_id,
            webhook.topic[:100],
            json.dumps(headers),
            text,
        ]
        with db.cursor() as cur:
            cur.execute(_INSERT_INBOX, params)
            row = cur.fetchone()
        inbox_id = row[0] if row else None
    else:  # SQLite (embedded dev): same semantics through the ORM
        obj, created = WebhookInbox.objects.get_or_create(
            platform=platform,
            event_id=webhook.event_id[:255],
            defaults={
                "account_id": webhook.account_id[:255],
                "connection_id": connection_id,
                "topic": webhook.topic[:100],
                "headers": headers,
                "body": text,
            },
        )
        inbox_id = obj.pk if created else None
    if inbox_id is not None:
        transaction.on_commit(kick_drain)
    return inbox_id


_last_kick = {"at": -1e9}
_flag_clients: dict = {}


@receiver(setting_changed)
def _forget_last_kick(*, setting: str, **kwargs) -> None:
    """Celery switched between eager and a broker (tests do): the next kick looks at the configuration again."""
    if setting.startswith("CELERY_"):
        _last_kick["at"] = -1e9


def _flag_client():
    """The broker's Redis (the flag lives and dies with the queued task), or None when Celery is eager or the
    broker is not Redis."""
    from fulfil.celery import app

    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    client = _flag_clients.get(url)
    if client is None:
        import redis

        client = _flag_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
    return client


def kick_drain(*, force: bool = False) -> None:
    """Make sure a drain will see the rows committed so far (see the module docstring). Eager Celery (tests,
    embedded dev): drain inline, now."""
    from integrations.tasks import inbox_drain as task

    now = time.monotonic()
    # Asked a moment ago (only ever set when the flag is in Redis, forgotten when Celery settings change): most
    # webhooks of a burst stop here, before reading Celery's configuration (a tenth of a millisecond, a quarter
    # of the intake's CPU). Eager Celery (tests, embedded dev) always drains inline.
    if not force and now - _last_kick["at"] < KICK_LOCAL_SECONDS:
        return
    client = _flag_client()
    if client is None:
        services._safe_delay(task)
        return
    _last_kick["at"] = now
    try:
        # (forced — the sweeper, a drain out of time — enqueues even when the flag says a drain is queued: that
        # drain may be the one a killed worker took with it)
        if not client.set(DRAIN_FLAG, "1", nx=not force, ex=DRAIN_FLAG_TTL):
            return  # a drain is queued and has not started: it will see our row
    except Exception:  # Redis down: try to enqueue anyway (the broker is the same Redis; the sweeper covers)
        log.warning("integrations: drain flag unavailable", exc_info=True)
    try:
        task.apply_async()
    except Exception:
        log.warning("integrations: could not enqueue an inbox drain; the sweeper will", exc_info=True)
        with contextlib.suppress(Exception):  # Redis down too: the flag expires by itself
            client.delete(DRAIN_FLAG)


def inbox_drain(*, batch: int = BATCH, idle_seconds: float = IDLE_SECONDS, max_seconds: float = 50.0) -> int:
    """Process pending inbox rows oldest first until the inbox has stayed empty for ``idle_seconds``: new
    orders ``batch`` rows per transaction (up to ``BATCH_MAX`` while a backlog lasts;
    ``inbox_process_many``), every other row in its own transaction (``inbox_process``). Concurrent drains
    skip each other's locked rows; after a batch that was not full the next starts ``GATHER_SECONDS`` after
    it began (a steady stream imports in batches of a quarter second's webhooks, not of whatever one came in
    meanwhile). Clears the "drain queued" flag first (see the module docstring)."""
    client = _flag_client()
    if client is not None:
        try:
            client.delete(DRAIN_FLAG)
        except Exception:
            log.warning("integrations: drain flag unavailable", exc_info=True)
    started = time.monotonic()
    processed = 0
    idle_since = None
    size = batch
    while time.monotonic() - started < max_seconds:
        batch_started = time.monotonic()
        try:
            done_now, others = inbox_process_many(limit=size)
        except Exception:  # the batch rolled back whole: these rows go one by one, which records each failure
            log.warning("integrations: an inbox batch failed; processing one by one", exc_info=True)
            done_now, others = 0, _pending_ids(size)
        full = done_now + len(others) >= size
        for inbox_id in others:
            if inbox_process(inbox_id=inbox_id) != "locked-or-missing":
                done_now += 1
        processed += done_now
        size = min(size * 2, max(BATCH_MAX, batch)) if full else batch
        if done_now or others:
            idle_since = None
            if not done_now:
                time.sleep(0.05)  # another drain holds them
            elif not full and idle_seconds > 0:  # (a run-through — tests, eager — does not wait)
                time.sleep(max(0.0, GATHER_SECONDS - (time.monotonic() - batch_started)))
            continue
        if idle_seconds <= 0:
            break
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= idle_seconds:
            break
        time.sleep(IDLE_POLL_SECONDS)
    else:  # out of time with rows still coming: hand over to a fresh drain (no webhook may come to kick one)
        kick_drain(force=True)
    return processed


def inbox_sweep(*, ids: list[int]) -> None:
    """The sweeper found these rows overdue: pending rows (a lost drain) go to a drain, failed rows whose
    retry time has come one by one."""
    from integrations.tasks import inbox_process as task

    rows = WebhookInbox.objects.filter(pk__in=ids).values_list("pk", "status")
    failed = [pk for pk, status in rows if status == WebhookInbox.Status.FAILED]
    if len(failed) < len(ids):
        kick_drain(force=True)
    for pk in failed:
        services._safe_delay(task, inbox_id=pk)


def _pending_ids(limit: int) -> list[int]:
    return list(
        WebhookInbox.objects.filter(status=WebhookInbox.Status.PENDING)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


_BATCH_COLUMNS = ("pk", "connection_id", "platform", "account_id", "event_id", "topic", "body", "received_at")


def inbox_process_many(*, limit: int = 100, connector=None) -> tuple[int, list[int]]:
    """Process up to ``limit`` pending inbox rows (oldest first, skipping rows another drain holds) in one
    transaction: the orders they carry go through ``order_import_many`` together (one idempotent upsert per
    order, processing in batch tasks), the rows are marked and their event-log entries written in bulk.
    Rows that are not a plain order (uninstall, privacy, fulfillment requests…), that fail to parse, or whose
    order the book refuses are left pending and returned, for ``inbox_process`` one by one (which retries,
    dead-letters and logs exactly as for a single webhook). Returns (rows done, rows left for one by one)."""
    with transaction.atomic():
        rows = list(  # the columns a batch reads, as light rows (no model instance, no headers JSON decoded)
            WebhookInbox.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookInbox.Status.PENDING)
            .order_by("received_at", "pk")
            .values_list(*_BATCH_COLUMNS, named=True)[:limit]
        )
        if not rows:
            return 0, []
        conns: dict[tuple, ChannelConnection | None] = {}
        connectors: dict[int, object] = {}
        others: list[int] = []
        ignored: list[tuple[WebhookInbox, ChannelConnection | None, str]] = []
        orders: dict[int, list[tuple[WebhookInbox, object]]] = {}  # connection pk -> (row, canonical order)
        by_pk: dict[int, ChannelConnection] = {}
        for row in rows:
            key = (row.connection_id, row.platform, row.account_id)
            if key not in conns:
                conns[key] = _resolve_connection(row)
            conn = conns[key]
            if conn is None:
                ignored.append((row, None, "no connection for this account"))
                continue
            by_pk[conn.pk] = conn
            try:
                if conn.pk not in connectors:
                    connectors[conn.pk] = connector or connector_for(conn)
                action = connectors[conn.pk].interpret_webhook(
                    Webhook(
                        event_id=row.event_id,
                        topic=row.topic,
                        account_id=row.account_id,
                        payload=json.loads(row.body or "null"),
                    )
                )
            except Exception:  # the one-by-one path records the failure (retry or dead letter)
                others.append(row.pk)
                continue
            if action.kind != "order" or action.order is None or conn.status == S.DISABLED:
                others.append(row.pk)
                continue
            orders.setdefault(conn.pk, []).append((row, action.order))
        done: list[tuple[WebhookInbox, ChannelConnection, str, str]] = []  # row, conn, outcome, note
        for conn_pk, items in orders.items():
            conn = by_pk[conn_pk]
            left, results = _ingest_many(conn, items)
            others.extend(row.pk for row in left)
            done.extend((row, conn, outcome, note) for row, outcome, note in results)
        now = timezone.now()
        for row, conn, note in ignored:
            done.append((row, conn, E.IGNORED, note))
        _mark_rows(done, now)
        for conn in by_pk.values():
            latest = max((row.received_at for row, c, _, _ in done if c is conn), default=None)
            if latest is not None and (
                conn.status == S.ERROR
                or not conn.last_webhook_at
                or latest - conn.last_webhook_at > timedelta(seconds=10)
            ):
                services._mark_ok(conn, last_webhook_at=latest)
    return len(done), others


def _ingest_many(conn: ChannelConnection, items: list[tuple[WebhookInbox, object]]):
    """``channel_order_ingest`` for many rows of one connection: the same settings, one ``order_import_many``.
    Returns (rows left for one by one, [(row, outcome, note)])."""
    known = ports.orders_existing(
        merchant=conn.merchant,
        keys={(order.channel, order.external_id) for _, order in items},
    )
    results: list[tuple[WebhookInbox, str, str]] = []
    wanted: list[tuple[WebhookInbox, object]] = []
    for row, order in items:
        prepared, note = services._ingest_prepare(
            conn, order, exists=(order.channel, order.external_id) in known
        )
        if prepared is None:
            results.append((row, E.IGNORED, note))
        else:
            wanted.append((row, prepared))
    left: list[WebhookInbox] = []
    if wanted:
        imported = ports.order_import_many(merchant=conn.merchant, orders=[order for _, order in wanted])
        for (row, order), (result, created, errors) in zip(wanted, imported, strict=True):
            if errors or result is None:
                left.append(row)  # refused: the one-by-one path dead-letters it with the reason
                continue
            if created and conn.review == ChannelConnection.Review.HOLD:
                ports.order_hold(order=result, reason="Held for review (channel setting)")
            results.append((row, E.OK, services._ingest_note(order, created)))
    return left, results


def _mark_rows(done: list[tuple[WebhookInbox, ChannelConnection | None, str, str]], now) -> None:
    """Rows processed by a batch: status, stamps and the connection in one UPDATE per (status, connection);
    their event-log entries in one INSERT."""
    from django.db.models import F

    groups: dict[tuple[str, int | None], list[int]] = {}
    for row, conn, outcome, _ in done:
        status = WebhookInbox.Status.DONE if outcome == E.OK else WebhookInbox.Status.IGNORED
        groups.setdefault((status, conn.pk if conn else None), []).append(row.pk)
    for (status, conn_pk), pks in groups.items():
        # (a row's connection is the one it names, or the one found for it: one UPDATE sets both, each row
        # gets one new version)
        fields = {
            "status": status,
            "processed_at": now,
            "attempts": F("attempts") + 1,
            "last_error": "",
            "connection_id": conn_pk,
        }
        if conn_pk is None:  # as ``inbox_process``: ignored, not an attempt
            fields = {"status": status, "processed_at": now, "last_error": "no connection for this account"}
        WebhookInbox.objects.filter(pk__in=pks).update(**fields)
    insert_rows(  # one COPY (see orders' batch import), not bulk_create's per-object compilation
        ChannelEvent,
        [
            {
                "merchant_id": conn.merchant_id,
                "connection_id": conn.pk,
                "direction": "in",
                "kind": f"webhook {row.topic}"[:100],
                "outcome": outcome,
                "message": note[:500],
                "reference": str(row.event_id)[:200],
            }
            for row, conn, outcome, note in done
            if conn is not None
        ],
        returning=False,
    )


def _resolve_connection(row: WebhookInbox) -> ChannelConnection | None:
    if row.connection_id:
        return ChannelConnection.objects.filter(pk=row.connection_id).first()
    qs = ChannelConnection.objects.filter(platform=row.platform, account_id=row.account_id)
    return qs.exclude(status=S.DISABLED).first() or qs.order_by("-pk").first()


def inbox_process(*, inbox_id: int, connector=None) -> str:
    """Process one inbox row, at most once to success. The row is locked for the duration; the import and
    the row's ``done`` commit together, so a crash anywhere means the sweeper simply runs it again."""
    with transaction.atomic():
        row = WebhookInbox.objects.select_for_update(skip_locked=True).filter(pk=inbox_id).first()
        if row is None:
            return "locked-or-missing"
        if row.status in (WebhookInbox.Status.DONE, WebhookInbox.Status.IGNORED, WebhookInbox.Status.DEAD):
            return row.status
        conn = _resolve_connection(row)
        if conn is None:
            row.status = WebhookInbox.Status.IGNORED
            row.last_error = "no connection for this account"
            row.processed_at = timezone.now()
            row.save()
            return row.status
        if row.connection_id is None:
            row.connection = conn
        try:
            with transaction.atomic():
                outcome, message = _apply_webhook(conn, row, connector or connector_for(conn))
        except (RetryableProviderError, RejectedProviderError, Exception) as exc:
            return _inbox_failed(row, conn, exc)
        row.status = WebhookInbox.Status.DONE if outcome == E.OK else WebhookInbox.Status.IGNORED
        row.processed_at = timezone.now()
        row.attempts += 1
        row.last_error = ""
        row.save()
        services.event_log(
            connection=conn,
            direction="in",
            kind=f"webhook {row.topic}",
            outcome=outcome,
            message=message,
            reference=row.event_id,
        )
        if (
            conn.status == S.ERROR
            or not conn.last_webhook_at
            or row.received_at - conn.last_webhook_at > timedelta(seconds=10)
        ):
            services._mark_ok(
                conn, last_webhook_at=row.received_at
            )  # not on every webhook: one row all workers share
        return row.status


def _inbox_failed(row: WebhookInbox, conn: ChannelConnection, exc: Exception) -> str:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:5000]
    from orders.exceptions import InvalidOrder

    retryable = not isinstance(exc, RejectedProviderError | InvalidOrder | ValueError | KeyError)
    if retryable and row.attempts < services.MAX_ATTEMPTS:
        row.status = WebhookInbox.Status.FAILED
        row.next_attempt_at = ratelimit.until(
            ratelimit.backoff_seconds(row.attempts, getattr(exc, "retry_after", None))
        )
        row.save()
        services.event_log(
            connection=conn,
            direction="in",
            kind=f"webhook {row.topic}",
            outcome=E.RETRY,
            message=row.last_error,
            reference=row.event_id,
        )
        return row.status
    row.status = WebhookInbox.Status.DEAD
    row.save()
    DeadLetter.objects.create(
        merchant_id=conn.merchant_id,
        connection=conn,
        inbox=row,
        summary=f"Webhook {row.topic} {row.event_id}",
        error=row.last_error,
    )
    services.event_log(
        connection=conn,
        direction="in",
        kind=f"webhook {row.topic}",
        outcome=E.DEAD,
        message=row.last_error,
        reference=row.event_id,
    )
    services._mark_broken(conn, f"A webhook could not be processed: {row.last_error[:200]}")
    return row.status


def _apply_webhook(conn: ChannelConnection, row: WebhookInbox, connector) -> tuple[str, str]:
    payload = json.loads(row.body or "null")
    action = connector.interpret_webhook(
        Webhook(event_id=row.event_id, topic=row.topic, account_id=row.account_id, payload=payload)
    )
    if action.kind == "uninstall":
        services.connection_disable(connection=conn, reason="The app was uninstalled on the platform")
        return E.OK, "connection disabled"
    if action.kind == "privacy":
        req = privacy.privacy_request_process(connection=conn, event_id=row.event_id, **action.data)
        return E.OK, req.result or "recorded"
    if conn.status == S.DISABLED:
        return E.IGNORED, "connection is disabled"
    if action.kind == "order" and action.order is not None:
        order, _created, note = services.channel_order_ingest(connection=conn, order=action.order)
        return (E.OK if order is not None else E.IGNORED), note
    if action.kind == "assigned_requests":
        notes = []
        for status, kind in (
            ("fulfillment_requested", "fulfillment_request"),
            ("cancellation_requested", "cancellation_request"),
        ):
            for fo in connector.assigned_fulfillment_orders(assignment_status=status):
                _outcome, note = services.fulfillment_order_event(
                    connection=conn,
                    kind=kind,
                    connector=connector,
                    order_external_id=str(fo.get("order_id")),
                    fulfillment_order_id=str(fo.get("id")),
                )
                notes.append(note)
        return E.OK, "; ".join(notes)[:500] or "no pending requests"
    if action.kind in ("fulfillment_request", "cancellation_request", "hold", "unhold", "moved", "cancelled"):
        return services.fulfillment_order_event(
            connection=conn, kind=action.kind, connector=connector, **action.data
        )
    return E.IGNORED, f"topic {row.topic} needs nothing from us"
