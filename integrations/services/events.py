"""The channel event log (every webhook, poll and push, with its outcome) and a connection's health stamps."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from integrations.models import (
    ChannelConnection,
    ChannelEvent,
)

MAX_ATTEMPTS = 8
RECONCILE_LOOKBACK = timedelta(days=7)
S = ChannelConnection.Status
E = ChannelEvent.Outcome


# --- the event log ------------------------------------------------------------------------------------


def event_log(
    *,
    connection: ChannelConnection,
    direction: str,
    kind: str,
    outcome: str,
    message: str = "",
    reference: str = "",
) -> ChannelEvent:
    return ChannelEvent.objects.create(
        merchant_id=connection.merchant_id,
        connection=connection,
        direction=direction,
        kind=kind[:100],
        outcome=outcome,
        message=message[:500],
        reference=str(reference)[:200],
    )


def _mark_ok(connection: ChannelConnection, **stamps) -> None:
    fields = dict(stamps)
    if connection.status == S.ERROR:
        fields.update(status=S.ACTIVE, status_reason="", broken_since=None, alerted_at=None)
    if fields:
        ChannelConnection.objects.filter(pk=connection.pk).update(**fields)
        for key, value in fields.items():
            setattr(connection, key, value)


def _mark_broken(connection: ChannelConnection, reason: str) -> None:
    now = timezone.now()
    fields = {"status_reason": reason[:500]}
    if connection.status in (S.ACTIVE, S.PENDING):
        fields["status"] = S.ERROR
    if connection.broken_since is None:
        fields["broken_since"] = now
    ChannelConnection.objects.filter(pk=connection.pk).update(**fields)
    for key, value in fields.items():
        setattr(connection, key, value)
