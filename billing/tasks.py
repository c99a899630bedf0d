"""Thin Celery tasks: cycle-end invoicing, payment retries (dunning), the nightly storage run."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from billing import services
from billing.exceptions import RetryableProviderError
from fulfil.audit import Actor, audit_context

WORKER = Actor(label="billing worker", source="worker")


@shared_task(acks_late=True, time_limit=1800)
def invoices_issue_due_task() -> int:
    """Month-end commitment shortfalls first, so a missed commitment lands on the invoice of its month."""
    with audit_context(WORKER):
        services.commitment_periods_close()
        return len(services.invoices_issue_due())


@shared_task(acks_late=True, time_limit=1800)
def commitment_periods_close_task() -> int:
    with audit_context(WORKER):
        return len(services.commitment_periods_close())


@shared_task(acks_late=True, time_limit=600)
def invoices_retry_due_task() -> int:
    with audit_context(WORKER):
        return len(services.invoices_retry_due())


@shared_task(
    acks_late=True, time_limit=120, autoretry_for=(RetryableProviderError,), retry_backoff=True, max_retries=5
)
def invoice_collect_task(*, invoice_id: int) -> None:
    with audit_context(WORKER):
        services.invoice_collect(invoice_id=invoice_id)


@shared_task(
    acks_late=True, time_limit=120, autoretry_for=(RetryableProviderError,), retry_backoff=True, max_retries=8
)
def payment_method_detach_task(*, method_id: int) -> bool:
    return services.payment_method_detach(method_id=method_id)


@shared_task(acks_late=True, time_limit=1800)
def storage_charge_nightly_task(day: str | None = None) -> int:
    """Bills yesterday's storage-days (idempotent: running it twice bills once)."""
    from datetime import date

    target = date.fromisoformat(day) if day else timezone.now().date() - timedelta(days=1)
    with audit_context(WORKER):
        return services.storage_charge_day(day=target)
