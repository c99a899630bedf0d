"""EasyPost webhooks: verify the HMAC signature, dedupe on the event id, enqueue processing.

EasyPost signs the raw body: ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256(key=NFKD(secret) as UTF-8,
msg=body)>``. We compare in constant time against every configured secret (the operator's, from the
``EASYPOST_WEBHOOK_SECRET`` setting, and each account's own)."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from ..base import WebhookNotice
from . import mapper

PREFIX = "hmac-sha256-hex="


def signature(body: bytes, secret: str) -> str:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: list[str]) -> bool:
    if not header or not header.startswith(PREFIX):
        return False
    ok = False
    for secret in secrets:
        if secret and hmac.compare_digest(signature(body, secret), header.strip()):
            ok = True
    return ok


def parse(payload: dict) -> WebhookNotice:
    """An EasyPost Event body as a ``WebhookNotice``; raises ValueError for a body that is not an Event."""
    event_id, description, result = mapper.event_summary(payload)
    if not event_id:
        raise ValueError("EasyPost Event without an id")
    kind = "other"
    tracking = None
    shipment_id = ""
    refund_status = ""
    if description.startswith("tracker.") and result.get("object") == "Tracker":
        kind = "tracking"
        tracking = mapper.tracking_from_ep(result)
        shipment_id = tracking.provider_shipment_id
    elif description.startswith("refund.") and result.get("object") == "Refund":
        kind = "refund"
        shipment_id = result.get("shipment_id") or ""
        refund_status = result.get("status") or ""
    return WebhookNotice(
        event_id=event_id,
        description=description,
        kind=kind,
        tracking=tracking,
        provider_shipment_id=shipment_id,
        refund_status=refund_status,
    )
