"""Celery tasks of the outbound floor: thin, idempotent, ids in."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240)
def waves_before_cutoff() -> int:
    """Every few minutes: a wave for each warehouse whose carrier cut-off is within the next hour and that
    has released orders waiting (at most one scheduled wave per warehouse per cut-off)."""
    from warehouse.services import waves_schedule_due

    return waves_schedule_due()
