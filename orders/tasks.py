"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from fulfil.audit import Actor, audit_context

WORKER = Actor(label="order processing", source="worker")


@shared_task(bind=True, acks_late=True, time_limit=120, max_retries=5)
def order_process(self, *, order_id: int) -> str:
    """Validate, route, allocate, release. A deadlock or lost connection rolls the whole step back and is
    retried; anything else leaves the order in 'new' for the sweeper and the admin to see."""
    from django.db import OperationalError

    from orders.services import processing

    try:
        with audit_context(WORKER):
            order = processing.order_process(order_id=order_id)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    return order.status if order else "missing"


@shared_task(bind=True, acks_late=True, time_limit=300, max_retries=5)
def orders_process_batch(self, *, order_ids: list[int]) -> int:
    from django.db import OperationalError

    from orders.services import batch

    try:
        with audit_context(WORKER):
            return batch.orders_process_batch(order_ids=order_ids)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc


@shared_task(acks_late=True, time_limit=60)
def order_notify(*, order_id: int, moment: str, key: str = "") -> bool:
    from orders.services.notifications import order_notify as notify

    with audit_context(WORKER):
        return notify(order_id=order_id, moment=moment, key=key)


@shared_task(acks_late=True, time_limit=300)
def orders_sweep_new() -> int:
    """Re-queue orders stuck in 'new' for more than a minute (a lost task, a broker outage)."""
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Order

    cutoff = timezone.now() - timedelta(minutes=1)
    ids = list(Order.objects.filter(status="new", updated_at__lt=cutoff).values_list("pk", flat=True)[:500])
    for order_id in ids:
        order_process.delay(order_id=order_id)
    return len(ids)
