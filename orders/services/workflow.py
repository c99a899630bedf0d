"""The order state machine. Every move is a named function: it locks the order row, checks the current
status (and any other precondition), writes the new status, records an audit entry and emits
``order.status_changed {order_id, merchant_id, from, to}`` — all in one transaction. Anything else raises
``IllegalTransition`` (a 409 in the API) and changes nothing.

    new ─validate─▶ validated ─allocate─▶ allocated ─release─▶ released ─start_picking─▶ picking
     │                │                    ▲   │                                            │
     └──▶ exception ◀─┘        backordered ┘   └──▶ on_hold (from any pre-picking state)   packed
                                                                                            │
    cancelled ◀── any state before picking          delivered ◀── shipped ◀── partially_shipped
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from orders.exceptions import IllegalTransition
from orders.models import Order, OrderLine
from orders.models import OrderStatus as S

# Statuses in which the order has not reached the warehouse floor: it can be changed, held or cancelled.
BEFORE_PICKING = frozenset(
    {S.NEW, S.VALIDATED, S.ALLOCATED, S.BACKORDERED, S.ON_HOLD, S.EXCEPTION, S.RELEASED}
)
IN_WAREHOUSE = frozenset({S.PICKING, S.PACKED, S.PARTIALLY_SHIPPED})
FINAL = frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED})
OPEN = BEFORE_PICKING | IN_WAREHOUSE  # still needs stock

# action -> statuses it may start from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "validate": frozenset({S.NEW, S.EXCEPTION}),
    "flag_exception": frozenset({S.NEW, S.VALIDATED, S.ALLOCATED, S.BACKORDERED, S.EXCEPTION}),
    "allocate": frozenset({S.VALIDATED, S.BACKORDERED}),
    "backorder": frozenset({S.VALIDATED, S.ALLOCATED, S.RELEASED}),
    "release": frozenset({S.ALLOCATED}),
    "start_picking": frozenset({S.RELEASED, S.PARTIALLY_SHIPPED}),
    "mark_packed": frozenset({S.PICKING}),
    "mark_shipped": frozenset({S.PACKED, S.PARTIALLY_SHIPPED}),
    "mark_delivered": frozenset({S.SHIPPED}),
    "hold": frozenset({S.NEW, S.VALIDATED, S.ALLOCATED, S.BACKORDERED, S.EXCEPTION, S.RELEASED}),
    "unhold": frozenset({S.ON_HOLD}),
    "cancel": BEFORE_PICKING,
    "reprocess": frozenset({S.NEW, S.VALIDATED, S.ALLOCATED, S.BACKORDERED, S.EXCEPTION}),
}

HINTS = {
    S.PICKING: "Picking has started: request an intercept from the warehouse instead.",
    S.PACKED: "It is packed: request an intercept from the warehouse before it ships.",
    S.PARTIALLY_SHIPPED: "Part of it has shipped: request an intercept for the rest.",
    S.SHIPPED: "It has shipped: start a return instead.",
    S.DELIVERED: "It was delivered: start a return instead.",
    S.CANCELLED: "It is cancelled.",
    S.ON_HOLD: "Release the hold first.",
    S.EXCEPTION: "Resolve its exception first.",
}


def lock_order(order: Order) -> Order:
    """The order row, locked for the rest of the transaction, with fresh values."""
    return Order.objects.select_for_update().get(pk=order.pk)


def check(order: Order, action: str) -> None:
    if order.status not in ALLOWED_FROM[action]:
        raise IllegalTransition(
            order_id=order.pk, current=order.status, action=action, hint=HINTS.get(order.status, "")
        )


def _sync(target: Order, source: Order) -> None:
    if target is not source:
        target.__dict__.update({k: v for k, v in source.__dict__.items() if not k.startswith("_")})


def set_status(order: Order, to: str, *, action: str, message: str = "", extra: dict | None = None) -> None:
    """Write a checked status change (the caller holds the row lock), audit it, emit the event."""
    before = order.status
    order.status = to
    now = timezone.now()
    fields = ["status", "updated_at"]
    if to == S.RELEASED and order.released_at is None:
        order.released_at = now
        fields.append("released_at")
    if to == S.SHIPPED:
        order.shipped_at = now
        fields.append("shipped_at")
    if to == S.CANCELLED:
        order.cancelled_at = now
        fields.append("cancelled_at")
    if extra:
        for k, v in extra.items():
            setattr(order, k, v)
            fields.append(k)
    from orders.services import unit

    batch = unit.current()
    if batch is not None:  # the batch path writes these in bulk before commit
        order.updated_at = now
        batch.save_order(order, fields)
        batch.audit(
            obj_id=order.pk,
            action=f"order.{action}",
            merchant_id=order.merchant_id,
            before={"status": before},
            after={"status": to},
            message=message,
        )
        batch.emit(
            "order.status_changed",
            {"order_id": order.pk, "merchant_id": order.merchant_id, "from": before, "to": to},
            merchant_id=order.merchant_id,
        )
        if to in (S.RELEASED, S.BACKORDERED, S.CANCELLED, S.SHIPPED):
            batch.notifications.append((order, to))
        return
    order.save(update_fields=fields)
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action=f"order.{action}",
        merchant_id=order.merchant_id,
        before={"status": before},
        after={"status": to},
        message=message,
    )
    outbox.emit(
        "order.status_changed",
        {"order_id": order.pk, "merchant_id": order.merchant_id, "from": before, "to": to},
        merchant_id=order.merchant_id,
    )
    if to in (S.RELEASED, S.BACKORDERED, S.CANCELLED, S.SHIPPED):
        from orders.services.notifications import queue_notification

        queue_notification(order=order, moment=to)


def _simple(order: Order, *, action: str, to: str, message: str = "") -> Order:
    with transaction.atomic():
        locked = lock_order(order)
        check(locked, action)
        set_status(locked, to, action=action, message=message)
    _sync(order, locked)
    return order


def fully_allocated(order: Order) -> bool:
    return all(line.allocated_quantity >= line.open_quantity for line in order.lines.all())


def order_release(*, order: Order) -> Order:
    """allocated → released: the warehouse may now pick it. Needs every open line fully allocated."""
    with transaction.atomic():
        locked = lock_order(order)
        check(locked, "release")
        if not fully_allocated(locked):
            raise IllegalTransition(
                order_id=locked.pk,
                current=locked.status,
                action="release",
                hint="Not every line is allocated.",
            )
        release_or_hold(locked)
    _sync(order, locked)
    return order


def release_or_hold(order: Order, *, message: str = "") -> bool:
    """allocated → released, unless a release guard (``orders.guards``) says no: then → on hold with the
    guard's reason on the order (an open ``release_hold`` exception) and in its history. The caller holds the
    row lock and checked that the order may be released. Returns whether it was released."""
    from orders.guards import release_blocked

    reason = release_blocked(order)
    if reason is None:
        set_status(order, S.RELEASED, action="release", message=message)
        return True
    set_status(
        order,
        S.ON_HOLD,
        action="release_blocked",
        message=f"Not released: {reason}",
        extra={"held_from_status": order.status},
    )
    _hold_stock(order, on_hold=True)
    _open_release_hold(order, reason)
    return False


def _open_release_hold(order: Order, reason: str) -> None:
    from orders.models import RELEASE_HOLD, OrderException

    updated = OrderException.objects.filter(
        order=order, reason=RELEASE_HOLD, resolved_at__isnull=True
    ).update(detail=reason)
    if not updated:
        OrderException.objects.create(
            merchant_id=order.merchant_id, order=order, reason=RELEASE_HOLD, detail=reason, blocking=False
        )


def _close_release_hold(order: Order, resolution: str) -> None:
    from orders.models import RELEASE_HOLD, OrderException

    OrderException.objects.filter(order=order, reason=RELEASE_HOLD, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution=resolution
    )


def orders_release_held(*, merchant_id: int) -> int:
    """Release the merchant's orders that a release guard put on hold, where every guard now passes (the
    merchant paid, an operator overrode a credit hold). Each order in its own transaction; idempotent.
    Returns how many were let go."""
    from orders.guards import release_blocked
    from orders.models import RELEASE_HOLD

    ids = list(
        Order.objects.filter(
            merchant_id=merchant_id,
            status=S.ON_HOLD,
            exceptions__reason=RELEASE_HOLD,
            exceptions__resolved_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            locked = Order.objects.select_for_update().filter(pk=pk, status=S.ON_HOLD).first()
            if locked is None:
                continue
            reason = release_blocked(locked)
            if reason is not None:
                _open_release_hold(locked, reason)  # still held: keep the current reason on the order
                continue
            order_unhold(order=locked, resolution="every release check passes again")
            if locked.status == S.ALLOCATED:
                order_release(order=locked)
            done += 1
    return done


def order_start_picking(*, order: Order) -> Order:
    return _simple(order, action="start_picking", to=S.PICKING)


def order_mark_packed(*, order: Order) -> Order:
    return _simple(order, action="mark_packed", to=S.PACKED)


def order_mark_shipped(*, order: Order, shipment_id: int | None = None, lines: dict | None = None) -> Order:
    """packed (or partially shipped) → shipped, or partially_shipped when ``lines`` ({line_id: quantity})
    leaves something open. Stock leaves through inventory's ``stock_ship``, called by the warehouse."""
    with transaction.atomic():
        locked = lock_order(order)
        check(locked, "mark_shipped")
        order_lines = list(OrderLine.objects.filter(order=locked).select_for_update().order_by("pk"))
        shipped_now = {}
        for line in order_lines:
            qty = line.open_quantity if lines is None else int(lines.get(line.pk, lines.get(str(line.pk), 0)))
            qty = max(0, min(qty, line.open_quantity))
            if qty:
                line.shipped_quantity += qty
                line.allocated_quantity = max(0, line.allocated_quantity - qty)
                line.save(update_fields=["shipped_quantity", "allocated_quantity"])
                shipped_now[line.sku] = shipped_now.get(line.sku, 0) + qty
        if not shipped_now:
            raise IllegalTransition(
                order_id=locked.pk, current=locked.status, action="mark_shipped", hint="Nothing left to ship."
            )
        remaining = sum(line.open_quantity for line in order_lines)
        to = S.PARTIALLY_SHIPPED if remaining else S.SHIPPED
        set_status(locked, to, action="mark_shipped", message=f"shipment {shipment_id or '-'}: {shipped_now}")
        outbox.emit(
            "order.shipped",
            {
                "order_id": locked.pk,
                "merchant_id": locked.merchant_id,
                "shipment_id": shipment_id,
                "partial": bool(remaining),
            },
            merchant_id=locked.merchant_id,
        )
    _sync(order, locked)
    return order


def order_mark_delivered(*, order: Order) -> Order:
    return _simple(order, action="mark_delivered", to=S.DELIVERED)


def order_hold(*, order: Order, reason: str = "") -> Order:
    """Stops the order where it is; its reservations stay. ``order_unhold`` puts it back."""
    with transaction.atomic():
        locked = lock_order(order)
        check(locked, "hold")
        set_status(
            locked, S.ON_HOLD, action="hold", message=reason, extra={"held_from_status": locked.status}
        )
        _hold_stock(locked, on_hold=True)
    _sync(order, locked)
    return order


def order_unhold(*, order: Order, resolution: str = "hold released") -> Order:
    """on_hold → where it was (re-evaluated: allocation may have changed while it waited). An order a
    release guard held goes back to allocated and is released only if every guard passes by then."""
    from orders.services.processing import enqueue_processing

    with transaction.atomic():
        locked = lock_order(order)
        check(locked, "unhold")
        was = locked.held_from_status or S.NEW
        if was in (S.NEW, S.VALIDATED, S.EXCEPTION):
            to = S.NEW
        elif fully_allocated(locked):
            to = S.RELEASED if was == S.RELEASED else S.ALLOCATED
        else:
            to = S.BACKORDERED
        set_status(locked, to, action="unhold", extra={"held_from_status": ""})
        _hold_stock(locked, on_hold=False)
        _close_release_hold(locked, resolution)
        if to == S.NEW:
            enqueue_processing(order_id=locked.pk, priority=locked.priority)
        elif to == S.ALLOCATED:
            transaction.on_commit(partial(_maybe_auto_release, order_id=locked.pk))
    _sync(order, locked)
    return order


def _hold_stock(order: Order, *, on_hold: bool) -> None:
    from orders.services import stock

    for line in OrderLine.objects.filter(order=order).order_by("pk"):
        stock.hold(merchant=order.merchant_id, line=line, on_hold=on_hold)


def _maybe_auto_release(*, order_id: int) -> None:
    from orders.services.processing import auto_release

    auto_release(order_id=order_id)
