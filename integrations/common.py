"""Small pure helpers shared by the platform mappers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from orders.canonical import CanonicalAddress

SERVICE_WORDS = {
    "overnight": ("overnight", "next day", "next-day", "nextday", "1 day", "one day", "priority overnight"),
    "expedited": ("expedited", "express", "2 day", "two day", "2-day", "second day", "priority", "rush"),
}


def money(value, default: str = "0") -> Decimal:
    if value in (None, ""):
        return Decimal(default)
    if isinstance(value, dict):  # {"amount": "1.00"} / {"Amount": "1.00"} / {"value": "1.00"}
        value = value.get("amount") or value.get("Amount") or value.get("value") or default
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return Decimal(default)


def parse_time(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, int | float):
        # Walmart sends epoch milliseconds
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def service_level(method: str, mapping: dict | None = None) -> str:
    """A channel's shipping method name → standard | expedited | overnight (merchant mapping first)."""
    method = (method or "").strip()
    if mapping:
        for key, value in mapping.items():
            if key.strip().lower() == method.lower() and value in ("standard", "expedited", "overnight"):
                return value
    low = method.lower()
    for level, words in SERVICE_WORDS.items():
        if any(w in low for w in words):
            return level
    return "standard"


def clean(value) -> str:
    return "" if value is None else str(value).strip()


def address(**fields) -> CanonicalAddress:
    country = clean(fields.pop("country", "")) or "US"
    return CanonicalAddress(country=country[:2].upper(), **{k: clean(v) for k, v in fields.items()})


def hmac_b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hmac_matches(secret: str, body: bytes, signature: str) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(hmac_b64(secret, body), signature.strip())
