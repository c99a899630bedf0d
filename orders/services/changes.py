"""Changes before picking (US-008): address, lines (quantities, add, remove, substitute), shipping service,
cancel all or some lines; channel updates; fixing exceptions. After picking starts every change is refused
with ``ChangeRefused`` saying why and what can still be done (an intercept request)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record, diff
from orders.canonical import CanonicalOrder
from orders.exceptions import ChangeRefused, IllegalTransition
from orders.models import Order, OrderException, OrderLine, SkuMapping
from orders.models import OrderStatus as S
from orders.services import stock
from orders.services.importing import SERVICE_ALIASES, _line_objects, address_problems, normalise_address
from orders.services.workflow import BEFORE_PICKING, HINTS, check, lock_order, set_status

CENT = Decimal("0.01")
ADDRESS_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "email",
)


def _emit_changed(order: Order, fields: list[str]) -> None:
    """``order.changed {order_id, merchant_id, fields}`` in the change's transaction: what a reaction (billing's
    estimate) must recompute. ``fields`` are the order's field names that changed, plus ``"lines"``."""
    outbox.emit(
        "order.changed",
        {"order_id": order.pk, "merchant_id": order.merchant_id, "fields": sorted(set(fields))},
        merchant_id=order.merchant_id,
    )


def _refuse_unless_changeable(order: Order, what: str) -> None:
    if order.status not in BEFORE_PICKING:
        hint = HINTS.get(order.status, "")
        raise ChangeRefused(
            f"Cannot {what}: the order is {order.get_status_display().lower()} and changes are only possible "
            f"before picking starts. {hint}".strip()
        )


def _line_state(lines) -> list[dict]:
    return [
        {"id": line.pk, "sku": line.sku, "quantity": line.quantity, "cancelled": line.cancelled_quantity}
        for line in lines
    ]


def _unit_refund(line: OrderLine, quantity: int) -> Decimal:
    if line.quantity <= 0:
        return Decimal("0.00")
    per_unit = (line.unit_price * line.quantity + line.tax - line.discount) / line.quantity
    return (per_unit * quantity).quantize(CENT)


def _reallocate(order: Order) -> None:
    """Route the open lines again (the caller holds the order lock). When the best plan keeps every line
    where it is reserved, only the estimate changes; otherwise the lines are released and reserved again."""
    from orders.services.processing import allocate_lines, build_plan, settings_for

    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
    open_lines = [line for line in lines if line.open_quantity > 0 and line.product_id]
    plan = build_plan(order=order, lines=open_lines, settings=settings_for(order.merchant_id))
    current = {
        line.pk: sorted((a.warehouse_id, a.requested) for a in line.allocations.all() if a.requested)
        for line in open_lines
    }
    proposed = {line_id: sorted(parts) for line_id, parts in plan.assignments.items()}
    if plan.kind != "none" and current == proposed:
        order.routing = plan.explanation
        order.estimated_shipping = plan.cost
        order.estimated_zone = plan.zone
        order.promised_delivery = plan.promised
        order.save(
            update_fields=[
                "routing",
                "estimated_shipping",
                "estimated_zone",
                "promised_delivery",
                "updated_at",
            ]
        )
        return
    for line in lines:
        stock.release(merchant=order.merchant, line=line)
    for line in lines:
        if line.open_quantity == 0:
            stock.sync_line(line)
    allocate_lines(order=order, lines=open_lines, plan=plan)
    if order.status == S.EXCEPTION:
        return
    full = all(line.allocated_quantity >= line.open_quantity for line in lines)
    if order.status == S.ON_HOLD:
        from orders.services.workflow import _hold_stock

        _hold_stock(order, on_hold=True)
        if order.held_from_status in (S.ALLOCATED, S.BACKORDERED):
            order.held_from_status = S.ALLOCATED if full else S.BACKORDERED
            order.save(update_fields=["held_from_status", "updated_at"])
        return
    if order.status in (S.ALLOCATED, S.BACKORDERED, S.RELEASED):
        target = (S.RELEASED if order.status == S.RELEASED else S.ALLOCATED) if full else S.BACKORDERED
        if target != order.status:
            set_status(
                order,
                target,
                action="allocate" if full else "backorder",
                message="re-allocated after a change",
            )


RESERVING = (S.ALLOCATED, S.BACKORDERED, S.RELEASED)


def has_reservations(order: Order) -> bool:
    """Whether the order holds (or waits for) stock: allocated, backordered, released, or on hold from one
    of those."""
    return order.status in RESERVING or (order.status == S.ON_HOLD and order.held_from_status in RESERVING)


def _back_to_validation(order: Order, message: str) -> None:
    """Drop every reservation and validate again (a new SKU, lines replaced by the channel). An order on
    hold stays on hold and is validated when released."""
    from orders.services.processing import enqueue_processing

    for line in OrderLine.objects.filter(order=order).order_by("pk"):
        stock.release(merchant=order.merchant, line=line)
        stock.sync_line(line)
    if order.status == S.ON_HOLD:
        order.held_from_status = S.NEW
        order.save(update_fields=["held_from_status", "updated_at"])
        return
    if order.status != S.NEW:
        set_status(order, S.NEW, action="reprocess", message=message)
    enqueue_processing(order_id=order.pk, priority=order.priority)


def _after_change(order: Order) -> None:
    """Re-run what the change invalidates: validation for new/validated/exception orders, routing and
    allocation for orders holding stock (also while on hold, keeping the hold)."""
    from orders.services.processing import enqueue_processing

    if order.status in (S.NEW, S.VALIDATED, S.EXCEPTION):
        if order.status == S.VALIDATED:
            set_status(order, S.NEW, action="reprocess", message="re-validate after a change")
        enqueue_processing(order_id=order.pk, priority=order.priority)
    elif has_reservations(order):
        _reallocate(order)


def order_change_address(*, order: Order, address: dict) -> Order:
    """Correct the ship-to address. The shipping estimate is recalculated (routing runs again)."""
    with transaction.atomic():
        locked = lock_order(order)
        _refuse_unless_changeable(locked, "change the address")
        current = locked.ship_to
        merged = {**current, **{k: v for k, v in address.items() if k in ADDRESS_FIELDS and v is not None}}
        from orders.canonical import CanonicalAddress

        clean = dataclasses.asdict(normalise_address(CanonicalAddress(**merged)))
        before, after = diff(current, clean)
        if not after:
            return order
        for key, value in clean.items():
            setattr(locked, f"ship_to_{key}", value)
        locked.is_international = clean["country"] != "US"
        locked.save()
        audit_record(
            obj_type="order",
            obj_id=locked.pk,
            action="order.address_changed",
            merchant_id=locked.merchant_id,
            before=before,
            after=after,
        )
        _emit_changed(locked, [f"ship_to_{key}" for key in after])
        if locked.status == S.EXCEPTION and not address_problems(clean):
            OrderException.objects.filter(
                order=locked, resolved_at__isnull=True, reason=OrderException.Reason.BAD_ADDRESS
            ).update(resolved_at=timezone.now(), resolution="address corrected")
        _after_change(locked)
        _notify_modified(locked)
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def order_change_service(*, order: Order, shipping_service: str) -> Order:
    """Upgrade (or change) the shipping service; expedited/overnight jump the queue and flag the cut-off."""
    service = SERVICE_ALIASES.get((shipping_service or "").lower())
    if service is None:
        raise ChangeRefused(f"Unknown shipping service {shipping_service!r}.")
    with transaction.atomic():
        locked = lock_order(order)
        _refuse_unless_changeable(locked, "change the shipping service")
        if locked.shipping_service == service:
            return order
        before = {"shipping_service": locked.shipping_service, "priority": locked.priority}
        base = locked.priority - (
            100 if locked.shipping_service == "overnight" else 50 if locked.is_expedited else 0
        )
        locked.shipping_service = service
        locked.priority = base + (100 if service == "overnight" else 50 if service == "expedited" else 0)
        locked.same_day_cutoff = service in ("expedited", "overnight")
        locked.save(update_fields=["shipping_service", "priority", "same_day_cutoff", "updated_at"])
        audit_record(
            obj_type="order",
            obj_id=locked.pk,
            action="order.service_changed",
            merchant_id=locked.merchant_id,
            before=before,
            after={"shipping_service": service, "priority": locked.priority},
        )
        _emit_changed(locked, ["shipping_service", "priority"])
        _after_change(locked)
        _notify_modified(locked)
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def order_set_priority(*, order: Order, priority: int) -> Order:
    with transaction.atomic():
        locked = lock_order(order)
        _refuse_unless_changeable(locked, "change the priority")
        before = locked.priority
        locked.priority = int(priority)
        locked.save(update_fields=["priority", "updated_at"])
        audit_record(
            obj_type="order",
            obj_id=locked.pk,
            action="order.priority_changed",
            merchant_id=locked.merchant_id,
            before={"priority": before},
            after={"priority": locked.priority},
        )
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def order_change_lines(*, order: Order, changes: list[dict]) -> Order:
    """Apply line changes at once, then re-allocate. Each change is one of
    ``{"id": line_id, "quantity": n}`` (n = 0 removes it), ``{"id": line_id, "sku": "NEW"}`` (substitute),
    ``{"sku": "X", "quantity": n, "unit_price": "9.99"}`` (add)."""
    with transaction.atomic():
        locked = lock_order(order)
        _refuse_unless_changeable(locked, "change the lines")
        lines = {
            line.pk: line
            for line in OrderLine.objects.filter(order=locked).select_for_update().order_by("pk")
        }
        before = _line_state(lines.values())
        added = []
        for change in changes:
            line_id = change.get("id") or change.get("line_id")
            if line_id:
                line = lines.get(int(line_id))
                if line is None:
                    raise ChangeRefused(f"Line {line_id} is not on this order.")
                if "sku" in change and change["sku"] and change["sku"] != line.sku:
                    stock.release(merchant=locked.merchant, line=line)
                    line.sku = str(change["sku"]).strip()[:100]
                    line.product = None
                    line.name = str(change.get("name", ""))[:300]
                if "quantity" in change:
                    qty = int(change["quantity"])
                    if qty < 0:
                        raise ChangeRefused("A quantity cannot be negative.")
                    if qty == 0:
                        line.cancelled_quantity = line.quantity - line.shipped_quantity
                    else:
                        line.quantity = qty + line.shipped_quantity
                        line.cancelled_quantity = 0
                if "unit_price" in change:
                    line.unit_price = Decimal(str(change["unit_price"])).quantize(CENT)
                line.save()
            else:
                sku = str(change.get("sku", "")).strip()
                qty = int(change.get("quantity", 0))
                if not sku or qty < 1:
                    raise ChangeRefused("A new line needs a SKU and a quantity of at least 1.")
                added.append(
                    dataclasses.make_dataclass(
                        "L", ["sku", "name", "external_line_id", "quantity", "unit_price", "tax", "discount"]
                    )(
                        sku,
                        "",
                        "",
                        qty,
                        Decimal(str(change.get("unit_price", "0"))).quantize(CENT),
                        Decimal("0"),
                        Decimal("0"),
                    )
                )
        if added:
            objs = _line_objects(locked, tuple(added))
            for i, obj in enumerate(objs):
                obj.position = len(lines) + i
            OrderLine.objects.bulk_create(objs)
        all_lines = list(OrderLine.objects.filter(order=locked).order_by("pk"))
        if not any(line.open_quantity for line in all_lines):
            raise ChangeRefused("That would leave the order without lines: cancel it instead.")
        _recompute_totals(locked, all_lines)
        audit_record(
            obj_type="order",
            obj_id=locked.pk,
            action="order.lines_changed",
            merchant_id=locked.merchant_id,
            before={"lines": before},
            after={"lines": _line_state(all_lines)},
        )
        _emit_changed(locked, ["lines", "subtotal", "tax_total", "discount_total", "total"])
        # new SKUs need validation: send the order through validation again unless it is held
        needs_validation = added or any("sku" in c for c in changes)
        if needs_validation and (has_reservations(locked) or locked.status in (S.VALIDATED, S.ON_HOLD)):
            _back_to_validation(locked, "re-validate after a line change")
        else:
            _after_change(locked)
        _notify_modified(locked)
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def _recompute_totals(order: Order, lines: list[OrderLine]) -> None:
    subtotal = sum((ln.unit_price * (ln.quantity - ln.cancelled_quantity) for ln in lines), Decimal("0.00"))
    tax = sum((ln.tax for ln in lines if ln.quantity > ln.cancelled_quantity), Decimal("0.00"))
    discount = sum((ln.discount for ln in lines if ln.quantity > ln.cancelled_quantity), Decimal("0.00"))
    order.subtotal, order.tax_total, order.discount_total = subtotal, tax, discount
    order.total = max(Decimal("0.00"), subtotal + tax - discount + order.shipping_paid)
    order.save(update_fields=["subtotal", "tax_total", "discount_total", "total", "updated_at"])


def order_cancel(*, order: Order, lines: list | None = None, reason: str = "") -> Order:
    """Cancel the whole order, or some lines (``[{"id": line_id, "quantity": n}]`` or a list of line ids;
    a missing quantity cancels the whole line). Reserved stock is released at once; the refund due for the
    cancelled part is added to ``refund_due``. Refused once picking has started."""
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status not in BEFORE_PICKING:
            raise IllegalTransition(
                order_id=locked.pk, current=locked.status, action="cancel", hint=HINTS.get(locked.status, "")
            )
        order_lines = {
            ln.pk: ln for ln in OrderLine.objects.filter(order=locked).select_for_update().order_by("pk")
        }
        wanted: dict[int, int] = {}
        if lines is None:
            wanted = {pk: ln.open_quantity for pk, ln in order_lines.items()}
        else:
            for item in lines:
                if isinstance(item, dict):
                    line_id = item.get("id") or item.get("line_id")
                    if line_id is None and item.get("sku"):
                        match = [ln for ln in order_lines.values() if ln.sku == item["sku"]]
                        line_id = match[0].pk if match else None
                    qty = item.get("quantity")
                else:
                    line_id, qty = item, None
                try:
                    line = order_lines[int(line_id)]
                except (KeyError, TypeError, ValueError) as exc:
                    raise ChangeRefused(f"Line {line_id} is not on this order.") from exc
                qty = line.open_quantity if qty is None else int(qty)
                if qty < 1 or qty > line.open_quantity:
                    raise ChangeRefused(
                        f"Line {line.pk} ({line.sku}) has {line.open_quantity} to cancel, not {qty}."
                    )
                wanted[line.pk] = wanted.get(line.pk, 0) + qty
        refund = Decimal("0.00")
        for line_id, qty in wanted.items():
            line = order_lines[line_id]
            if qty <= 0:
                continue
            # backorder first, then reserved units: what is left stays where it was routed
            stock.release(
                merchant=locked.merchant, line=line, quantity=qty if qty < line.open_quantity else None
            )
            refund += _unit_refund(line, qty)
            line.cancelled_quantity += qty
            line.save(update_fields=["cancelled_quantity"])
            stock.sync_line(line)
        everything = all(ln.open_quantity == 0 for ln in order_lines.values())
        if lines is None or everything:
            refund_total = locked.total if lines is None else locked.refund_due + refund
            before = {"status": locked.status, "refund_due": str(locked.refund_due)}
            if lines is None:
                refund = refund_total - locked.refund_due
            locked.refund_due = (locked.refund_due + refund).quantize(CENT)
            locked.save(update_fields=["refund_due"])
            set_status(locked, S.CANCELLED, action="cancel", message=reason)
            outbox.emit(
                "order.cancelled",
                {"order_id": locked.pk, "merchant_id": locked.merchant_id, "lines": None, "reason": reason},
                merchant_id=locked.merchant_id,
            )
            OrderException.objects.filter(order=locked, resolved_at__isnull=True).update(
                resolved_at=timezone.now(), resolution="order cancelled"
            )
            audit_record(
                obj_type="order",
                obj_id=locked.pk,
                action="order.refund_computed",
                merchant_id=locked.merchant_id,
                before=before,
                after={"refund_due": str(locked.refund_due)},
            )
        else:
            locked.refund_due = (locked.refund_due + refund).quantize(CENT)
            locked.save(update_fields=["refund_due", "updated_at"])
            audit_record(
                obj_type="order",
                obj_id=locked.pk,
                action="order.lines_cancelled",
                merchant_id=locked.merchant_id,
                before={},
                after={"lines": {str(k): v for k, v in wanted.items()}, "refund": str(refund)},
                message=reason,
            )
            _emit_changed(locked, ["lines", "refund_due"])
            outbox.emit(
                "order.cancelled",
                {
                    "order_id": locked.pk,
                    "merchant_id": locked.merchant_id,
                    "lines": [{"id": k, "quantity": v} for k, v in wanted.items()],
                    "reason": reason,
                },
                merchant_id=locked.merchant_id,
            )
            from orders.services.workflow import fully_allocated

            if locked.status == S.BACKORDERED and fully_allocated(locked):
                set_status(locked, S.ALLOCATED, action="allocate", message="remaining lines are in stock")
                from orders.services.processing import auto_release

                transaction.on_commit(lambda oid=locked.pk: auto_release(order_id=oid))
    order.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return order


def order_request_intercept(*, order: Order, reason: str = "") -> Order:
    """After picking started: ask the warehouse to stop the order before it leaves."""
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status not in (S.PICKING, S.PACKED, S.PARTIALLY_SHIPPED):
            raise IllegalTransition(
                order_id=locked.pk,
                current=locked.status,
                action="request_intercept",
                hint="An intercept is only for orders being picked or packed; change or cancel it directly.",
            )
        OrderException.objects.create(
            merchant_id=locked.merchant_id,
            order=locked,
            reason="intercept",
            detail=reason or "intercept requested",
            blocking=False,
        )
        audit_record(
            obj_type="order",
            obj_id=locked.pk,
            action="order.intercept_requested",
            merchant_id=locked.merchant_id,
            message=reason,
        )
        outbox.emit(
            "order.intercept_requested",
            {"order_id": locked.pk, "merchant_id": locked.merchant_id, "reason": reason},
            merchant_id=locked.merchant_id,
        )
    return order


def apply_channel_update(*, order: Order, cleaned: CanonicalOrder, fields: dict, digest: str) -> Order:
    """A channel updated an order that has not reached picking (row locked by the caller)."""
    before = {k: getattr(order, k) for k in fields if k not in ("raw",)}
    for key, value in fields.items():
        setattr(order, key, value)
    order.source_hash = digest
    order.save()
    old_lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    old_shape = [(ln.sku, ln.quantity - ln.cancelled_quantity) for ln in old_lines]
    new_shape = [(ln.sku, ln.quantity) for ln in cleaned.lines]
    lines_changed = old_shape != new_shape
    if lines_changed:
        for line in old_lines:
            stock.release(merchant=order.merchant, line=line)
        OrderLine.objects.filter(order=order).delete()
        OrderLine.objects.bulk_create(_line_objects(order, cleaned.lines))
    b, a = diff({k: str(v) for k, v in before.items()}, {k: str(getattr(order, k)) for k in before})
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action="order.updated_by_channel",
        merchant_id=order.merchant_id,
        before={**b, **({"lines": old_shape} if lines_changed else {})},
        after={**a, **({"lines": new_shape} if lines_changed else {})},
    )
    if lines_changed or a:
        _emit_changed(order, [*a, *(["lines"] if lines_changed else [])])
    if lines_changed and (has_reservations(order) or order.status in (S.VALIDATED, S.ON_HOLD)):
        _back_to_validation(order, "updated by the channel")
    elif lines_changed or b or a:
        _after_change(order)
    return order


# --- fixing exceptions --------------------------------------------------------------------------------


def sku_mapping_create(*, merchant, external_sku: str, product_sku: str, channel: str = "") -> SkuMapping:
    """Map a channel SKU to one of our products and re-validate every order waiting on it."""
    from orders.services.processing import enqueue_processing

    with transaction.atomic():
        mapping, _ = SkuMapping.objects.update_or_create(
            merchant=merchant,
            channel=channel,
            external_sku=external_sku.strip(),
            defaults={"product_sku": product_sku.strip()},
        )
        audit_record(
            obj_type="sku_mapping",
            obj_id=mapping.pk,
            action="sku_mapping.saved",
            merchant_id=merchant.pk,
            after={
                "external_sku": mapping.external_sku,
                "product_sku": mapping.product_sku,
                "channel": channel,
            },
        )
        waiting = list(
            Order.objects.for_merchant(merchant)
            .filter(
                status=S.EXCEPTION,
                exceptions__resolved_at__isnull=True,
                exceptions__reason=OrderException.Reason.UNKNOWN_SKU,
                exceptions__sku=mapping.external_sku,
            )
            .values_list("pk", "priority")
            .distinct()
        )
        for order_id, priority in waiting:
            enqueue_processing(order_id=order_id, priority=priority)
    return mapping


def order_retry(*, order: Order) -> Order:
    """A person fixed the cause outside the order (created the product, added customs data): validate
    again."""
    with transaction.atomic():
        locked = lock_order(order)
        check(locked, "validate")
        audit_record(obj_type="order", obj_id=locked.pk, action="order.retry", merchant_id=locked.merchant_id)
    from orders.services.processing import order_process

    order_process(order_id=locked.pk)
    order.refresh_from_db()
    return order


def _notify_modified(order: Order) -> None:
    from orders.services.notifications import queue_notification

    queue_notification(order=order, moment="modified")
