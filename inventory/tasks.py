"""Inventory's Celery tasks: thin, take ids, call a service."""

from celery import shared_task


@shared_task(acks_late=True, time_limit=60)
def low_stock_email(*, alert_id: int) -> None:
    from inventory.notifications import low_stock_email_send

    low_stock_email_send(alert_id=alert_id)
