"""Postgres fast paths for the two hottest calls, each ONE SQL statement (so, outside a caller's
transaction, one round trip that commits by itself):

* ``reserve_fast``: the level row locked, what is free granted (``LEAST(qty, on_hand − reserved − held −
  safety)``, the rest counted as backordered), the allocation INSERT and, when units were granted, the
  ``available_changed`` outbox rows (the product and every kit containing it). Within one statement the
  ``FOR UPDATE`` read returns the row's latest committed version and the UPDATE applies to that version, so
  the grant is decided under the row lock, never from a stale read.
* ``release_fast``: a reference's simple, unpicked allocations closed, their units given back and handed to the
  waiting backorders of the same product and warehouse in priority-then-time order, with the events, in one
  call of the PL/pgSQL function ``inventory_release_fill`` (migration 0003). It takes locks in the general
  order (levels → allocations, each by pk) and every statement in it reads the rows after their locks, so the
  fill is decided on current values (a single CTE statement shares one snapshot across its parts).

Each returns ``None`` when its case does not apply; nothing was written then and the caller takes the general
(locking) path. The statements are all-or-nothing: a conflicting insert fails the whole statement.
"""

from __future__ import annotations

import random
import re
import time
import weakref
from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.models import OutboxEvent
from inventory.locks import ATTEMPTS, RETRIES, _retryable
from inventory.models import Allocation, KitComponent, Product, StockLevel

EV_AVAILABLE_CHANGED = "inventory.available_changed"
EV_ALLOCATION_CHANGED = "inventory.allocation_changed"

_T = {
    "level": StockLevel._meta.db_table,
    "alloc": Allocation._meta.db_table,
    "outbox": OutboxEvent._meta.db_table,
    "kc": KitComponent._meta.db_table,
    "product": Product._meta.db_table,
}

# One waiting available_changed per product and warehouse: a writer folds into it (see migration 0005 and
# ``fulfil.outbox``), so a hot SKU writes one event row per dispatch cycle instead of one per reservation.
outbox.coalesce(EV_AVAILABLE_CHANGED)
_EVENT_COLUMNS = "event_type, payload, merchant_id, status, handled, attempts, last_error, created_at"

RESERVE_SQL = f"""
WITH cur AS (
    SELECT id, GREATEST(0, LEAST(%(q)s, on_hand - reserved - held - safety_stock)) AS g
    FROM {_T["level"]}
    WHERE merchant_id = %(m)s AND product_id = %(p)s AND warehouse_id = %(w)s
    FOR UPDATE
), lvl AS (
    UPDATE {_T["level"]} l
    SET reserved = l.reserved + cur.g, backordered = l.backordered + (%(q)s - cur.g), updated_at = %(now)s
    FROM cur WHERE l.id = cur.id
    RETURNING l.id, cur.g
), alloc AS (
    INSERT INTO {_T["alloc"]} (merchant_id, reference, product_id, warehouse_id, parent_id, per_kit, requested,
                               allocated, picked, shipped, priority, requested_at, on_hold, status, created_at,
                               updated_at)
    SELECT %(m)s, %(ref)s, %(p)s, %(w)s, NULL, 1, %(q)s, lvl.g, 0, 0, %(prio)s, %(at)s, false, 'open', %(now)s,
           %(now)s
    FROM lvl
    RETURNING id
), targets AS (
    SELECT %(p)s::bigint AS pid, %(w)s::bigint AS wid
    UNION SELECT kit_id, %(w)s::bigint FROM {_T["kc"]} WHERE component_id = %(p)s
), ev AS (
    INSERT INTO {_T["outbox"]} AS o ({_EVENT_COLUMNS})
    SELECT %(ev)s, x.payload, %(m)s, 'pending', '[]'::jsonb, 0, '', %(now)s
    FROM (SELECT jsonb_build_object('merchant_id', %(m)s::bigint, 'product_id', t.pid, 'warehouse_id', t.wid)
                 AS payload
          FROM lvl CROSS JOIN targets t WHERE lvl.g > 0) x
    ORDER BY x.payload::text COLLATE "C"
    {outbox.coalesce_conflict_sql(EV_AVAILABLE_CHANGED)}
    RETURNING id
)
SELECT (SELECT id FROM lvl), (SELECT id FROM alloc), (SELECT g FROM lvl), ARRAY(SELECT id FROM ev),
       (SELECT low_stock_threshold FROM {_T["product"]} WHERE id = %(p)s)
"""  # noqa: S608 - table names come from model meta; every value is a parameter

# A full release and the backorder fill of the freed units, in one call: see migration
# 0003_release_fill_function for the function and why it is PL/pgSQL rather than one CTE statement.
RELEASE_SQL = "SELECT * FROM inventory_release_fill(%(m)s, %(ref)s, %(now)s, %(ev)s, %(ev2)s)"


@dataclass(frozen=True)
class ReleaseResult:
    done: bool  # False: nothing was written, the reference needs the general (locking) path
    freed: int
    low_stock_product_ids: list[int]


def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders to ``%s`` and the order of their names (psycopg converts and dumps a list of
    parameters more cheaply than a dict, on every call)."""
    names = tuple(re.findall(r"%\((\w+)\)s", sql))
    return re.sub(r"%\((\w+)\)s", "%s", sql), names


def _execute(conn, sql: str, params: dict):
    """One statement as a server-side prepared statement (psycopg prepares it on this connection once and
    reuses the plan: the reserve CTE costs more to plan than to run). Django opens its connections with
    ``prepare_threshold=None``, which makes psycopg ignore ``prepare=True``; the threshold is lifted for this
    one call only (so the ORM's own statements stay unprepared). One cursor per connection, reused. Errors are
    Django's, as from a cursor."""
    conn.ensure_connection()
    raw = conn.connection
    cached = _cursors.get(conn)
    if cached is None or cached[0] is not raw:
        cached = _cursors[conn] = (raw, psycopg.Cursor(raw))
    cursor = cached[1]
    threshold = raw.prepare_threshold
    raw.prepare_threshold = _NEVER_BY_COUNT
    query, names = _POSITIONAL[sql]
    try:
        with conn.wrap_database_errors:
            cursor.execute(query, [params[n] for n in names], prepare=True)
            return cursor.fetchone()
    finally:
        raw.prepare_threshold = threshold


_POSITIONAL = {sql: _positional(sql) for sql in (RESERVE_SQL, RELEASE_SQL)}
_NEVER_BY_COUNT = 1 << 30  # a threshold no statement reaches: only ``prepare=True`` prepares
_cursors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Django connection -> (raw, cursor)


def _run(sql: str, params: dict):
    conn = connections[DEFAULT_DB_ALIAS]  # resolved once (each ``connection.x`` is a thread-local lookup)
    if conn.in_atomic_block:
        # a savepoint, so a failed statement leaves the caller's transaction usable
        with transaction.atomic():
            return _execute(conn, sql, params)
    for attempt in range(ATTEMPTS):  # one autocommit statement: all or nothing, so safe to run again
        try:
            return _execute(conn, sql, params)
        except OperationalError as exc:
            if attempt == ATTEMPTS - 1 or not _retryable(exc):
                raise
            RETRIES["n"] += 1
            time.sleep(random.uniform(0.002, 0.01) * (2**attempt))
    raise AssertionError("unreachable")


def reserve_fast(
    *,
    merchant_id: int,
    product: Product,
    warehouse_id: int,
    quantity: int,
    reference: str,
    priority: int,
    requested_at: datetime,
) -> tuple[Allocation, int | None] | None:
    now = timezone.now()
    params = {
        "q": quantity,
        "m": merchant_id,
        "p": product.pk,
        "w": warehouse_id,
        "ref": reference,
        "prio": priority,
        "at": requested_at,
        "now": now,
        "ev": EV_AVAILABLE_CHANGED,
    }
    try:
        level_id, alloc_id, granted, event_ids, threshold = _run(RESERVE_SQL, params)
    except IntegrityError:  # the reference already has an allocation here: the general path adds to it
        return None
    if level_id is None:  # no level row yet (never stocked here): the general path creates it
        return None
    outbox.enqueue_on_commit(event_ids)
    values = dict(
        _ALLOC_DEFAULTS,
        id=alloc_id,
        merchant_id=merchant_id,
        reference=reference,
        product_id=product.pk,
        warehouse_id=warehouse_id,
        requested=quantity,
        allocated=granted,
        priority=priority,
        requested_at=requested_at,
        status=Allocation.Status.OPEN,
        created_at=now,
        updated_at=now,
    )
    # as the ORM builds a row it read (positional values: Model.__init__'s fast path)
    return Allocation.from_db(
        DEFAULT_DB_ALIAS, _ALLOC_ATTNAMES, [values[a] for a in _ALLOC_ATTNAMES]
    ), threshold


_ALLOC_ATTNAMES = [f.attname for f in Allocation._meta.concrete_fields]
_ALLOC_DEFAULTS = {f.attname: f.get_default() for f in Allocation._meta.concrete_fields}


def release_fast(*, merchant_id: int, reference: str) -> ReleaseResult:
    params = {
        "m": merchant_id,
        "ref": reference,
        "now": timezone.now(),
        "ev": EV_AVAILABLE_CHANGED,
        "ev2": EV_ALLOCATION_CHANGED,
    }
    done, freed, event_ids, low_ids = _run(RELEASE_SQL, params)
    if not done:
        return ReleaseResult(done=False, freed=0, low_stock_product_ids=[])
    outbox.enqueue_on_commit(event_ids)
    return ReleaseResult(done=True, freed=int(freed), low_stock_product_ids=list(low_ids))
