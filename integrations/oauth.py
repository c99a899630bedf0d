"""OAuth consent for the marketplaces (Amazon SP-API, eBay): the one-time state nonce kept in the merchant's
session, and storing what the platform granted as a connection.

The nonce binds the callback to the browser session, the merchant and the platform that started it, and
lives ``STATE_TTL`` seconds; it is used once (popped whatever the outcome). A callback without the right
state stores nothing. Shopify's install flow keeps its own (HMAC-checked) state on the pending connection.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time

from django.db import transaction

from fulfil.audit import audit_record
from integrations import services
from integrations.base import ConnectionCheck, ProviderError
from integrations.models import ChannelConnection

SESSION_KEY = "channel_oauth"
STATE_TTL = 15 * 60  # Amazon's code lives 5 minutes after consent; the consent screen itself takes a while


class OAuthRefused(Exception):
    """The authorisation cannot be used; the message is shown to the merchant as it is."""


def oauth_begin(*, session, merchant, platform: str, **extra) -> str:
    """A fresh state nonce for ``platform``, remembered in the session with ``extra`` (e.g. the marketplace)."""
    state = secrets.token_urlsafe(32)
    pending = dict(session.get(SESSION_KEY) or {})
    pending[platform] = {"state": state, "merchant_id": merchant.pk, "at": time.time(), **extra}
    session[SESSION_KEY] = pending
    return state


def oauth_check(*, session, merchant, platform: str, state: str) -> dict:
    """The remembered start of this flow when ``state`` matches it (once); else ``OAuthRefused``."""
    pending = dict(session.get(SESSION_KEY) or {})
    started = pending.pop(platform, None)
    session[SESSION_KEY] = pending
    if (
        not started
        or not state
        or not hmac.compare_digest(str(started.get("state", "")), state)
        or started.get("merchant_id") != merchant.pk
    ):
        raise OAuthRefused(
            "This authorisation did not start here (or was already used), so we did not connect anything. "
            "Please start again from Integrations."
        )
    if time.time() - float(started.get("at") or 0) > STATE_TTL:
        raise OAuthRefused(
            "This authorisation took too long and expired. Please start again from Integrations."
        )
    return started


def channel_authorized(
    *,
    merchant,
    platform: str,
    account_id: str,
    name: str = "",
    base_url: str = "",
    credentials: dict | None = None,
    access_token: str = "",
    refresh_token: str = "",
    expires_at=None,
    refresh_expires_at=None,
    scopes: str = "",
    connector=None,
) -> tuple[ChannelConnection, ConnectionCheck]:
    """Store the granted tokens on the merchant's connection to ``account_id`` (a new one, or the live one when
    they re-authorise), test it and, when the test passes, mark it connected (the first import starts)."""
    taken = (
        ChannelConnection.objects.filter(platform=platform, account_id=account_id)
        .exclude(status=ChannelConnection.Status.DISABLED)
        .exclude(merchant=merchant)
        .exists()
    )
    if taken:
        raise OAuthRefused(
            "This account is already connected to another Fulfil merchant, so we did not connect it."
        )
    with transaction.atomic():
        conn = (
            ChannelConnection.objects.for_merchant(merchant)
            .filter(platform=platform, account_id=account_id)
            .exclude(status=ChannelConnection.Status.DISABLED)
            .select_for_update()
            .first()
        )
        if conn is None:
            conn = services.connection_create(
                merchant=merchant,
                platform=platform,
                account_id=account_id,
                name=name,
                base_url=base_url,
                credentials=credentials,
            )
        else:
            merged = {**services.connection_credentials(conn), **(credentials or {})}
            conn.credentials = json.dumps(merged)
            conn.base_url = base_url.rstrip("/") or conn.base_url
            conn.save(update_fields=["credentials", "base_url", "updated_at"])
        conn.access_token = access_token or conn.access_token
        conn.refresh_token = refresh_token or conn.refresh_token
        conn.token_expires_at = expires_at
        conn.refresh_token_expires_at = refresh_expires_at
        conn.save(
            update_fields=[
                "access_token",
                "refresh_token",
                "token_expires_at",
                "refresh_token_expires_at",
                "updated_at",
            ]
        )
        audit_record(
            obj_type="channel_connection",
            obj_id=conn.pk,
            action="channel.authorised",
            merchant_id=conn.merchant_id,
            after={"platform": platform, "account_id": account_id, "scopes": scopes},
            message=f"{conn.get_platform_display()} authorised Fulfil (tokens stored encrypted)",
        )
    try:
        check = services.connection_test(connection=conn, connector=connector)
    except ProviderError as exc:
        check = ConnectionCheck(False, f"We could not check the connection: {exc}")
    if check.ok:
        services.connection_activate(
            connection=conn,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            scopes=scopes,
        )
        ChannelConnection.objects.filter(pk=conn.pk).update(refresh_token_expires_at=refresh_expires_at)
        conn.refresh_token_expires_at = refresh_expires_at
    return conn, check
