from celery import shared_task

from fulfil import outbox


@shared_task(acks_late=True, time_limit=120)
def outbox_dispatch(*, event_id: int) -> str:
    return outbox.dispatch(event_id)


@shared_task(acks_late=True, time_limit=300)
def outbox_drain() -> int:
    return outbox.drain()


@shared_task(acks_late=True, time_limit=120)
def outbox_sweep() -> int:
    ids = outbox.sweep()
    for event_id in ids:
        outbox_dispatch.delay(event_id=event_id)
    return len(ids)
