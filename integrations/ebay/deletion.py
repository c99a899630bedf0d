"""eBay marketplace account deletion/closure notifications (mandatory for every eBay app): the endpoint
validation challenge, the ``X-EBAY-SIGNATURE`` check (ECDSA with the public key eBay's Notification API serves
for the key id in the header, cached an hour) and the redaction of the deleted user's data.

Settings: ``EBAY_DELETION_VERIFICATION_TOKEN`` (32-80 characters, chosen by us and entered in eBay's developer
portal), ``EBAY_DELETION_ENDPOINT`` (the exact https URL entered there; it is part of the challenge hash),
``EBAY_CLIENT_ID``/``EBAY_CLIENT_SECRET`` (the application token for the public key), ``EBAY_API_BASE`` (tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.cache import cache
from django.db import transaction

from integrations import conf
from integrations.base import ProviderError, WebhookSignatureError
from integrations.http import HttpTransport, basic_auth

TOPIC = "MARKETPLACE_ACCOUNT_DELETION"
KEY_CACHE_SECONDS = 3600
APP_SCOPE = "https://api.ebay.com/oauth/api_scope"


def challenge_response(*, challenge_code: str, endpoint: str) -> str:
    """eBay's endpoint validation: hex SHA-256 of challenge code + verification token + endpoint URL."""
    token = conf.get("EBAY_DELETION_VERIFICATION_TOKEN")
    return hashlib.sha256((challenge_code + token + endpoint).encode()).hexdigest()


@dataclass(frozen=True)
class DeletionNotice:
    notification_id: str
    username: str
    user_id: str
    eias_token: str


def verify(*, signature_header: str, body: bytes) -> DeletionNotice:
    """Check ``X-EBAY-SIGNATURE`` over the raw body and read the notice; ``WebhookSignatureError`` if anything
    does not hold (the caller answers 412 and stores nothing)."""
    try:
        header = json.loads(base64.b64decode(signature_header, validate=True))
        kid, signature = str(header["kid"]), base64.b64decode(header["signature"])
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise WebhookSignatureError("unreadable X-EBAY-SIGNATURE") from exc
    if str(header.get("alg", "ecdsa")).lower() != "ecdsa":
        raise WebhookSignatureError(f"unsupported signature algorithm {header.get('alg')!r}")
    digest = hashes.SHA256() if str(header.get("digest", "SHA1")).upper() == "SHA256" else hashes.SHA1()  # noqa: S303 - eBay signs with ECDSA/SHA1
    try:
        key = load_pem_public_key(_pem(public_key(kid=kid)).encode())
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise WebhookSignatureError("eBay's key is not an EC key")
        key.verify(signature, body, ec.ECDSA(digest))
    except InvalidSignature as exc:
        raise WebhookSignatureError("bad X-EBAY-SIGNATURE") from exc
    except ValueError as exc:
        raise WebhookSignatureError(f"unusable eBay public key: {exc}") from exc
    try:
        payload = json.loads(body)
        notification = payload["notification"]
        data = notification.get("data") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookSignatureError("not an eBay notification") from exc
    if (payload.get("metadata") or {}).get("topic") != TOPIC:
        raise WebhookSignatureError("not a marketplace account deletion notification")
    return DeletionNotice(
        notification_id=str(notification.get("notificationId") or ""),
        username=str(data.get("username") or ""),
        user_id=str(data.get("userId") or ""),
        eias_token=str(data.get("eiasToken") or ""),
    )


def public_key(*, kid: str) -> str:
    """The PEM key eBay signs with for ``kid`` (Notification API ``getPublicKey``), cached an hour."""
    cache_key = f"integrations:ebay:public-key:{hashlib.sha256(kid.encode()).hexdigest()}"
    key = cache.get(cache_key)
    if key:
        return key
    from integrations.ebay.oauth import api_base

    http = HttpTransport(base_url=api_base(), platform="ebay", connection_id=None)
    try:
        token = http.request(
            "POST",
            "/identity/v1/oauth2/token",
            label="eBay sign-in",
            data={"grant_type": "client_credentials", "scope": APP_SCOPE},
            headers={
                "Authorization": basic_auth(conf.get("EBAY_CLIENT_ID"), conf.get("EBAY_CLIENT_SECRET")),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ).json()["access_token"]
        key = http.request(
            "GET",
            f"/commerce/notification/v1/public_key/{kid}",
            label="eBay notification key",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ).json()["key"]
    except (ProviderError, KeyError, ValueError) as exc:
        raise WebhookSignatureError(f"could not fetch eBay's public key: {exc}") from exc
    finally:
        http.close()
    cache.set(cache_key, key, KEY_CACHE_SECONDS)
    return key


def _pem(key: str) -> str:
    """eBay serves the PEM on one line; put the base64 body back on lines of 64."""
    body = re.sub(r"-----(BEGIN|END) PUBLIC KEY-----|\s", "", key)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def account_deletion_record(*, notice: DeletionNotice) -> int:
    """Every merchant's eBay orders of the deleted user get a privacy request and a queued redaction (the
    ``privacy.redact_requested`` outbox event the order book handles); a merchant's own eBay connection under
    that user forgets its tokens. Idempotent on the notification id. Returns how many requests were recorded."""
    from fulfil import outbox
    from fulfil.audit import audit_record
    from integrations.models import ChannelConnection, PrivacyRequest
    from orders.models import Order

    if not notice.username and not notice.user_id:
        return 0
    who = [v for v in (notice.username, notice.user_id) if v]
    orders = Order.objects.filter(channel="ebay", raw__buyer__username__in=who).values_list(
        "merchant_id", "external_id", "pk", "channel_account"
    )
    by_merchant: dict[int, list[tuple[str, int, str]]] = {}
    for merchant_id, external_id, pk, account in orders:
        by_merchant.setdefault(merchant_id, []).append((external_id, pk, account))
    recorded = 0
    with transaction.atomic():
        for merchant_id, rows in sorted(by_merchant.items()):
            event_id = f"{notice.notification_id}:{merchant_id}"
            if PrivacyRequest.objects.filter(platform="ebay", event_id=event_id).exists():
                continue  # a re-delivery
            conn = (
                ChannelConnection.objects.filter(merchant_id=merchant_id, platform="ebay")
                .filter(account_id__in={a for _, _, a in rows})
                .order_by("-pk")
                .first()
            ) or ChannelConnection.objects.filter(merchant_id=merchant_id, platform="ebay").order_by(
                "-pk"
            ).first()
            req = PrivacyRequest.objects.create(
                merchant_id=merchant_id,
                connection=conn,
                platform="ebay",
                kind=PrivacyRequest.Kind.CUSTOMER_REDACT,
                order_ids=[ext for ext, _, _ in rows],
                event_id=event_id[:255],
                deferred_order_ids=[pk for _, pk, _ in rows],
                result=f"eBay account deletion: {len(rows)} orders queued for redaction",
            )
            outbox.emit(
                "privacy.redact_requested",
                {
                    "merchant_id": merchant_id,
                    "channel": "ebay",
                    "external_ids": [ext for ext, _, _ in rows],
                    "reason": "eBay marketplace account deletion",
                    "privacy_request_id": req.pk,
                },
                merchant_id=merchant_id,
            )
            audit_record(
                obj_type="privacy_request",
                obj_id=req.pk,
                action="privacy.ebay_account_deletion",
                merchant_id=merchant_id,
                message=req.result,
            )
            recorded += 1
        for conn in ChannelConnection.objects.filter(platform="ebay", account_id__in=who).exclude(
            access_token="", refresh_token="", credentials=""
        ):
            from integrations import services

            if conn.status != ChannelConnection.Status.DISABLED:
                services.connection_disable(connection=conn, reason="The eBay account was deleted on eBay")
            ChannelConnection.objects.filter(pk=conn.pk).update(
                access_token="", refresh_token="", credentials=""
            )
            audit_record(
                obj_type="channel_connection",
                obj_id=conn.pk,
                action="channel.account_deleted",
                merchant_id=conn.merchant_id,
                message="eBay marketplace account deletion: tokens forgotten, connection disconnected",
            )
    return recorded
