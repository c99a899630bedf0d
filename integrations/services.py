"""Writes for sales channels: connecting, settings, the webhook inbox, reconciliation polls, product fetch and
mapping, the outbound push queue, dead letters and privacy requests.

Connectors are passed in (``connector=``) so tests can hand in a fake; by default the registry builds one for
the connection. Orders enter the book only through ``orders.services.order_import`` (via ``ports``); stock
figures come only from inventory's ``available_to_sell``.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from functools import partial

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from integrations import ports, ratelimit
from integrations.base import (
    FulfillmentLine,
    ProviderError,
    RejectedProviderError,
    RetryableProviderError,
    StockUpdate,
    Tracking,
    connector_for,
)
from integrations.common import iso
from integrations.models import (
    ChannelConnection,
    ChannelEvent,
    ChannelListing,
    ChannelPush,
    DeadLetter,
    Platform,
    WebhookInbox,
)

log = logging.getLogger(__name__)

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


# --- connecting ---------------------------------------------------------------------------------------


def connection_create(
    *,
    merchant,
    platform: str,
    account_id: str,
    name: str = "",
    base_url: str = "",
    credentials: dict | None = None,
    access_token: str = "",
    refresh_token: str = "",
    webhook_secret: str = "",
    status: str = S.PENDING,
) -> ChannelConnection:
    if platform not in Platform.values:
        raise ValueError(f"unknown platform {platform!r}")
    account_id = account_id.strip()
    with transaction.atomic():
        conn = ChannelConnection.objects.create(
            merchant=merchant,
            platform=platform,
            account_id=account_id,
            name=name or account_id,
            base_url=base_url.strip().rstrip("/"),
            credentials=json.dumps(credentials or {}),
            access_token=access_token,
            refresh_token=refresh_token,
            webhook_secret=webhook_secret or secrets.token_urlsafe(24),
            status=status,
            oauth_state=secrets.token_urlsafe(24) if status == S.PENDING else "",
            connected_at=timezone.now() if status in (S.ACTIVE, S.TEST) else None,
            import_from=timezone.now() - RECONCILE_LOOKBACK,
        )
        audit_record(
            obj_type="channel_connection",
            obj_id=conn.pk,
            action="channel.connected" if status == S.ACTIVE else "channel.created",
            merchant_id=merchant.pk,
            after={"platform": platform, "account_id": account_id, "status": status},
        )
    return conn


def connection_credentials(connection: ChannelConnection) -> dict:
    try:
        return json.loads(connection.credentials or "{}")
    except ValueError:
        return {}


SETTING_FIELDS = (
    "name",
    "import_from",
    "import_statuses",
    "review",
    "inventory_sync",
    "inventory_warehouses",
    "inventory_buffer",
    "inventory_products",
    "shipping_map",
)


def connection_update_settings(*, connection: ChannelConnection, **changes) -> ChannelConnection:
    unknown = set(changes) - set(SETTING_FIELDS)
    if unknown:
        raise ValueError(f"not a setting: {sorted(unknown)}")
    before = {k: getattr(connection, k) for k in changes}
    with transaction.atomic():
        for key, value in changes.items():
            setattr(connection, key, value)
        connection.save(update_fields=[*changes, "updated_at"])
        audit_record(
            obj_type="channel_connection",
            obj_id=connection.pk,
            action="channel.settings_changed",
            merchant_id=connection.merchant_id,
            before=before,
            after=changes,
        )
        if (
            "inventory_buffer" in changes
            or "inventory_warehouses" in changes
            or "inventory_products" in changes
        ):
            inventory_resync(connection=connection)
    return connection


def connection_activate(
    *,
    connection: ChannelConnection,
    access_token: str = "",
    refresh_token: str = "",
    expires_at=None,
    scopes: str = "",
) -> ChannelConnection:
    """Authorised: store the tokens, mark connected and start the first import (after commit)."""
    with transaction.atomic():
        if access_token:
            connection.access_token = access_token
        if refresh_token:
            connection.refresh_token = refresh_token
        connection.token_expires_at = expires_at
        connection.scopes = scopes or connection.scopes
        connection.status = S.ACTIVE
        connection.status_reason = ""
        connection.oauth_state = ""
        connection.connected_at = timezone.now()
        connection.save()
        audit_record(
            obj_type="channel_connection",
            obj_id=connection.pk,
            action="channel.connected",
            merchant_id=connection.merchant_id,
            after={"platform": connection.platform, "account_id": connection.account_id},
        )
        transaction.on_commit(partial(_enqueue_first_import, connection_id=connection.pk))
    return connection


def _enqueue_first_import(*, connection_id: int) -> None:
    from integrations.tasks import connection_first_import

    _safe_delay(connection_first_import, connection_id=connection_id)


def connection_disable(*, connection: ChannelConnection, reason: str) -> ChannelConnection:
    """Uninstalled or revoked on the platform, or disconnected by the merchant: stop every sync, keep the
    history. Tokens are wiped (they no longer work)."""
    with transaction.atomic():
        locked = ChannelConnection.objects.select_for_update().get(pk=connection.pk)
        if locked.status == S.DISABLED:
            return locked
        before = {"status": locked.status}
        locked.status = S.DISABLED
        locked.status_reason = reason[:500]
        locked.access_token = ""
        locked.refresh_token = ""
        locked.token_expires_at = None
        locked.save()
        ChannelPush.objects.filter(connection=locked, status=ChannelPush.Status.PENDING).update(
            status=ChannelPush.Status.DEAD, last_error="connection disabled"
        )
        audit_record(
            obj_type="channel_connection",
            obj_id=locked.pk,
            action="channel.disabled",
            merchant_id=locked.merchant_id,
            before=before,
            after={"status": S.DISABLED},
            message=reason,
        )
        event_log(connection=locked, direction="in", kind="disconnect", outcome=E.OK, message=reason)
    return locked


def connection_test(*, connection: ChannelConnection, connector=None):
    connector = connector or connector_for(connection)
    check = connector.test_connection()
    with transaction.atomic():
        event_log(
            connection=connection,
            direction="out",
            kind="test",
            outcome=E.OK if check.ok else E.ERROR,
            message=check.message,
        )
        if check.ok:
            _mark_ok(connection)
        else:
            _mark_broken(connection, check.message)
    return check


def connection_first_import(*, connection: ChannelConnection, connector=None) -> dict:
    """Right after connecting: fetch products (with SKU suggestions) and import recent orders; the result is
    kept for the confirmation screen."""
    connector = connector or connector_for(connection)
    result: dict = {"at": timezone.now().isoformat()}
    from django.conf import settings

    try:
        if hasattr(connector, "register_fulfillment_service") and not connection.channel_location_id:
            location = connector.register_fulfillment_service(
                callback_url=f"{settings.SITE_URL}/integrations/shopify/fulfillment-service"
            )
            if location:
                ChannelConnection.objects.filter(pk=connection.pk).update(channel_location_id=location)
                connection.channel_location_id = location
        if hasattr(connector, "register_webhooks"):
            path = (
                f"/integrations/woocommerce/webhooks/{connection.pk}/"
                if connection.platform == Platform.WOOCOMMERCE
                else f"/integrations/{connection.platform}/webhooks/"
            )
            try:
                result["webhooks_created"] = connector.register_webhooks(address=settings.SITE_URL + path)
            except ProviderError as exc:  # the poll still finds every order; say so on the page
                result["webhooks_error"] = str(exc)
        result["products"] = products_fetch(connection=connection, connector=connector)
        result["orders"] = orders_reconcile(connection=connection, connector=connector)
        result["ok"] = True
    except ProviderError as exc:
        result.update(ok=False, error=str(exc))
    ChannelConnection.objects.filter(pk=connection.pk).update(first_import=result)
    connection.first_import = result
    return result


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


# --- products -------------------------------------------------------------------------------------------


def products_fetch(*, connection: ChannelConnection, connector=None) -> dict:
    """Fetch the channel's products into listings and suggest our product for each (SKU, then barcode)."""
    connector = connector or connector_for(connection)
    products = connector.fetch_products()
    ours = list(ports.products_for(merchant=connection.merchant).only("pk", "sku", "barcode"))
    by_sku = {p.sku.lower(): p for p in ours}
    by_barcode = {p.barcode: p for p in ours if p.barcode}
    new = matched = 0
    with transaction.atomic():
        for item in products:
            listing, created = ChannelListing.objects.get_or_create(
                connection=connection,
                external_id=item.external_id,
                defaults={"merchant_id": connection.merchant_id, "name": item.name[:255]},
            )
            new += created
            listing.parent_id = item.parent_id
            listing.inventory_item_id = item.inventory_item_id
            listing.sku = item.sku[:100]
            listing.barcode = item.barcode[:32]
            listing.name = item.name[:255]
            listing.price = item.price
            if listing.product_id is None:
                mapped = connection.sku_map.get(item.sku)
                product = (by_sku.get((mapped or item.sku).lower()) if (mapped or item.sku) else None) or (
                    by_barcode.get(item.barcode) if item.barcode else None
                )
                if product is not None:
                    listing.product = product
            matched += listing.product_id is not None
            listing.save()
        event_log(
            connection=connection,
            direction="in",
            kind="fetch products",
            outcome=E.OK,
            message=f"{len(products)} products, {new} new, {matched} matched to the catalog",
        )
    return {"fetched": len(products), "new": new, "matched": matched}


def suggestions_for(listing: ChannelListing) -> list:
    """Our products that look like this listing: same SKU (any case), same barcode, or a SKU containing it."""
    qs = ports.products_for(merchant=listing.merchant_id)
    found = []
    if listing.sku:
        found += list(qs.filter(sku__iexact=listing.sku)[:3])
    if listing.barcode:
        found += [p for p in qs.filter(barcode=listing.barcode)[:3] if p not in found]
    if listing.sku and len(found) < 3:
        found += [p for p in qs.filter(sku__icontains=listing.sku[:12])[:3] if p not in found]
    return found[:3]


def listing_map(*, listing: ChannelListing, product, selected: bool | None = None) -> ChannelListing:
    """Map a channel listing to our product (``None`` unmaps); the SKU map used for orders follows."""
    conn = listing.connection
    with transaction.atomic():
        before = {"product": listing.product_id, "selected": listing.selected}
        listing.product = product
        if selected is not None:
            listing.selected = selected
        listing.save()
        if listing.sku:
            sku_map = dict(conn.sku_map)
            if product is not None and product.sku != listing.sku:
                sku_map[listing.sku] = product.sku
            else:
                sku_map.pop(listing.sku, None)
            if sku_map != conn.sku_map:
                ChannelConnection.objects.filter(pk=conn.pk).update(sku_map=sku_map)
                conn.sku_map = sku_map
        audit_record(
            obj_type="channel_listing",
            obj_id=listing.pk,
            action="channel.listing_mapped",
            merchant_id=listing.merchant_id,
            before=before,
            after={"product": listing.product_id, "selected": listing.selected},
        )
        if listing.product_id and listing.selected:
            push_schedule(
                connection=conn,
                kind=ChannelPush.Kind.INVENTORY,
                key=f"inventory:{listing.product_id}",
                payload={"product_id": listing.product_id},
            )
    return listing


def products_import(*, connection: ChannelConnection, listing_ids: list[int]) -> dict:
    """Create catalog products (draft, through inventory's service) for unmapped listings."""
    created = skipped = 0
    errors: list[str] = []
    listings = list(
        ChannelListing.objects.for_merchant(connection.merchant_id)
        .filter(connection=connection, pk__in=listing_ids, product__isnull=True)
        .order_by("pk")
    )
    for listing in listings:
        if not listing.sku:
            skipped += 1
            errors.append(f"{listing.name}: no SKU on the channel")
            continue
        try:
            with transaction.atomic():
                product = ports.product_create(
                    merchant=connection.merchant,
                    sku=listing.sku,
                    name=listing.name,
                    barcode=listing.barcode,
                    value=listing.price,
                )
                listing_map(listing=listing, product=product, selected=True)
        except Exception as exc:
            errors.append(f"{listing.sku}: {exc}")
            continue
        created += 1
    event_log(
        connection=connection,
        direction="in",
        kind="import products",
        outcome=E.OK if not errors else E.ERROR,
        message=f"{created} products created, {skipped} skipped" + (f"; {errors[0]}" if errors else ""),
    )
    return {"created": created, "skipped": skipped, "errors": errors}


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


# The inbox and its drain live in ``integrations.inbox``; their services stay reachable here (callers and
# tests use ``services.webhook_accept`` and friends). Resolved lazily: ``inbox`` imports this module.
_INBOX_NAMES = frozenset(
    {"webhook_accept", "inbox_drain", "inbox_process", "inbox_process_many", "kick_drain"}
)


def __getattr__(name: str):
    if name in _INBOX_NAMES:
        from integrations import inbox

        return getattr(inbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
