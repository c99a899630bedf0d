"""Celery tasks: thin, take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from inventory.models import Warehouse


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def count_schedule(warehouse_id: int | None = None) -> int:
    """Daily: reclassify ABC and open the counts that are due (every active operator warehouse)."""
    from warehouse.inbound.services import count_schedule_run

    qs = Warehouse.objects.filter(is_active=True)
    if warehouse_id:
        qs = qs.filter(pk=warehouse_id)
    return sum(len(count_schedule_run(warehouse=wh)) for wh in qs.order_by("pk"))
