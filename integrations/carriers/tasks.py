"""Celery tasks of the carrier layer: thin, idempotent, take ids; retries only for retryable errors."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from fulfil.audit import Actor, audit_context

from . import selectors, services
from .exceptions import RetryableProviderError

WORKER = Actor(label="carriers worker", source="worker")
QUIET_AFTER = timedelta(hours=12)


@shared_task(
    acks_late=True,
    autoretry_for=(RetryableProviderError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=60,
)
def fetch_label(*, shipment_id: int) -> bool:
    with audit_context(WORKER):
        return services.shipment_store_label(shipment_id=shipment_id)


@shared_task(acks_late=True, soft_time_limit=60)
def process_webhook_event(*, event_id: int) -> str:
    with audit_context(Actor(label="easypost webhook", source="webhook")):
        return services.webhook_event_process(event_id=event_id)


@shared_task(
    acks_late=True,
    autoretry_for=(RetryableProviderError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=60,
)
def track_shipment(*, shipment_id: int) -> str:
    with audit_context(WORKER):
        return services.shipment_track(shipment_id=shipment_id).status


@shared_task(acks_late=True, soft_time_limit=120)
def poll_quiet_trackers() -> int:
    """Trackers with no news for ``QUIET_AFTER``: ask the carrier (webhooks can be lost)."""
    ids = selectors.shipments_gone_quiet(before=timezone.now() - QUIET_AFTER)
    for shipment_id in ids:
        track_shipment.delay(shipment_id=shipment_id)
    return len(ids)


@shared_task(acks_late=True, soft_time_limit=300)
def end_of_day_scan_forms() -> int:
    with audit_context(WORKER):
        return len(services.scanforms_end_of_day())
