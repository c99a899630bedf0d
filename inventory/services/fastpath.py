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
from psycopg import pq

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


class _Statement:
    """One hot-path statement as sent to libpq: ``%(name)s`` placeholders numbered ``$n`` (a name used twice is
    one parameter), the declared type of each, and a parser for each result column (text format)."""

    def __init__(self, name: str, sql: str, types: dict[str, int], columns: tuple) -> None:
        self.name = name.encode()
        self.names: list[str] = []
        for found in re.findall(r"%\((\w+)\)s", sql):
            if found not in self.names:
                self.names.append(found)
        self.sql = re.sub(r"%\((\w+)\)s", lambda m: f"${self.names.index(m[1]) + 1}", sql).encode()
        self.types = [types[n] for n in self.names]
        self.columns = columns


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def _ints(value: bytes) -> list[int]:  # a bigint[] in text format: {} or {1,2,3}
    return [int(v) for v in value[1:-1].split(b",")] if len(value) > 2 else []


def _bool(value: bytes) -> bool:
    return value == b"t"


def _param(value) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, datetime):
        return value.isoformat().encode()
    return b"%d" % value


_INT4, _INT8, _TEXT, _TIMESTAMPTZ = 23, 20, 25, 1184
_TYPES = {
    "q": _INT4,
    "m": _INT8,
    "p": _INT8,
    "w": _INT8,
    "ref": _TEXT,
    "prio": _INT4,
    "at": _TIMESTAMPTZ,
    "now": _TIMESTAMPTZ,
    "ev": _TEXT,
    "ev2": _TEXT,
}
_STATEMENTS = {
    RESERVE_SQL: _Statement("inventory_reserve_fast", RESERVE_SQL, _TYPES, (_int, _int, _int, _ints, _int)),
    RELEASE_SQL: _Statement("inventory_release_fast", RELEASE_SQL, _TYPES, (_bool, _int, _ints, _ints)),
}
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Django connection -> (raw, {names})
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_IDLE = pq.TransactionStatus.IDLE


def _execute(conn, sql: str, params: dict):
    """One statement as a server-side prepared statement, straight through libpq (``PQexecPrepared`` on
    Django's own connection, so inside the caller's transaction): prepared once per connection — the reserve
    CTE costs more to plan than to run — and psycopg's cursor machinery (about a third of the worker's CPU per
    reservation) skipped. The ORM's statements are untouched (Django keeps ``prepare_threshold=None``).
    Returns the one result row, parsed; errors are Django's, as from a cursor."""
    conn.ensure_connection()
    raw = conn.connection
    if not raw.autocommit and raw.pgconn.transaction_status == _IDLE:
        # a transaction that psycopg has not begun yet (it sends BEGIN before its first statement): its cursor
        with conn.wrap_database_errors, raw.cursor() as cursor:
            cursor.execute("SELECT 1")
    stmt = _STATEMENTS[sql]
    pgconn = raw.pgconn
    with conn.wrap_database_errors:
        cached = _prepared.get(conn)
        if cached is None or cached[0] is not raw:
            cached = _prepared[conn] = (raw, set())
        if stmt.name not in cached[1]:
            _check(raw, pgconn.prepare(stmt.name, stmt.sql, stmt.types), pq.ExecStatus.COMMAND_OK)
            cached[1].add(stmt.name)
        result = pgconn.exec_prepared(stmt.name, [_param(params[n]) for n in stmt.names])
        _check(raw, result, _TUPLES_OK)
    return tuple(parse(result.get_value(0, i)) for i, parse in enumerate(stmt.columns))


def _check(raw, result, expected) -> None:
    if result.status == expected:
        return
    if raw.pgconn.status != pq.ConnStatus.OK:
        message = (result.error_message or raw.pgconn.error_message or b"").decode("utf-8", "replace")
        raise psycopg.OperationalError(message.strip() or "the connection is broken")
    raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)


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
