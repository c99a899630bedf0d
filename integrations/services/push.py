"""Outbound: the push queue — stock levels, shipments and cancellations sent to the channels, retried, dead-lettered."""

from __future__ import annotations

import json
from functools import partial

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from integrations import ports, ratelimit
from integrations.base import (
    FulfillmentLine,
    RejectedProviderError,
    RetryableProviderError,
    StockUpdate,
    Tracking,
    connector_for,
)
from integrations.models import (
    ChannelConnection,
    ChannelListing,
    ChannelPush,
    DeadLetter,
    Platform,
)
from integrations.services.events import MAX_ATTEMPTS, E, S, _mark_broken, _mark_ok, event_log
from integrations.services.inbound import _safe_delay

# --- outbound: the push queue ---------------------------------------------------------------------------

_UPSERT_PUSH = """
INSERT INTO integrations_channelpush
    (merchant_id, connection_id, kind, key, payload, status, attempts, last_error, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, 'pending', 0, '', %s, %s)
ON CONFLICT (connection_id, key) DO UPDATE
    SET payload = EXCLUDED.payload, status = 'pending', attempts = 0, next_attempt_at = NULL,
        updated_at = EXCLUDED.updated_at
    WHERE integrations_channelpush.status <> 'pending' OR integrations_channelpush.payload <> EXCLUDED.payload
RETURNING id
"""


_INSERT_PUSH_ONCE = """
INSERT INTO integrations_channelpush
    (merchant_id, connection_id, kind, key, payload, status, attempts, last_error, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, 'pending', 0, '', %s, %s)
ON CONFLICT (connection_id, key) DO NOTHING
RETURNING id
"""


def push_schedule(*, connection: ChannelConnection, kind: str, key: str, payload: dict) -> int | None:
    """Queue an outbound change. Stock pushes coalesce: a change while one is pending is the same push, a
    change after it was sent queues it again (the latest figure is read at send time). Fulfillments and
    cancellations are sent once per key: a re-delivered event does not fulfil twice."""
    now = timezone.now()
    once = kind != ChannelPush.Kind.INVENTORY
    if db.vendor == "postgresql":
        with db.cursor() as cur:
            cur.execute(
                _INSERT_PUSH_ONCE if once else _UPSERT_PUSH,
                [connection.merchant_id, connection.pk, kind, key, json.dumps(payload), now, now],
            )
            row = cur.fetchone()
            push_id = row[0] if row else None
    elif once:
        push, created = ChannelPush.objects.get_or_create(
            connection=connection,
            key=key,
            defaults={"merchant_id": connection.merchant_id, "kind": kind, "payload": payload},
        )
        push_id = push.pk if created else None
    else:
        push, _ = ChannelPush.objects.update_or_create(
            connection=connection,
            key=key,
            defaults={
                "merchant_id": connection.merchant_id,
                "kind": kind,
                "payload": payload,
                "status": ChannelPush.Status.PENDING,
                "attempts": 0,
                "next_attempt_at": None,
            },
        )
        push_id = push.pk
    if push_id is not None:
        transaction.on_commit(partial(_enqueue_push, push_id=push_id))
    return push_id


def _enqueue_push(*, push_id: int) -> None:
    from integrations.tasks import push_send

    _safe_delay(push_send, push_id=push_id)


def live_connections(merchant_id: int):
    return ChannelConnection.objects.filter(merchant_id=merchant_id, status__in=[S.ACTIVE, S.ERROR, S.TEST])


def inventory_changed(*, merchant_id: int, product_id: int) -> int:
    """Outbox reaction to ``inventory.available_changed``: queue a stock push on every channel listing the
    product."""
    count = 0
    for conn in live_connections(merchant_id).filter(inventory_sync=True):
        if conn.inventory_products and product_id not in conn.inventory_products:
            continue
        if not ChannelListing.objects.filter(connection=conn, product_id=product_id, selected=True).exists():
            continue
        push_schedule(
            connection=conn,
            kind=ChannelPush.Kind.INVENTORY,
            key=f"inventory:{product_id}",
            payload={"product_id": product_id},
        )
        count += 1
    return count


def inventory_resync(*, connection: ChannelConnection) -> int:
    ids = list(
        ChannelListing.objects.filter(connection=connection, selected=True, product__isnull=False)
        .values_list("product_id", flat=True)
        .distinct()
    )
    for product_id in ids:
        push_schedule(
            connection=connection,
            kind=ChannelPush.Kind.INVENTORY,
            key=f"inventory:{product_id}",
            payload={"product_id": product_id},
        )
    return len(ids)


def _order_connection(order) -> ChannelConnection | None:
    if order is None or order.channel not in Platform.values:
        return None
    qs = live_connections(order.merchant_id).filter(platform=order.channel)
    if getattr(order, "channel_account", ""):
        qs = qs.filter(account_id=order.channel_account)
    return qs.order_by("pk").first()


def order_shipped(*, order_id: int, shipment_id: int | None = None) -> int | None:
    """Outbox reaction to ``order.shipped``: queue the fulfillment with tracking for the order's channel."""
    order = ports.order_get(order_id=order_id)
    conn = _order_connection(order)
    if conn is None:
        return None
    return push_schedule(
        connection=conn,
        kind=ChannelPush.Kind.FULFILLMENT,
        key=f"fulfillment:{order_id}:{shipment_id or 0}",
        payload={"order_id": order_id, "shipment_id": shipment_id, "external_id": order.external_id},
    )


CHANNEL_ORIGIN = "on the channel"  # the reasons we (and orders' import) give when the channel cancelled


def order_cancelled(*, order_id: int, reason: str = "", partial: bool = False) -> int | None:
    """Outbox reaction to ``order.cancelled``: tell the channel — unless the cancellation came from the
    channel itself (no echo), or only some lines were cancelled (logged for a person; platforms differ)."""
    order = ports.order_get(order_id=order_id)
    conn = _order_connection(order)
    if conn is None or not order.external_id:
        return None
    if CHANNEL_ORIGIN in (reason or ""):
        return None
    if partial:
        event_log(
            connection=conn,
            direction="out",
            kind="push cancellation",
            outcome=E.IGNORED,
            message=f"order {order.external_id}: some lines cancelled in Fulfil — adjust it on the channel",
            reference=f"cancellation:{order_id}",
        )
        return None
    return push_schedule(
        connection=conn,
        kind=ChannelPush.Kind.CANCELLATION,
        key=f"cancellation:{order_id}",
        payload={"order_id": order_id, "external_id": order.external_id},
    )


def _tracking_for(order, shipment_id) -> tuple[Tracking, list[FulfillmentLine]]:
    shipment = None
    shipments = getattr(order, "shipments", None)
    if shipments is not None:
        qs = shipments.all()
        shipment = qs.filter(pk=shipment_id).first() if shipment_id else qs.order_by("-pk").first()
    tracking = Tracking(
        carrier=str(getattr(shipment, "carrier", "") or ""),
        number=str(getattr(shipment, "tracking_number", "") or ""),
        url=str(getattr(shipment, "public_tracking_url", "") or getattr(shipment, "tracking_url", "") or ""),
        service=str(getattr(shipment, "service", "") or ""),
    )
    lines = [
        FulfillmentLine(
            sku=line.sku, quantity=int(line.quantity), external_line_id=line.external_line_id or ""
        )
        for line in order.lines.all()
    ]
    return tracking, lines


def _send(conn: ChannelConnection, push: ChannelPush, connector) -> str:
    if push.kind == ChannelPush.Kind.INVENTORY:
        product_id = push.payload["product_id"]
        listings = list(ChannelListing.objects.filter(connection=conn, product_id=product_id, selected=True))
        if not listings:
            return "no listing"
        product = listings[0].product
        figure = ports.available_to_sell(
            merchant=conn.merchant,
            product=product,
            channel=conn.platform,
            warehouses=[int(w) for w in conn.inventory_warehouses or []],
        )
        figure = max(0, figure - conn.inventory_buffer)
        connector.push_available(
            updates=[
                StockUpdate(
                    sku=lst.sku,
                    quantity=figure,
                    external_id=lst.external_id,
                    inventory_item_id=lst.inventory_item_id,
                    parent_id=lst.parent_id,
                )
                for lst in listings
            ]
        )
        ChannelListing.objects.filter(pk__in=[lst.pk for lst in listings]).update(last_pushed_quantity=figure)
        return f"{product.sku} = {figure}"
    order = ports.order_get(order_id=push.payload["order_id"])
    if order is None:
        return "order gone"
    if push.kind == ChannelPush.Kind.FULFILLMENT:
        tracking, lines = _tracking_for(order, push.payload.get("shipment_id"))
        ref = connector.push_fulfillment(order_external_id=order.external_id, lines=lines, tracking=tracking)
        return f"order {order.external_id} fulfilled ({tracking.carrier} {tracking.number}) {ref}"
    connector.push_cancellation(order_external_id=order.external_id, reason="Cancelled in Fulfil")
    return f"order {order.external_id} cancelled"


def push_send(*, push_id: int, connector=None) -> str:
    with transaction.atomic():
        push = ChannelPush.objects.select_for_update(skip_locked=True).filter(pk=push_id).first()
        if push is None:
            return "locked-or-missing"
        if push.status != ChannelPush.Status.PENDING:
            return push.status
        if push.next_attempt_at and push.next_attempt_at > timezone.now():
            return "not-yet"
        conn = push.connection
        if conn.status == S.DISABLED:
            push.status = ChannelPush.Status.DEAD
            push.last_error = "connection disabled"
            push.save()
            return push.status
        kind = f"push {push.kind}"
        try:
            connector = connector or connector_for(conn)
            connector.authenticate()
            message = _send(conn, push, connector)
        except RetryableProviderError as exc:
            push.attempts += 1
            push.last_error = str(exc)[:5000]
            if exc.status == 429 or exc.retry_after:
                ChannelConnection.objects.filter(pk=conn.pk).update(
                    rate_limited_until=ratelimit.until(exc.retry_after or 1)
                )
            if push.attempts >= MAX_ATTEMPTS:
                return _push_dead(push, conn, kind)
            push.next_attempt_at = ratelimit.until(ratelimit.backoff_seconds(push.attempts, exc.retry_after))
            push.save()
            event_log(
                connection=conn,
                direction="out",
                kind=kind,
                outcome=E.RETRY,
                message=str(exc),
                reference=push.key,
            )
            return "retry"
        except (RejectedProviderError, Exception) as exc:
            push.attempts += 1
            push.last_error = f"{type(exc).__name__}: {exc}"[:5000]
            return _push_dead(push, conn, kind)
        push.status = ChannelPush.Status.DONE
        push.sent_at = timezone.now()
        push.last_error = ""
        push.save()
        event_log(
            connection=conn, direction="out", kind=kind, outcome=E.OK, message=message, reference=push.key
        )
        _mark_ok(conn, last_push_at=push.sent_at)
        return push.status


def _push_dead(push: ChannelPush, conn: ChannelConnection, kind: str) -> str:
    push.status = ChannelPush.Status.DEAD
    push.save()
    DeadLetter.objects.create(
        merchant_id=conn.merchant_id,
        connection=conn,
        push=push,
        summary=f"{push.get_kind_display()} {push.key}",
        error=push.last_error,
    )
    event_log(
        connection=conn,
        direction="out",
        kind=kind,
        outcome=E.DEAD,
        message=push.last_error,
        reference=push.key,
    )
    _mark_broken(conn, f"A push failed: {push.last_error[:200]}")
    return push.status
