"""Postgres fast paths for the two hottest calls, each ONE SQL statement (so, outside a caller's
transaction, one round trip that commits by itself):

* ``reserve_fast``: the level row locked, what is free granted (``LEAST(qty, on_hand − reserved − held −
  safety)``, the rest counted as backordered), the allocation INSERT and, when units were granted, the
  ``available_changed`` outbox rows (the product and every kit containing it). Within one statement the
  ``FOR UPDATE`` read returns the row's latest committed version and the UPDATE applies to that version, so
  the grant is decided under the row lock, never from a stale read.
* ``release_fast``: a reference's simple, unpicked, fully allocated allocations closed and their units given
  back — only where no backorder is waiting for the freed units (those go through the locking path, which
  fills them in the same transaction). It locks allocation rows before the level, the reverse of the general
  order; that is safe because the backorder fill, the only path that locks a level then other references'
  allocations, locks only allocations that have a backorder, and these have none.

Each returns ``None`` when its case does not apply; nothing was written then and the caller takes the general
(locking) path. The statements are all-or-nothing: a conflicting insert fails the whole statement.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.models import OutboxEvent
from inventory.locks import ATTEMPTS, RETRIES, _retryable
from inventory.models import Allocation, KitComponent, Product, StockLevel

EV_AVAILABLE_CHANGED = "inventory.available_changed"

_T = {
    "level": StockLevel._meta.db_table,
    "alloc": Allocation._meta.db_table,
    "outbox": OutboxEvent._meta.db_table,
    "kc": KitComponent._meta.db_table,
    "product": Product._meta.db_table,
}

_EVENT_COLUMNS = "event_type, payload, merchant_id, status, handled, attempts, last_error, created_at"
_EVENT_VALUES = (
    "%(ev)s, jsonb_build_object('merchant_id', %(m)s::bigint, 'product_id', t.pid, 'warehouse_id', t.wid), "
    "%(m)s, 'pending', '[]'::jsonb, 0, '', %(now)s"
)

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
    INSERT INTO {_T["outbox"]} ({_EVENT_COLUMNS})
    SELECT {_EVENT_VALUES} FROM lvl CROSS JOIN targets t WHERE lvl.g > 0
    RETURNING id
)
SELECT (SELECT id FROM lvl), (SELECT id FROM alloc), (SELECT g FROM lvl), ARRAY(SELECT id FROM ev),
       (SELECT low_stock_threshold FROM {_T["product"]} WHERE id = %(p)s)
"""  # noqa: S608 - table names come from model meta; every value is a parameter

RELEASE_SQL = f"""
WITH a AS (
    SELECT al.id, al.product_id, al.warehouse_id, al.allocated, al.requested - al.allocated - al.shipped AS back
    FROM {_T["alloc"]} al
    WHERE al.merchant_id = %(m)s AND al.reference = %(ref)s AND al.status = 'open' AND al.parent_id IS NULL
      AND al.picked = 0 AND al.requested = al.allocated + al.shipped AND NOT EXISTS (SELECT 1 FROM {_T["alloc"]} c WHERE c.parent_id = al.id)
    FOR UPDATE
), lv AS (
    UPDATE {_T["level"]} l
    SET reserved = l.reserved - a.allocated, backordered = l.backordered - a.back, updated_at = %(now)s
    FROM a
    WHERE l.merchant_id = %(m)s AND l.product_id = a.product_id AND l.warehouse_id = a.warehouse_id
      AND (a.allocated = 0 OR l.backordered - a.back = 0)
    RETURNING l.product_id, l.warehouse_id, a.id AS alloc_id, a.allocated
), up AS (
    UPDATE {_T["alloc"]} al SET requested = al.shipped, allocated = 0, status = 'closed', updated_at = %(now)s
    FROM lv WHERE al.id = lv.alloc_id
    RETURNING al.id
), targets AS (
    SELECT lv.product_id AS pid, lv.warehouse_id AS wid FROM lv WHERE lv.allocated > 0
    UNION SELECT kc.kit_id, lv.warehouse_id FROM lv JOIN {_T["kc"]} kc ON kc.component_id = lv.product_id
    WHERE lv.allocated > 0
), ev AS (
    INSERT INTO {_T["outbox"]} ({_EVENT_COLUMNS})
    SELECT {_EVENT_VALUES} FROM targets t
    RETURNING id
)
SELECT (SELECT count(*) FROM up),
       (SELECT count(*) FROM {_T["alloc"]} WHERE merchant_id = %(m)s AND reference = %(ref)s AND status = 'open'),
       (SELECT coalesce(sum(allocated), 0) FROM lv),
       ARRAY(SELECT id FROM ev),
       ARRAY(SELECT p.id FROM {_T["product"]} p JOIN lv ON p.id = lv.product_id
             WHERE p.low_stock_threshold IS NOT NULL)
"""  # noqa: S608 - table names come from model meta; every value is a parameter


@dataclass(frozen=True)
class ReleaseResult:
    freed: int
    remaining_open: int  # allocations of the reference this statement did not close
    low_stock_product_ids: list[int]


def _enqueue_on_commit(event_ids: list[int]) -> None:
    # The rows exist; dispatch them after commit exactly as ``outbox.emit`` does (immediately in autocommit).
    for event_id in event_ids:
        transaction.on_commit(partial(outbox._enqueue, event_id=event_id))


def _run(sql: str, params: dict):
    if connection.in_atomic_block:
        # a savepoint, so a failed statement leaves the caller's transaction usable
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    for attempt in range(ATTEMPTS):  # one autocommit statement: all or nothing, so safe to run again
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
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
    _enqueue_on_commit(event_ids)
    alloc = Allocation(
        pk=alloc_id,
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
    alloc._state.adding = False
    alloc._state.db = "default"
    return alloc, threshold


def release_fast(*, merchant_id: int, reference: str) -> ReleaseResult:
    params = {"m": merchant_id, "ref": reference, "now": timezone.now(), "ev": EV_AVAILABLE_CHANGED}
    closed, open_before, freed, event_ids, low_ids = _run(RELEASE_SQL, params)
    _enqueue_on_commit(event_ids)
    return ReleaseResult(
        freed=int(freed), remaining_open=int(open_before) - int(closed), low_stock_product_ids=list(low_ids)
    )
