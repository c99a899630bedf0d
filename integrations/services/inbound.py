"""Inbound: the webhook helpers (the inbox and its drain live in ``integrations.inbox``) and orders from channels — ingest, status mapping, reconciliation polls, fulfillment-order requests."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from integrations import ports
from integrations.base import (
    ProviderError,
    RejectedProviderError,
    RetryableProviderError,
    connector_for,
)
from integrations.common import iso
from integrations.models import (
    ChannelConnection,
)
from integrations.services.events import RECONCILE_LOOKBACK, E, _mark_broken, _mark_ok, event_log

log = logging.getLogger("integrations.services")


# --- inbound: webhooks (the inbox and its drain live in integrations/inbox.py) ----------------------


def _safe_delay(task, **kwargs) -> None:
    try:
        task.apply_async(kwargs=kwargs)
    except Exception:  # broker down: the sweeper picks the row up
        log.warning(
            "integrations: could not enqueue %s %s; the sweeper will", task.name, kwargs, exc_info=True
        )


def _enqueue_inbox(*, inbox_id: int) -> None:
    from integrations.tasks import inbox_process

    _safe_delay(inbox_process, inbox_id=inbox_id)


# --- inbound: orders ----------------------------------------------------------------------------------

STATUS_KEYS = {
    "shopify": "financial_status",
    "woocommerce": "status",
    "amazon": "OrderStatus",
    "ebay": "orderFulfillmentStatus",
    "walmart": "status",
}


def channel_status(platform: str, raw: dict) -> str:
    return str((raw or {}).get(STATUS_KEYS.get(platform, "status")) or "")


def channel_order_ingest(*, connection: ChannelConnection, order) -> tuple[object | None, bool, str]:
    """Apply the connection's import settings (from date, statuses, SKU mapping, review) and hand the order
    to ``order_import``. Returns (order or None, created, note)."""
    existing = ports.order_find(
        merchant=connection.merchant, channel=order.channel, external_id=order.external_id
    )
    order, note = _ingest_prepare(connection, order, exists=existing is not None)
    if order is None:
        return None, False, note
    result, created = ports.order_import(merchant=connection.merchant, order=order)
    if created and connection.review == ChannelConnection.Review.HOLD:
        ports.order_hold(order=result, reason="Held for review (channel setting)")
    return result, created, _ingest_note(order, created)


def _ingest_prepare(connection: ChannelConnection, order, *, exists: bool):
    """The connection's settings applied to one channel order: ``(order to import, "")`` or ``(None, why
    it is skipped)``. An order we already have is always updated (its cancellation too)."""
    import dataclasses

    if not exists:
        if order.status == "cancelled":
            return None, "cancelled before we imported it: skipped"
        if connection.import_from and order.placed_at and order.placed_at < connection.import_from:
            return None, "placed before the import-from date: skipped"
        wanted = [s.lower() for s in connection.import_statuses or []]
        if wanted and channel_status(connection.platform, order.raw).lower() not in wanted:
            return None, f"status {channel_status(connection.platform, order.raw)!r} not imported"
    if connection.sku_map:
        lines = tuple(
            dataclasses.replace(line, sku=connection.sku_map.get(line.sku, line.sku)) for line in order.lines
        )
        order = dataclasses.replace(order, lines=lines)
    if not order.channel_account:
        order = dataclasses.replace(order, channel_account=connection.account_id)
    return order, ""


def _ingest_note(order, created: bool) -> str:
    return ("imported" if created else "updated") + f" order {order.number or order.external_id}"


def orders_reconcile(*, connection: ChannelConnection, connector=None) -> dict:
    """Poll the platform from the stored cursor and import what webhooks missed (idempotent)."""
    connector = connector or connector_for(connection)
    cursor = connection.cursor or iso(connection.import_from or timezone.now() - RECONCILE_LOOKBACK)
    try:
        connector.authenticate()
        page = connector.fetch_orders(cursor=cursor)
    except ProviderError as exc:
        outcome = E.RETRY if isinstance(exc, RetryableProviderError) else E.ERROR
        event_log(
            connection=connection, direction="in", kind="poll orders", outcome=outcome, message=str(exc)
        )
        if isinstance(exc, RejectedProviderError):
            _mark_broken(connection, str(exc))
        raise
    created = updated = skipped = failed = 0
    for order in page.orders:
        try:
            with transaction.atomic():
                result, was_created, _note = channel_order_ingest(connection=connection, order=order)
        except Exception as exc:
            failed += 1
            event_log(
                connection=connection,
                direction="in",
                kind="poll order",
                outcome=E.ERROR,
                message=f"{type(exc).__name__}: {exc}",
                reference=order.external_id,
            )
            continue
        if result is None:
            skipped += 1
        elif was_created:
            created += 1
        else:
            updated += 1
    ChannelConnection.objects.filter(pk=connection.pk).update(cursor=page.cursor)
    connection.cursor = page.cursor
    summary = {
        "fetched": len(page.orders),
        "created": created,
        "updated": updated,
        "skipped": skipped,
        "failed": failed,
    }
    event_log(
        connection=connection,
        direction="in",
        kind="poll orders",
        outcome=E.OK if not failed else E.ERROR,
        message=f"{len(page.orders)} fetched, {created} new, {updated} updated, {skipped} skipped, {failed} failed",
    )
    _mark_ok(connection, last_order_sync_at=timezone.now())
    return summary


def fulfillment_order_event(
    *,
    connection: ChannelConnection,
    kind: str,
    connector,
    order_external_id: str = "",
    fulfillment_order_id: str = "",
    **_extra,
) -> tuple[str, str]:
    """Shopify fulfillment-order requests: accept fulfillment requests (importing the order if needed),
    honour cancellation requests when the warehouse has not started, mirror holds and moves."""
    order = ports.order_find(
        merchant=connection.merchant, channel=connection.platform, external_id=order_external_id
    )
    if kind == "fulfillment_request":
        if order is None and hasattr(connector, "fetch_order"):
            order, _created, _note = channel_order_ingest(
                connection=connection, order=connector.fetch_order(order_external_id=order_external_id)
            )
        connector.accept_fulfillment_request(fulfillment_order_id=fulfillment_order_id)
        return E.OK, f"accepted fulfillment request {fulfillment_order_id}"
    if order is None:
        return E.IGNORED, f"no order {order_external_id} in the book"
    if kind == "cancellation_request":
        try:
            with transaction.atomic():
                ports.order_cancel(order=order, reason="cancellation requested on the channel")
        except Exception as exc:
            connector.reject_cancellation_request(
                fulfillment_order_id=fulfillment_order_id, message=f"Already in the warehouse: {exc}"
            )
            return E.OK, "cancellation request rejected: already in progress"
        connector.accept_cancellation_request(fulfillment_order_id=fulfillment_order_id)
        return E.OK, "cancellation request accepted"
    if kind == "hold":
        ports.order_hold(order=order, reason="Held on the channel")
        return E.OK, "order held"
    if kind == "unhold":
        ports.order_unhold(order=order)
        return E.OK, "hold released"
    if kind in ("moved", "cancelled"):
        try:
            with transaction.atomic():
                ports.order_cancel(order=order, reason=f"fulfillment order {kind} on the channel")
        except Exception as exc:
            return E.ERROR, f"could not cancel after {kind}: {exc}"
        return E.OK, f"order cancelled ({kind} away from Fulfil)"
    return E.IGNORED, kind
