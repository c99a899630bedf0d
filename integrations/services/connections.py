"""Connecting a channel: create, credentials, settings, activate (first import), disable, test."""

from __future__ import annotations

import json
import secrets
from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from integrations.base import (
    ProviderError,
    connector_for,
)
from integrations.models import (
    ChannelConnection,
    ChannelPush,
    Platform,
)
from integrations.services.events import RECONCILE_LOOKBACK, E, S, _mark_broken, _mark_ok, event_log
from integrations.services.inbound import _safe_delay, orders_reconcile
from integrations.services.products import products_fetch
from integrations.services.push import inventory_resync

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
