"""Row locks, always taken in primary-key order so two transactions never wait on each other in a cycle.

Lock order across the app: stock levels (by pk) → allocations (by pk) → quants. Every service that locks
more than one row goes through these helpers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q

from inventory.models import Allocation, StockLevel

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 8
log = logging.getLogger(__name__)
RETRIES = {"n": 0}
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def level_get_or_create(*, merchant_id: int, product_id: int, warehouse_id: int) -> StockLevel:
    """The level row, created empty if missing (a concurrent creator is tolerated)."""
    level = StockLevel.objects.filter(
        merchant_id=merchant_id, product_id=product_id, warehouse_id=warehouse_id
    ).first()
    if level is not None:
        return level
    try:
        with transaction.atomic():
            return StockLevel.objects.create(
                merchant_id=merchant_id, product_id=product_id, warehouse_id=warehouse_id
            )
    except IntegrityError:
        return StockLevel.objects.get(
            merchant_id=merchant_id, product_id=product_id, warehouse_id=warehouse_id
        )


def lock_levels(*, merchant_id: int, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Locks the levels of (product_id, warehouse_id) pairs in pk order (one query when they all exist),
    creating missing ones first."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    locked = _select_levels(merchant_id, wanted)
    if len(locked) == len(wanted):
        return locked
    for p, w in wanted:
        if (p, w) not in locked:
            level_get_or_create(merchant_id=merchant_id, product_id=p, warehouse_id=w)
    return _select_levels(merchant_id, wanted)


_LOCK_LEVELS_SQL = f"""
SELECT l.* FROM {StockLevel._meta.db_table} AS l
WHERE l.merchant_id = %s
  AND (l.product_id, l.warehouse_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))
ORDER BY l.id
FOR UPDATE OF l
"""  # noqa: S608 - the table name comes from model meta; every value is a parameter


def _select_levels(merchant_id: int, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """``SELECT … FOR UPDATE`` of the pairs' levels, locked in pk order (the sort comes before the lock).
    On Postgres the pairs travel as two arrays — one statement text whatever the batch size (a batch of
    hundreds of pairs as ORed ``Q`` objects cost tens of milliseconds of Django compilation alone)."""
    if connection.vendor == "postgresql":
        rows = StockLevel.objects.raw(
            _LOCK_LEVELS_SQL, [merchant_id, [p for p, _ in wanted], [w for _, w in wanted]]
        )
    else:
        match = Q()
        for product_id, warehouse_id in wanted:
            match |= Q(product_id=product_id, warehouse_id=warehouse_id)
        rows = StockLevel.objects.select_for_update().filter(match, merchant_id=merchant_id).order_by("pk")
    return {(lv.product_id, lv.warehouse_id): lv for lv in rows}


def lock_allocations(ids: Iterable[int]) -> list[Allocation]:
    return list(Allocation.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"))


def _retryable(exc: BaseException) -> bool:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_on_deadlock(fn: Callable[P, R]) -> Callable[P, R]:
    """Runs ``fn`` in its own transaction and retries it (up to 8 times, with a short back-off) when the
    database breaks a deadlock or a serialization conflict. Inside a caller's transaction it cannot retry
    (the caller's locks are still held), so it runs once and lets the error reach the caller."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return fn(*args, **kwargs)
        for attempt in range(ATTEMPTS):
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except OperationalError as exc:
                if attempt == ATTEMPTS - 1 or not _retryable(exc):
                    raise
                RETRIES["n"] += 1
                log.info("retrying %s after %s (attempt %d)", fn.__name__, exc.__cause__, attempt + 1)
                time.sleep(random.uniform(0.002, 0.01) * (2**attempt))
        raise AssertionError("unreachable")

    return wrapper
