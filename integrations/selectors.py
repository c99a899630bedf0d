"""Reads for sales channels: connections, health figures, logs."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from integrations import ratelimit
from integrations.models import ChannelConnection, ChannelEvent, ChannelPush, DeadLetter, WebhookInbox


def has_connected_channel(merchant) -> bool:
    return (
        ChannelConnection.objects.for_merchant(merchant)
        .filter(status__in=[ChannelConnection.Status.ACTIVE, ChannelConnection.Status.ERROR])
        .exists()
    )


def connection_list(*, merchant):
    return ChannelConnection.objects.for_merchant(merchant).exclude(status=ChannelConnection.Status.DISABLED)


def connection_health(*, connection: ChannelConnection) -> dict:
    """The health page's figures: last successful sync each way, orders imported today, webhook lag, errors,
    dead letters, queue depth and rate-limit state."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    events = ChannelEvent.objects.filter(connection=connection)
    last_in = events.filter(direction="in", outcome="ok").aggregate(at=Max("created_at"))["at"]
    last_out = (
        events.filter(direction="out", outcome="ok")
        .exclude(kind="test")
        .aggregate(at=Max("created_at"))["at"]
    )
    inbox = WebhookInbox.objects.filter(connection=connection)
    recent = list(
        inbox.filter(status="done", processed_at__gte=now - timedelta(hours=1))
        .order_by("-pk")
        .values_list("received_at", "processed_at")[:200]
    )
    lags = sorted((done - got).total_seconds() for got, done in recent if done and got)
    from orders.models import Order

    orders_today = Order.objects.filter(
        merchant_id=connection.merchant_id,
        channel=connection.platform,
        channel_account=connection.account_id,
        created_at__gte=today,
    ).count()
    counts = events.filter(created_at__gte=now - timedelta(hours=24)).aggregate(
        errors=Count("pk", filter=Q(outcome__in=["error", "dead"])),
        retries=Count("pk", filter=Q(outcome="retry")),
    )
    return {
        "last_inbound_ok": last_in,
        "last_outbound_ok": last_out,
        "last_order_sync_at": connection.last_order_sync_at,
        "last_webhook_at": connection.last_webhook_at,
        "orders_today": orders_today,
        "webhook_lag_median_s": round(lags[len(lags) // 2], 2) if lags else None,
        "webhook_lag_max_s": round(lags[-1], 2) if lags else None,
        "inbox_pending": inbox.filter(status__in=["pending", "failed"]).count(),
        "pushes_pending": ChannelPush.objects.filter(connection=connection, status="pending").count(),
        "errors_24h": counts["errors"],
        "retries_24h": counts["retries"],
        "dead_letters_open": DeadLetter.objects.filter(connection=connection, status="open").count(),
        "rate_limited_until": connection.rate_limited_until
        if connection.rate_limited_until and connection.rate_limited_until > now
        else None,
        "bucket": ratelimit.state(connection_id=connection.pk, platform=connection.platform),
        "graphql_throttle": (connection.rate_state or {}).get("graphql"),
    }
