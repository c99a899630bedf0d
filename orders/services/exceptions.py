"""Non-blocking exceptions that other apps' reactions raise on an order (no label, a delivery problem): one
open row per (order, reason), shown on the order and in the exceptions queue; the order's status is not
changed. Idempotent: raising the same reason with the same detail again changes nothing."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from orders.models import Order, OrderException


def order_exception_raise(*, order: Order, reason: str, detail: str, action: str) -> OrderException:
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).first()
        current = OrderException.objects.filter(order=order, reason=reason, resolved_at__isnull=True).first()
        if current is not None and current.detail == detail:
            return current
        if current is None:
            current = OrderException.objects.create(
                merchant_id=order.merchant_id, order=order, reason=reason, detail=detail, blocking=False
            )
        else:
            current.detail = detail
            current.save(update_fields=["detail"])
        audit_record(
            obj_type="order",
            obj_id=order.pk,
            action=action,
            merchant_id=order.merchant_id,
            after={"exception": reason},
            message=detail[:500],
        )
    return current


def order_exception_resolve(*, order: Order, reason: str, resolution: str) -> int:
    with transaction.atomic():
        n = OrderException.objects.filter(order=order, reason=reason, resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolution=resolution[:300]
        )
        if n:
            audit_record(
                obj_type="order",
                obj_id=order.pk,
                action="order.exception_resolved",
                merchant_id=order.merchant_id,
                before={"exception": reason},
                message=resolution[:300],
            )
    return n
