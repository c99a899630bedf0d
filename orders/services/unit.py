"""A unit of work for processing many orders in one transaction (the batch import path).

While ``batch()`` is open, the services keep working exactly as for one order, but the writes that are the
same for every order — the order's own fields, its lines' counters, the per-warehouse mirror rows, the audit
entries, the outbox events — are collected and written in bulk by ``flush()`` before the transaction
commits; reads that are the same for every order (products, warehouses, stock levels, settings) are done
once. Reservations still go one by one through inventory's ``stock_reserve``, which decides under its own
locks; the batch only remembers what it took so later orders route on current figures.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction

from fulfil import outbox
from fulfil.audit import current_actor

_current: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("orders_batch", default=None)


@dataclass
class Batch:
    orders: dict[int, object] = field(default_factory=dict)  # pk -> Order
    order_fields: dict[int, set[str]] = field(default_factory=dict)
    lines: dict[int, object] = field(default_factory=dict)  # pk -> OrderLine
    line_fields: set[str] = field(default_factory=set)
    allocation_rows: list[dict] = field(default_factory=list)  # OrderLineAllocation rows by attribute name
    allocation_lines: set[int] = field(default_factory=set)
    audits: list[dict] = field(default_factory=list)  # audit_record kwargs, written by audit.record_many
    events: list[tuple[str, dict, int | None]] = field(default_factory=list)  # for outbox.emit_many
    notifications: list[tuple[object, str]] = field(default_factory=list)
    products: dict[tuple[int, str], object] | None = None  # (merchant, sku) -> Product, prefetched
    warehouses: dict[int, list] = field(default_factory=dict)  # merchant -> warehouses
    stock: dict[int, tuple[dict, dict]] = field(default_factory=dict)  # merchant -> (available, inbound)
    settings: dict[int, object] = field(default_factory=dict)
    guard_results: dict[tuple[str, int], str | None] = field(default_factory=dict)  # per-merchant guards

    def save_order(self, order, fields) -> None:
        self.orders[order.pk] = order
        self.order_fields.setdefault(order.pk, set()).update(fields)

    def save_lines(self, lines, fields) -> None:
        for line in lines:
            self.lines[line.pk] = line
        self.line_fields.update(fields)

    def audit(self, *, obj_id, action: str, merchant_id, before=None, after=None, message: str = "") -> None:
        self.audits.append(
            {
                "obj_type": "order",
                "obj_id": obj_id,
                "action": action,
                "merchant_id": merchant_id,
                "before": before,
                "after": after,
                "message": message,
                "actor": current_actor(),  # who acted when it happened, not when it is flushed
            }
        )

    def emit(self, event_type: str, payload: dict, *, merchant_id) -> None:
        self.events.append((event_type, payload, merchant_id))

    def took(self, merchant_id: int, product_id: int, warehouse_id: int, quantity: int) -> None:
        available = self.stock.get(merchant_id, ({}, {}))[0]
        key = (product_id, warehouse_id)
        if key in available:
            available[key] = max(0, available[key] - quantity)

    def flush(self) -> None:
        from fulfil.bulk import bulk_update_rows, insert_rows
        from orders.models import Order, OrderLine, OrderLineAllocation
        from orders.services.notifications import queue_notification

        by_fields: dict[frozenset, list] = {}
        for pk, fields in self.order_fields.items():
            by_fields.setdefault(frozenset(fields | {"updated_at"}), []).append(self.orders[pk])
        for fields, orders in by_fields.items():
            bulk_update_rows(Order, orders, sorted(fields))
        if self.lines and self.line_fields:
            bulk_update_rows(OrderLine, list(self.lines.values()), sorted(self.line_fields))
        if self.allocation_lines:
            OrderLineAllocation.objects.filter(line_id__in=self.allocation_lines).delete()
        if self.allocation_rows:
            insert_rows(OrderLineAllocation, self.allocation_rows, returning=False)
        _write_audits(self.audits)
        _write_events(self.events)
        for order, moment in self.notifications:
            queue_notification(order=order, moment=moment)
        self.__init__()  # everything written; the batch can go on


def _write_audits(audits: list[dict]) -> None:
    """``fulfil.audit.record_many(audits)`` as one COPY: the same rows (``audit.entry_rows``), without an
    ``AuditEntry`` instance per row and Django's compilation of a multi-row INSERT, which cost more than the
    rest of the flush."""
    if not audits:
        return
    from fulfil.audit import entry_rows
    from fulfil.bulk import insert_rows
    from fulfil.models import AuditEntry

    insert_rows(AuditEntry, entry_rows(audits), returning=False)


def _write_events(events: list[tuple[str, dict, int | None]]) -> None:
    """``fulfil.outbox.emit_many(events)``: plain event types as one COPY, dispatched after commit through
    ``outbox.enqueue_on_commit`` (its contract for rows written with one's own SQL); coalesced types through
    ``emit_many`` itself (they fold into a waiting copy)."""
    if not events:
        return
    from fulfil.bulk import insert_rows
    from fulfil.models import OutboxEvent

    plain = [e for e in events if not outbox.coalesced(e[0])]
    folded = [e for e in events if outbox.coalesced(e[0])]
    if plain:
        pks = insert_rows(
            OutboxEvent,
            [{"event_type": t, "payload": payload, "merchant_id": m} for t, payload, m in plain],
        )
        outbox.enqueue_on_commit(pks)
    if folded:
        outbox.emit_many(folded)


def current() -> Batch | None:
    return _current.get()


@contextlib.contextmanager
def batch() -> Iterator[Batch]:
    """Open a unit of work inside a transaction; flushed when the block ends without error."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("orders.services.unit.batch() must run inside transaction.atomic()")
    unit = Batch()
    token = _current.set(unit)
    try:
        yield unit
        unit.flush()
    finally:
        _current.reset(token)
