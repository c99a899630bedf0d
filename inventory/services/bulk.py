"""Many reservations in one call (the order book's batch path): ``stock_reserve_many``.

Same rules as ``stock_reserve`` for each request, in the order given (the caller's priority order): what is
free is allocated (never more), the rest is counted as a backorder on the level. The difference is the number
of round trips — per call, not per request:

1. one ``SELECT … FOR UPDATE`` of every level the batch touches, in primary-key order (``locks.lock_levels``,
   the app's lock order: levels → allocations; a level never stocked is created empty first), so two batches
   sharing products queue on their first shared row instead of deadlocking; the grants are decided from
   those locked rows, which no one else can change until commit;
2. one ``SELECT`` of the references' existing allocations (a request that adds to one goes through
   ``stock_reserve``, which upserts it);
3. one ``UPDATE … FROM (VALUES …)`` of the levels' ``reserved``/``backordered`` (deltas, so the check
   constraint ``reserved <= on_hand - held`` still has the last word), one ``INSERT`` of the allocations;
4. the ``available_changed`` events (the product and every kit containing it, once per level per call) and the
   low-stock checks.

Kits and references that already hold an allocation of the same product in the
same warehouse take ``stock_reserve`` one by one, at their place in the order. The bulk part runs in a
savepoint: if a concurrent insert wins the allocation's unique key, that part is rolled back and redone one
by one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from fulfil import outbox
from fulfil.bulk import insert_rows, instances
from inventory.locks import lock_levels
from inventory.models import Allocation, Product, StockLevel, Warehouse


@dataclass(frozen=True)
class ReserveRequest:
    product: Product
    warehouse: Warehouse | int
    quantity: int
    reference: str
    priority: int = 0
    requested_at: datetime | None = None

    @property
    def warehouse_id(self) -> int:
        return self.warehouse if isinstance(self.warehouse, int) else self.warehouse.pk


@dataclass(frozen=True)
class Reserved:
    allocation: Allocation
    granted: int  # units this request got now (the allocation's ``allocated`` may include earlier ones)


def stock_reserve_many(*, merchant, requests: list[ReserveRequest]) -> list[Reserved]:
    """Reserve every request, in order; returns one ``Reserved`` per request. Must run inside the caller's
    transaction (the level locks are held until it commits)."""
    if not requests:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("stock_reserve_many must run inside transaction.atomic()")
    mid = merchant if isinstance(merchant, int) else merchant.pk
    for req in requests:
        if req.quantity <= 0:
            raise ValueError("quantity must be positive")
        if req.product.merchant_id != mid:
            from inventory.exceptions import InventoryError

            raise InventoryError("That product does not belong to this merchant.")
    allocated = _existing_allocations(mid, requests)  # (reference, product, warehouse) -> units allocated
    results: list[Reserved | None] = [None] * len(requests)
    segment: list[int] = []
    pending: set[tuple[str, int, int]] = set()

    def flush() -> None:
        _bulk(mid, requests, segment, results)
        for i in segment:
            allocated[_key(requests[i])] = results[i].allocation.allocated
        segment.clear()
        pending.clear()

    for i, req in enumerate(requests):
        key = _key(req)
        if req.product.is_kit or key in allocated or key in pending:
            flush()
            results[i] = _one(mid, req, allocated.get(key, 0))
            allocated[key] = results[i].allocation.allocated
        else:
            segment.append(i)
            pending.add(key)
    flush()
    return [r for r in results if r is not None]


def _key(req: ReserveRequest) -> tuple[str, int, int]:
    return (req.reference, req.product.pk, req.warehouse_id)


def _existing_allocations(mid: int, requests: list[ReserveRequest]) -> dict[tuple[str, int, int], int]:
    """(reference, product, warehouse) → units already allocated, for the references' open or closed rows."""
    rows = Allocation.objects.filter(
        merchant_id=mid, reference__in={r.reference for r in requests}
    ).values_list("reference", "product_id", "warehouse_id", "allocated")
    return {(ref, p, w): allocated for ref, p, w, allocated in rows}


def _one(mid: int, req: ReserveRequest, allocated_before: int) -> Reserved:
    from inventory.services.stock import stock_reserve

    warehouse = req.warehouse
    if isinstance(warehouse, int):
        warehouse = Warehouse.objects.get(pk=warehouse)
    alloc = stock_reserve(
        merchant=mid,
        product=req.product,
        warehouse=warehouse,
        quantity=req.quantity,
        reference=req.reference,
        priority=req.priority,
        requested_at=req.requested_at,
    )
    return Reserved(allocation=alloc, granted=max(0, alloc.allocated - allocated_before))


def _bulk(mid: int, requests: list[ReserveRequest], indices: list[int], results: list) -> None:
    if not indices:
        return
    try:
        with (
            transaction.atomic()
        ):  # savepoint: a lost race on an allocation's unique key undoes this part only
            done = _bulk_locked(mid, [requests[i] for i in indices])
    except IntegrityError:
        before = _existing_allocations(mid, [requests[i] for i in indices])
        for i in indices:
            results[i] = _one(mid, requests[i], before.get(_key(requests[i]), 0))
        return
    for i, reserved in zip(indices, done, strict=True):
        results[i] = reserved


def _bulk_locked(mid: int, reqs: list[ReserveRequest]) -> list[Reserved]:
    levels = lock_levels(merchant_id=mid, pairs=[(r.product.pk, r.warehouse_id) for r in reqs])
    now = timezone.now()
    delta: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # level pk -> [reserved +, backordered +]
    granted_at: set[tuple[int, int]] = set()
    rows: list[dict] = []
    grants: list[int] = []
    for req in reqs:
        level = levels[(req.product.pk, req.warehouse_id)]
        free = level.on_hand - level.reserved - level.held - level.safety_stock
        grant = max(0, min(req.quantity, free))
        level.reserved += grant
        level.backordered += req.quantity - grant
        delta[level.pk][0] += grant
        delta[level.pk][1] += req.quantity - grant
        if grant:
            granted_at.add((req.product.pk, req.warehouse_id))
        grants.append(grant)
        rows.append(
            {
                "merchant_id": mid,
                "reference": req.reference,
                "product_id": req.product.pk,
                "warehouse_id": req.warehouse_id,
                "requested": req.quantity,
                "allocated": grant,
                "priority": req.priority,
                "requested_at": req.requested_at or now,
                "status": Allocation.Status.OPEN,
                "created_at": now,
                "updated_at": now,
            }
        )
    _update_levels(delta, now)
    # one COPY (a lost race on the unique key raises IntegrityError, as the INSERT did); the instances are
    # built from the rows as written, like the ORM builds a row it read
    pks = insert_rows(Allocation, rows)
    allocations = instances(Allocation, rows, pks)
    _after(mid, granted_at, {r.product.pk for r in reqs})
    return [Reserved(allocation=a, granted=g) for a, g in zip(allocations, grants, strict=True)]


_UPDATE_LEVELS = f"""
UPDATE {StockLevel._meta.db_table} AS l
SET reserved = l.reserved + v.r, backordered = l.backordered + v.b, updated_at = %s
FROM (VALUES {{rows}}) AS v(id, r, b)
WHERE l.id = v.id
"""  # noqa: S608 - the table name comes from model meta; every value is a parameter


def _update_levels(delta: dict[int, list[int]], now: datetime) -> None:
    changed = sorted((pk, r, b) for pk, (r, b) in delta.items() if r or b)
    if not changed:
        return
    if connection.vendor != "postgresql":
        for pk, r, b in changed:
            StockLevel.objects.filter(pk=pk).update(
                reserved=F("reserved") + r, backordered=F("backordered") + b
            )
        return
    rows = ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * len(changed))
    params: list = [now]
    for row in changed:
        params.extend(row)
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE_LEVELS.format(rows=rows), params)


def _after(mid: int, granted_at: set[tuple[int, int]], product_ids: set[int]) -> None:
    """The call's effects, once each: ``available_changed`` for every level that gave units (and every kit
    containing that product, asked of the database), then the low-stock check of products with a threshold."""
    from inventory.services.ledger import EV_AVAILABLE_CHANGED, _low_stock_check

    kits_of: dict[int, set[int]] = defaultdict(set)
    thresholds: dict[int, int | None] = {}
    for pid, threshold, kit_id in Product.objects.filter(pk__in=product_ids).values_list(
        "pk", "low_stock_threshold", "used_in_kits__kit_id"
    ):
        thresholds[pid] = threshold
        if kit_id:
            kits_of[pid].add(kit_id)
    targets = set(granted_at)
    for pid, wid in granted_at:
        targets.update((kit_id, wid) for kit_id in kits_of.get(pid, ()))
    outbox.emit_many(
        (EV_AVAILABLE_CHANGED, {"merchant_id": mid, "product_id": pid, "warehouse_id": wid}, mid)
        for pid, wid in sorted(targets)
    )
    for pid in sorted(p for p, t in thresholds.items() if t is not None):
        _low_stock_check(Product.objects.get(pk=pid))
