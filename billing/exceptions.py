class BillingError(Exception):
    """A billing action the current state does not allow (→ 409 / a message on screen)."""


class PaymentFailed(BillingError):
    """The payment processor declined the charge (a card decline, insufficient funds…)."""


class RetryableProviderError(Exception):
    """Network trouble, 5xx or 429 from the payment processor: retry later."""


class RejectedProviderError(Exception):
    """The processor rejected the request itself (4xx, bad data): do not retry."""
