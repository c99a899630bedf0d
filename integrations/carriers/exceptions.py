"""Typed errors of the carrier layer. Celery retries only ``RetryableProviderError``."""

from __future__ import annotations


class ProviderError(Exception):
    """A carrier provider could not do what was asked."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class RetryableProviderError(ProviderError):
    """Network trouble, a timeout, a 5xx or a 429: the same call may succeed later."""


class RejectedProviderError(ProviderError):
    """A 4xx or bad data: the same call will fail again; tell the person why."""


class NoRateAvailable(Exception):
    """No account returned a rate that satisfies the rule. The message lists why, per carrier."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            "no rate available: " + (", ".join(reasons) if reasons else "no carrier account enabled")
        )


class LabelPurchaseFailed(Exception):
    """Every candidate rate failed to buy."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("label not bought: " + ", ".join(reasons))


class ShipmentStateError(Exception):
    """The shipment's state does not allow the action (e.g. voiding a delivered label)."""
