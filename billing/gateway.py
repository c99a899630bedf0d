"""Stripe: the only module that talks to the payment processor (the ``stripe`` client library).

Tests and development point ``STRIPE_API_BASE`` at ``localstripe`` on 127.0.0.1. localstripe has no Stripe
Invoicing, so we issue our own invoices and charge them with off-session PaymentIntents. It does not support
``us_bank_account`` payment methods either (Bad request) — bank accounts work against real Stripe only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import stripe
from django.conf import settings

from billing.exceptions import PaymentFailed, RejectedProviderError, RetryableProviderError


@dataclass(frozen=True)
class SavedMethod:
    id: str
    type: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class ChargeResult:
    payment_intent_id: str
    status: str


class PaymentProcessor(Protocol):
    def customer_create(self, *, email: str, name: str, merchant_id: int) -> str: ...
    def setup_intent_create(self, *, customer_id: str) -> tuple[str, str]: ...
    def setup_intent_confirm(
        self, *, setup_intent_id: str, payment_method: str, customer_id: str
    ) -> SavedMethod: ...
    def payment_method_get(self, *, payment_method_id: str) -> SavedMethod: ...
    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal, currency: str,
               metadata: dict, idempotency_key: str) -> ChargeResult: ...  # fmt: skip
    def refund(self, *, payment_intent_id: str, amount: Decimal, idempotency_key: str) -> str: ...


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _client_opts() -> None:
    stripe.api_key = settings.STRIPE_SECRET_KEY or "sk_test_fulfil_dev"
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = 0


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, stripe.CardError):
        return PaymentFailed(exc.user_message or str(exc))
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return RetryableProviderError(str(exc))
    if isinstance(exc, stripe.StripeError) and (exc.http_status or 0) >= 500:
        return RetryableProviderError(str(exc))
    return RejectedProviderError(str(exc))


def _plain(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _saved(pm) -> SavedMethod:
    pm = _plain(pm)
    card = pm.get("card") or {}
    bank = pm.get("us_bank_account") or {}
    return SavedMethod(
        id=pm["id"],
        type=pm.get("type", "card"),
        brand=card.get("brand", "") or bank.get("bank_name", "") or "",
        last4=card.get("last4", "") or bank.get("last4", "") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


class StripeProcessor:
    def __init__(self) -> None:
        _client_opts()

    def customer_create(self, *, email: str, name: str, merchant_id: int) -> str:
        try:
            return stripe.Customer.create(
                email=email or None, name=name, metadata={"merchant_id": merchant_id}
            ).id
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def setup_intent_create(self, *, customer_id: str) -> tuple[str, str]:
        try:
            si = stripe.SetupIntent.create(
                customer=customer_id, payment_method_types=["card"], usage="off_session"
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return si.id, si.client_secret or ""

    def setup_intent_confirm(
        self, *, setup_intent_id: str, payment_method: str, customer_id: str
    ) -> SavedMethod:
        """Server-side confirm (test mode / localstripe). In production, Stripe.js ``confirmCardSetup`` confirms
        in the browser and we only read the result."""
        try:
            si = stripe.SetupIntent.confirm(setup_intent_id, payment_method=payment_method)
            if si.status != "succeeded":
                raise PaymentFailed(f"The payment method could not be set up ({si.status}).")
            pm = stripe.PaymentMethod.retrieve(si.payment_method)
            if not _plain(pm).get("customer"):
                pm = stripe.PaymentMethod.attach(pm.id, customer=customer_id)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _saved(pm)

    def payment_method_get(self, *, payment_method_id: str) -> SavedMethod:
        try:
            return _saved(stripe.PaymentMethod.retrieve(payment_method_id))
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal, currency: str,
               metadata: dict, idempotency_key: str) -> ChargeResult:  # fmt: skip
        try:
            pi = stripe.PaymentIntent.create(
                amount=to_minor(amount),
                currency=currency.lower(),
                customer=customer_id,
                payment_method=payment_method_id,
                off_session=True,
                confirm=True,
                metadata=metadata,
                idempotency_key=idempotency_key,
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        if pi.status not in ("succeeded", "processing"):
            raise PaymentFailed(f"Payment {pi.status}.")
        return ChargeResult(pi.id, pi.status)

    def refund(self, *, payment_intent_id: str, amount: Decimal, idempotency_key: str) -> str:
        try:
            return stripe.Refund.create(
                payment_intent=payment_intent_id, amount=to_minor(amount), idempotency_key=idempotency_key
            ).id
        except stripe.StripeError as exc:
            raise _translate(exc) from exc


_processor: PaymentProcessor | None = None


def processor() -> PaymentProcessor:
    """The configured processor (tests may hand another into services directly)."""
    return _processor or StripeProcessor()


def construct_event(payload: bytes, signature: str):
    """Verify Stripe's signature (``t=…,v1=…`` HMAC-SHA256 of ``t.payload``, 5-minute tolerance)."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
