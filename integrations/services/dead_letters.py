"""Dead letters (replay, dismiss), the sweeper of overdue work and the lag alerts."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from integrations.models import (
    ChannelConnection,
    ChannelPush,
    DeadLetter,
    WebhookInbox,
)
from integrations.services.events import E, S, event_log
from integrations.services.inbound import _enqueue_inbox
from integrations.services.push import _enqueue_push

# --- dead letters and sweeping ----------------------------------------------------------------------------


def dead_letter_replay(*, dead_letter: DeadLetter) -> DeadLetter:
    with transaction.atomic():
        dl = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        if dl.status != DeadLetter.Status.OPEN:
            return dl
        if dl.inbox_id:
            WebhookInbox.objects.filter(pk=dl.inbox_id).update(
                status=WebhookInbox.Status.PENDING, attempts=0, next_attempt_at=None
            )
            transaction.on_commit(partial(_enqueue_inbox, inbox_id=dl.inbox_id))
        if dl.push_id:
            ChannelPush.objects.filter(pk=dl.push_id).update(
                status=ChannelPush.Status.PENDING, attempts=0, next_attempt_at=None
            )
            transaction.on_commit(partial(_enqueue_push, push_id=dl.push_id))
        dl.status = DeadLetter.Status.REPLAYED
        dl.resolved_at = timezone.now()
        dl.save()
        audit_record(
            obj_type="dead_letter",
            obj_id=dl.pk,
            action="channel.dead_letter_replayed",
            merchant_id=dl.merchant_id,
            message=dl.summary,
        )
    return dl


def dead_letter_dismiss(*, dead_letter: DeadLetter) -> DeadLetter:
    with transaction.atomic():
        DeadLetter.objects.filter(pk=dead_letter.pk, status=DeadLetter.Status.OPEN).update(
            status=DeadLetter.Status.DISMISSED, resolved_at=timezone.now()
        )
        audit_record(
            obj_type="dead_letter",
            obj_id=dead_letter.pk,
            action="channel.dead_letter_dismissed",
            merchant_id=dead_letter.merchant_id,
            message=dead_letter.summary,
        )
    dead_letter.refresh_from_db()
    return dead_letter


def sweep_due(*, older_than_seconds: int = 10, limit: int = 1000) -> tuple[list[int], list[int]]:
    """Inbox rows and pushes whose processing is overdue (a lost task, or their retry time reached)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    inbox = list(
        WebhookInbox.objects.filter(
            status__in=[WebhookInbox.Status.PENDING, WebhookInbox.Status.FAILED], received_at__lte=cutoff
        )
        .exclude(next_attempt_at__gt=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    pushes = list(
        ChannelPush.objects.filter(status=ChannelPush.Status.PENDING, updated_at__lte=cutoff)
        .exclude(next_attempt_at__gt=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return inbox, pushes


def alerts_check(*, after_minutes: int | None = None) -> list[int]:
    """Connections broken for more than N minutes get one alert email to the merchant's owners."""
    from django.core.mail import send_mail

    from integrations import conf

    minutes = (
        after_minutes if after_minutes is not None else int(conf.get("CHANNEL_ALERT_AFTER_MINUTES") or 30)
    )
    cutoff = timezone.now() - timedelta(minutes=minutes)
    alerted = []
    for conn in ChannelConnection.objects.filter(
        status=S.ERROR, broken_since__lte=cutoff, alerted_at__isnull=True
    ).select_related("merchant"):
        emails = [m.user.email for m in conn.merchant.memberships.select_related("user") if m.user.email]
        if emails:
            send_mail(
                f"[Fulfil] {conn} needs attention",
                f"Your {conn.get_platform_display()} connection {conn.display_name} has not synced since "
                f"{conn.broken_since:%Y-%m-%d %H:%M} UTC.\n\nReason: {conn.status_reason}\n\n"
                "Open Integrations in Fulfil to see its health page, test the connection or reconnect.",
                None,
                emails,
                fail_silently=True,
            )
        ChannelConnection.objects.filter(pk=conn.pk).update(alerted_at=timezone.now())
        event_log(
            connection=conn,
            direction="out",
            kind="alert",
            outcome=E.OK,
            message=f"alert sent to {len(emails)} people",
        )
        alerted.append(conn.pk)
    return alerted
