"""Helpers shared by the carrier services: carrier names, short error wording, retries with backoff,
address coercion and the label format default."""

from __future__ import annotations

import random
import time
from dataclasses import replace

from ..base import CARRIER_NAMES, Address, ShipOptions
from ..exceptions import ProviderError, RejectedProviderError, RetryableProviderError
from ..models import CarrierAccount
from ..registry import AccountConfig

MAX_ATTEMPTS = 3


def _carrier_name(code: str) -> str:
    return CARRIER_NAMES.get(code, code)


def _short(exc: ProviderError) -> str:
    if isinstance(exc, RejectedProviderError):
        detail = exc.message.split(": ", 1)[-1]
        return f"rejected {detail}" if detail else "rejected"
    return {
        "timeout": "timeout",
        "rate_limited": "rate limited",
        "malformed": "malformed response",
        "network": "unreachable",
    }.get(exc.code, f"error {exc.status or ''}".strip())


def _call_with_retries(fn, *, deadline: float, attempts: int = MAX_ATTEMPTS, base_delay: float = 0.05):
    """Call ``fn``; retry retryable provider errors with exponential backoff and jitter, within ``deadline``."""
    last: RetryableProviderError | None = None
    for attempt in range(attempts):
        try:
            return fn()
        except RetryableProviderError as exc:
            last = exc
            delay = base_delay * (2**attempt) * (1 + random.random() / 2)
            if attempt + 1 >= attempts or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
    assert last is not None
    raise last


def _as_address(value) -> Address:
    if isinstance(value, Address):
        return value
    if isinstance(value, dict):
        return Address.from_dict(value)
    if hasattr(value, "ship_to_street1"):
        return Address.from_object(value, prefix="ship_to_")
    address = Address.from_object(value)
    if not address.name and getattr(value, "name", ""):
        address = Address(**{**address.as_dict(), "name": value.name})
    return address


def _label_options(
    account: CarrierAccount | AccountConfig | None, options: ShipOptions | None
) -> ShipOptions:
    """The caller's label format, else the account's (PDF 4x6 unless the account says ZPL or PNG)."""
    options = options or ShipOptions()
    if not options.label_format:
        options = replace(
            options, label_format=(account.label_format if account is not None else "") or "PDF"
        )
    return options
