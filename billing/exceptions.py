class BillingError(Exception):
    """A billing action the current state does not allow (→ 409 / a message on screen)."""


class PaymentFailed(BillingError):
    """The payment processor declined the charge (a card decline, insufficient funds…)."""


class MicrodepositMismatch(BillingError):
    """The amounts or descriptor code the merchant typed do not match the microdeposits (Stripe's error code in
    ``code``; ``..._attempts_exceeded`` means the bank account cannot be verified any more)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class RetryableProviderError(Exception):
    """Network trouble, 5xx or 429 from the payment processor: retry later."""


class RejectedProviderError(Exception):
    """The processor rejected the request itself (4xx, bad data): do not retry."""
