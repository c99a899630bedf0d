"""Returns: RMAs opened by the merchant or the customer portal (prepaid labels through the carriers), units
received and graded, the return completed for billing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.exceptions import InventoryError
from inventory.models import Product, Warehouse
from warehouse.inbound import inv as inv
from warehouse.inbound.models import (
    ReturnAuthorization,
    ReturnLine,
    ReturnPortalSettings,
    ReturnReason,
    ReturnUnit,
)
from warehouse.inbound.services._common import FloorError, _mid

EV_RETURN_OPENED = "return.opened"
EV_RETURN_PROCESSED = "return.processed"


# --- Returns ------------------------------------------------------------------------------------------


RETURNABLE_ORDER_STATUSES = {"shipped", "delivered", "partially_shipped"}


def _next_rma_number(merchant_id: int) -> str:
    n = ReturnAuthorization.objects.for_merchant(merchant_id).count() + 1
    while ReturnAuthorization.objects.for_merchant(merchant_id).filter(number=f"RMA-{n:05d}").exists():
        n += 1
    return f"RMA-{n:05d}"


def return_returnable(order) -> dict[int, tuple[int, Decimal]]:
    """``{product_id: (units that can still be returned, unit price)}``: shipped minus what is on other
    returns that are not cancelled."""
    from warehouse.inbound.returns_origin import order_lines_shipped

    shipped = order_lines_shipped(order)
    already = dict(
        ReturnLine.objects.filter(rma__order=order)
        .exclude(rma__status=ReturnAuthorization.Status.CANCELLED)
        .values_list("product_id")
        .annotate(n=Sum("quantity"))
        .values_list("product_id", "n")
    )
    return {pid: (max(0, n - already.get(pid, 0)), price) for pid, (n, price) in shipped.items()}


def return_open(
    *,
    merchant,
    order,
    reason: str,
    lines: Iterable[tuple[Product, int]],
    opened_by: str = ReturnAuthorization.OpenedBy.MERCHANT,
    customer_note: str = "",
    customer_email: str = "",
    photo=None,
    warehouse: Warehouse | None = None,
    buy_label: bool = False,
    request_key: str = "",
    allowed_reasons: Iterable[str] | None = None,
) -> ReturnAuthorization:
    """Opens an RMA for a shipped order. Quantities cannot exceed what was shipped minus what is already on
    other open or received returns.

    ``buy_label``: a prepaid return label (customer → warehouse) is bought through the carriers layer FIRST;
    if the carrier fails, ``FloorError`` says why and nothing is created (the RMA is written only with its
    label). ``request_key`` (the opening form's key) makes a re-sent form return the first RMA — and a retry
    after a failed label buys under the same carrier idempotency key, so a label is never bought twice."""
    mid = _mid(merchant)
    if order.merchant_id != mid:
        raise ValidationError({"order": ["Unknown order."]})
    request_key = (request_key or "")[:64]
    if request_key:
        prior = ReturnAuthorization.objects.for_merchant(mid).filter(request_key=request_key).first()
        if prior is not None:
            return prior
    if order.status not in RETURNABLE_ORDER_STATUSES:
        raise FloorError(f"Order {order.number or order.pk} has not shipped yet — nothing to return.")
    merged: dict[int, list] = {}
    for p, q in lines:
        if q > 0:
            merged.setdefault(p.pk, [p, 0])[1] += q
    lines = [(p, q) for p, q in merged.values()]
    if not lines:
        raise ValidationError({"lines": ["Choose at least one unit to return."]})
    returnable = return_returnable(order)
    for product, qty in lines:
        have, _ = returnable.get(product.pk, (0, Decimal(0)))
        if qty > have:
            raise ValidationError({"lines": [f"{product.sku}: at most {have} can be returned."]})
    valid = {c for c, _ in ReturnAuthorization._meta.get_field("reason").choices}
    if allowed_reasons:
        valid &= set(allowed_reasons)
    if reason not in valid:
        raise ValidationError({"reason": ["Choose a reason."]})
    from warehouse.inbound.returns_origin import order_origin, order_warehouse

    wh = warehouse or order_warehouse(order)
    if wh is None:
        raise FloorError("No warehouse to return to.")
    key = request_key or uuid.uuid4().hex
    label = (
        _return_label_buy(merchant=order.merchant, order=order, warehouse=wh, key=key) if buy_label else None
    )
    try:
        with transaction.atomic():
            rma = ReturnAuthorization.objects.create(
                merchant_id=mid,
                number=_next_rma_number(mid),
                order=order,
                warehouse=wh,
                reason=reason,
                customer_note=customer_note,
                customer_email=customer_email[:254],
                opened_by=opened_by,
                origin=order_origin(order),
                currency=getattr(order, "currency", "USD") or "USD",
                request_key=request_key,
                **(label or {}),
            )
            ReturnLine.objects.bulk_create(
                ReturnLine(rma=rma, product=p, quantity=q, unit_price=returnable[p.pk][1], reason=reason)
                for p, q in lines
            )
            if photo:
                rma.customer_photo.save(f"{rma.number}.jpg", photo, save=True)
            audit_record(
                obj_type="inbound.return",
                obj_id=rma.pk,
                action="opened",
                merchant_id=mid,
                after={
                    "number": rma.number,
                    "order": order.pk,
                    "reason": reason,
                    "by": opened_by,
                    "lines": {p.sku: q for p, q in lines},
                    "label": (label or {}).get("label_tracking", ""),
                },
            )
            outbox.emit(
                EV_RETURN_OPENED,
                {
                    "merchant_id": mid,
                    "rma_id": rma.pk,
                    "order_id": order.pk,
                    "reason": reason,
                    "opened_by": opened_by,
                },
                merchant_id=mid,
            )
            if opened_by == ReturnAuthorization.OpenedBy.CUSTOMER:
                transaction.on_commit(partial(_notify_return_opened, rma_id=rma.pk))
    except IntegrityError:
        if request_key:  # the same form twice at once: the first one won
            prior = ReturnAuthorization.objects.for_merchant(mid).filter(request_key=request_key).first()
            if prior is not None:
                return prior
        raise
    return rma


def _notify_return_opened(*, rma_id: int) -> None:
    from warehouse.inbound.notifications import send_return_opened

    send_return_opened(rma_id=rma_id)


def _return_label_buy(*, merchant, order, warehouse: Warehouse, key: str) -> dict:
    """Buys a prepaid return label (customer → ``warehouse``) through ``integrations.carriers``; the fields
    to store on the RMA. A carrier failure is a ``FloorError`` with the carrier's reason."""
    from integrations.carriers import exceptions as carrier_errors
    from integrations.carriers.services import shipment_buy_label

    try:
        shipment = shipment_buy_label(
            merchant=merchant,
            order=order,
            parcel=None,
            return_to_warehouse=warehouse,
            idempotency_key=f"return:{order.pk}:{key}"[:100],
        )
    except (
        carrier_errors.NoRateAvailable,
        carrier_errors.LabelPurchaseFailed,
        carrier_errors.ShipmentStateError,
        carrier_errors.ProviderError,
    ) as exc:
        raise FloorError(
            f"The return label could not be bought ({exc}). Nothing was created; try again."
        ) from exc
    return {
        "label_shipment_id": shipment.pk,
        "label_tracking": shipment.tracking_number or "",
        "label_url": str(shipment.label_url or ""),
    }


def return_buy_label(*, rma: ReturnAuthorization) -> ReturnAuthorization:
    """A prepaid return label for an open RMA that has none (the merchant's "buy label" button). Idempotent:
    an RMA with a label keeps it; a retry after a failure buys under the same carrier key. A carrier failure
    is a ``FloorError`` and changes nothing on the RMA."""
    if rma.label_shipment_id:
        return rma
    if rma.status != ReturnAuthorization.Status.OPEN:
        raise FloorError(f"{rma.number} is {rma.get_status_display().lower()}: no label needed.")
    fields = _return_label_buy(
        merchant=rma.merchant,
        order=rma.order,
        warehouse=rma.warehouse,
        key=rma.request_key or f"rma-{rma.pk}",
    )
    with transaction.atomic():
        ReturnAuthorization.objects.filter(pk=rma.pk, label_shipment_id__isnull=True).update(**fields)
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="label_bought",
            merchant_id=rma.merchant_id,
            after={"tracking": fields["label_tracking"]},
        )
    rma.refresh_from_db()
    return rma


# --- The customer return portal --------------------------------------------------------------------------


def return_portal_update(
    *,
    merchant,
    enabled: bool,
    window_days: int,
    allowed_reasons: list[str],
    prepaid_labels: bool,
    instructions: str = "",
    new_token: bool = False,
) -> ReturnPortalSettings:
    if not 1 <= window_days <= 365:
        raise ValidationError({"window_days": ["Between 1 and 365 days."]})
    valid = set(ReturnReason.values)
    reasons = [r for r in allowed_reasons if r in valid]
    if len(reasons) != len(allowed_reasons):
        raise ValidationError({"allowed_reasons": ["Unknown reason."]})
    with transaction.atomic():
        row, _ = ReturnPortalSettings.objects.select_for_update().get_or_create(merchant_id=_mid(merchant))
        before = {
            "enabled": row.enabled,
            "window_days": row.window_days,
            "allowed_reasons": row.allowed_reasons,
            "prepaid_labels": row.prepaid_labels,
        }
        row.enabled, row.window_days, row.allowed_reasons = enabled, window_days, reasons
        row.prepaid_labels, row.instructions = prepaid_labels, instructions[:2000]
        if new_token:
            from warehouse.inbound.models import _portal_token

            row.token = _portal_token()
        row.updated_at = timezone.now()
        row.save()
        audit_record(
            obj_type="inbound.return_portal",
            obj_id=row.pk,
            action="updated",
            merchant_id=row.merchant_id,
            before=before,
            after={
                "enabled": enabled,
                "window_days": window_days,
                "allowed_reasons": reasons,
                "prepaid_labels": prepaid_labels,
                "new_link": new_token,
            },
        )
    return row


def return_portal_open(
    *,
    portal: ReturnPortalSettings,
    order,
    lines: list[tuple[Product, int]],
    reason: str,
    comment: str = "",
    photo=None,
    customer_email: str = "",
    request_key: str = "",
) -> ReturnAuthorization:
    """A customer opens a return from the merchant's portal: the merchant's window and allowed reasons
    apply; with prepaid labels on, the label is bought first (a carrier failure creates nothing)."""
    from warehouse.inbound.selectors import portal_window_open

    if not portal.enabled or order.merchant_id != portal.merchant_id:
        raise FloorError("Returns are not open for this order.")
    if not portal_window_open(portal=portal, order=order):
        raise FloorError(f"The {portal.window_days}-day return window for this order has closed.")
    return return_open(
        merchant=portal.merchant_id,
        order=order,
        reason=reason,
        lines=lines,
        opened_by=ReturnAuthorization.OpenedBy.CUSTOMER,
        customer_note=comment[:2000],
        customer_email=customer_email,
        photo=photo,
        buy_label=portal.prepaid_labels,
        request_key=request_key,
        allowed_reasons=[v for v, _ in portal.reasons()],
    )


def return_receive_unit(
    *,
    rma: ReturnAuthorization,
    client_scan_id: str,
    product: Product,
    grade: str,
    quantity: int = 1,
    lot: str = "",
    note: str = "",
    user=None,
) -> tuple[ReturnUnit, bool]:
    """Scans a returned unit in and grades it: restock → sellable at once; refurbish/quarantine → the
    quarantine location; dispose → recorded, never stock. Idempotent by ``client_scan_id``."""
    if grade not in ReturnUnit.Grade.values:
        raise ValidationError({"grade": ["restock, refurbish, quarantine or dispose."]})
    if quantity <= 0:
        raise ValidationError({"quantity": ["Must be at least 1."]})
    prior = ReturnUnit.objects.filter(rma=rma, client_scan_id=client_scan_id).first()
    if prior is not None:
        return prior, False
    user = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        rma = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        prior = ReturnUnit.objects.filter(rma=rma, client_scan_id=client_scan_id).first()
        if prior is not None:
            return prior, False
        if rma.status in (ReturnAuthorization.Status.PROCESSED, ReturnAuthorization.Status.CANCELLED):
            raise FloorError(f"{rma.number} is {rma.get_status_display().lower()}.")
        expected = rma.lines.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        if expected == 0:
            raise FloorError(f"{product.sku} is not on {rma.number} — set it aside for the merchant.")
        graded = rma.units.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        if graded + quantity > expected:
            raise FloorError(f"{rma.number} expects {expected} × {product.sku}; {graded} already graded.")
        location = None
        if grade != ReturnUnit.Grade.DISPOSE:
            damaged = grade != ReturnUnit.Grade.RESTOCK
            location = (
                inv.quarantine_location(rma.warehouse_id)
                if damaged
                else inv.receiving_location(rma.warehouse_id)
            )
            if product.requires_lot_tracking and not lot:
                lot = f"RMA-{rma.number}"
            try:
                inv.stock_receive(
                    merchant=rma.merchant_id,
                    product=product,
                    warehouse=rma.warehouse,
                    quantity=quantity,
                    location=location,
                    lot=lot,
                    damaged=damaged,
                    reference=f"rma:{rma.number}",
                    reason=f"return {rma.number} graded {grade}",
                    movement_type="return",
                )
            except InventoryError as exc:
                raise FloorError(str(exc)) from exc
        unit = ReturnUnit.objects.create(
            merchant_id=rma.merchant_id,
            rma=rma,
            client_scan_id=client_scan_id,
            product=product,
            quantity=quantity,
            grade=grade,
            lot=lot,
            location=location,
            note=note,
            graded_by=user,
        )
        if rma.status == ReturnAuthorization.Status.OPEN:
            rma.status = ReturnAuthorization.Status.RECEIVED
            rma.received_at = timezone.now()
            rma.save(update_fields=["status", "received_at"])
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="unit_graded",
            merchant_id=rma.merchant_id,
            after={"sku": product.sku, "quantity": quantity, "grade": grade},
        )
    return unit, True


def return_complete(*, rma: ReturnAuthorization, user=None) -> ReturnAuthorization:
    """Closes the return; billing hears ``return.processed`` with the credit per unit and grade."""
    with transaction.atomic():
        rma = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        if rma.status == ReturnAuthorization.Status.PROCESSED:
            return rma
        if rma.status != ReturnAuthorization.Status.RECEIVED:
            raise FloorError(f"{rma.number}: grade at least one unit first.")
        prices = {ln.product_id: ln.unit_price for ln in rma.lines.all()}
        units = list(rma.units.all())
        refund = sum((prices.get(u.product_id, Decimal(0)) * u.quantity for u in units), Decimal("0.00"))
        rma.refund_amount = refund.quantize(Decimal("0.01"))
        rma.status = ReturnAuthorization.Status.PROCESSED
        rma.processed_at = timezone.now()
        rma.save(update_fields=["refund_amount", "status", "processed_at"])
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="processed",
            merchant_id=rma.merchant_id,
            after={"refund_amount": rma.refund_amount, "units": len(units)},
        )
        outbox.emit(
            EV_RETURN_PROCESSED,
            {
                "merchant_id": rma.merchant_id,
                "rma_id": rma.pk,
                "rma_number": rma.number,
                "order_id": rma.order_id,
                "reason": rma.reason,
                "refund_amount": str(rma.refund_amount),
                "currency": rma.currency,
                "units": [
                    {"product_id": u.product_id, "quantity": u.quantity, "grade": u.grade} for u in units
                ],
                "origin": rma.origin,
            },
            merchant_id=rma.merchant_id,
        )
    return rma
