"""Stripe: the only module that talks to the payment processor (the ``stripe`` client library).

Tests and development point ``STRIPE_API_BASE`` at ``localstripe`` on 127.0.0.1. localstripe has no Stripe
Invoicing, so we issue our own invoices and charge them with off-session PaymentIntents. Stock localstripe has
no ``us_bank_account`` either; the tests run it with ``tests/billing/localstripe_ext.py``, which adds US bank
accounts, microdeposit verification, mandates and asynchronous ACH debits in Stripe's wire format.

US bank accounts (ACH Direct Debit): the merchant types the routing and account numbers on our page (they are
not card data; we keep only the last four digits), accepts the debit mandate, and we confirm a SetupIntent
server-side with ``mandate_data`` (the acceptance: time, IP address, user agent) and
``verification_method=microdeposits``. Stripe answers ``requires_action`` / ``verify_with_microdeposits``; the
merchant enters the two amounts or the descriptor code, we call ``SetupIntent.verify_microdeposits``. An
invoice paid by ACH is ``processing`` until Stripe's ``payment_intent.succeeded`` / ``payment_failed`` webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import stripe
from django.conf import settings

from billing.exceptions import (
    MicrodepositMismatch,
    PaymentFailed,
    RejectedProviderError,
    RetryableProviderError,
)


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
    status: str  # "succeeded", or "processing" for ACH debits (settled later by webhook)


@dataclass(frozen=True)
class BankSetup:
    """A bank account SetupIntent after confirmation: waiting for microdeposits (or already succeeded)."""

    setup_intent_id: str
    status: str
    method: SavedMethod
    microdeposit_type: str = ""
    arrival_date: int | None = None
    hosted_verification_url: str = ""
    mandate_id: str = ""


@dataclass(frozen=True)
class MandateAcceptance:
    accepted_at: int
    ip_address: str
    user_agent: str


class PaymentProcessor(Protocol):
    def customer_create(self, *, email: str, name: str, merchant_id: int) -> str: ...
    def setup_intent_create(self, *, customer_id: str) -> tuple[str, str]: ...
    def setup_intent_confirm(
        self, *, setup_intent_id: str, payment_method: str, customer_id: str
    ) -> SavedMethod: ...
    def payment_method_get(self, *, payment_method_id: str) -> SavedMethod: ...
    def payment_method_detach(self, *, payment_method_id: str) -> None: ...
    def bank_account_setup(self, *, customer_id: str, holder_name: str, email: str, routing_number: str,
                           account_number: str, account_holder_type: str, account_type: str,
                           acceptance: MandateAcceptance) -> BankSetup: ...  # fmt: skip
    def setup_intent_verify_microdeposits(self, *, setup_intent_id: str, amounts: list[int] | None = None,
                                          descriptor_code: str = "") -> BankSetup: ...  # fmt: skip
    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal, currency: str,
               metadata: dict, idempotency_key: str, payment_method_type: str = "card",
               mandate_id: str = "") -> ChargeResult: ...  # fmt: skip
    def refund(self, *, payment_intent_id: str, amount: Decimal, idempotency_key: str) -> str: ...


def to_minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _client_opts() -> None:
    stripe.api_key = settings.STRIPE_SECRET_KEY or "sk_test_fulfil_dev"
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = 0


MICRODEPOSIT_CODES = (
    "payment_method_microdeposit_verification_amounts_mismatch",
    "payment_method_microdeposit_verification_descriptor_code_mismatch",
    "payment_method_microdeposit_verification_attempts_exceeded",
    "payment_method_microdeposit_verification_timeout",
)


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, stripe.StripeError) and getattr(exc, "code", None) in MICRODEPOSIT_CODES:
        return MicrodepositMismatch(exc.user_message or str(exc), code=exc.code)
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
                customer=customer_id,
                payment_method_types=["card", "us_bank_account"],
                payment_method_options={"us_bank_account": {"verification_method": "microdeposits"}},
                usage="off_session",
            )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return si.id, si.client_secret or ""

    def setup_intent_confirm(
        self, *, setup_intent_id: str, payment_method: str, customer_id: str
    ) -> SavedMethod:
        """Read a SetupIntent Stripe.js already confirmed in the browser (``confirmCardSetup``), or confirm it
        server-side with a test payment method (test mode). The method saved is the SetupIntent's own, and the
        SetupIntent must belong to this customer — a posted id from elsewhere is refused."""
        try:
            si = stripe.SetupIntent.retrieve(setup_intent_id)
            if si.customer and si.customer != customer_id:
                raise RejectedProviderError("That SetupIntent belongs to another customer.")
            if si.status != "succeeded":
                si = stripe.SetupIntent.confirm(setup_intent_id, payment_method=payment_method)
            if si.status != "succeeded":
                raise PaymentFailed(f"The payment method could not be set up ({si.status}).")
            pm = stripe.PaymentMethod.retrieve(si.payment_method)
            if not _plain(pm).get("customer"):
                pm = stripe.PaymentMethod.attach(pm.id, customer=customer_id)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return _saved(pm)

    def _bank_setup(self, si) -> BankSetup:
        si = _plain(si)
        verify = (si.get("next_action") or {}).get("verify_with_microdeposits") or {}
        pm = stripe.PaymentMethod.retrieve(si["payment_method"])
        return BankSetup(
            setup_intent_id=si["id"], status=si["status"], method=_saved(pm),
            microdeposit_type=verify.get("microdeposit_type") or "", arrival_date=verify.get("arrival_date"),
            hosted_verification_url=verify.get("hosted_verification_url") or "", mandate_id=si.get("mandate") or "",
        )  # fmt: skip

    def bank_account_setup(self, *, customer_id: str, holder_name: str, email: str, routing_number: str,
                           account_number: str, account_holder_type: str, account_type: str,
                           acceptance: MandateAcceptance) -> BankSetup:  # fmt: skip
        """A SetupIntent for a US bank account confirmed server-side with the mandate acceptance; Stripe
        answers ``requires_action`` / ``verify_with_microdeposits``."""
        try:
            si = stripe.SetupIntent.create(
                customer=customer_id,
                payment_method_types=["us_bank_account"],
                payment_method_options={"us_bank_account": {"verification_method": "microdeposits"}},
                usage="off_session",
            )
            billing_details = {"name": holder_name, **({"email": email} if email else {})}
            si = stripe.SetupIntent.confirm(
                si.id,
                payment_method_data={
                    "type": "us_bank_account",
                    "billing_details": billing_details,
                    "us_bank_account": {
                        "routing_number": routing_number,
                        "account_number": account_number,
                        "account_holder_type": account_holder_type,
                        "account_type": account_type,
                    },
                },
                mandate_data={
                    "customer_acceptance": {
                        "type": "online",
                        "accepted_at": acceptance.accepted_at,
                        "online": {"ip_address": acceptance.ip_address, "user_agent": acceptance.user_agent},
                    }
                },
            )
            if si.status not in ("requires_action", "succeeded"):
                raise PaymentFailed(f"The bank account could not be set up ({si.status}).")
            return self._bank_setup(si)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def setup_intent_verify_microdeposits(self, *, setup_intent_id: str, amounts: list[int] | None = None,
                                          descriptor_code: str = "") -> BankSetup:  # fmt: skip
        try:
            params = {"amounts": amounts} if amounts else {"descriptor_code": descriptor_code}
            si = stripe.SetupIntent.verify_microdeposits(setup_intent_id, **params)
            return self._bank_setup(si)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def payment_method_get(self, *, payment_method_id: str) -> SavedMethod:
        try:
            return _saved(stripe.PaymentMethod.retrieve(payment_method_id))
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def payment_method_detach(self, *, payment_method_id: str) -> None:
        """Detach a removed method from its Stripe customer, so it can never be charged again. A method Stripe
        no longer knows (or already detached) is not an error: the outcome is the one we want."""
        try:
            stripe.PaymentMethod.detach(payment_method_id)
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "code", None) == "resource_missing" or exc.http_status == 404:
                return
            raise _translate(exc) from exc
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    def charge(self, *, customer_id: str, payment_method_id: str, amount: Decimal, currency: str,
               metadata: dict, idempotency_key: str, payment_method_type: str = "card",
               mandate_id: str = "") -> ChargeResult:  # fmt: skip
        """An off-session PaymentIntent. A card answers at once; an ACH debit (``us_bank_account``, under the
        mandate accepted when the account was saved) answers ``processing`` and settles by webhook."""
        try:
            pi = stripe.PaymentIntent.create(
                amount=to_minor(amount),
                currency=currency.lower(),
                customer=customer_id,
                payment_method=payment_method_id,
                payment_method_types=[payment_method_type],
                off_session=True,
                confirm=True,
                metadata=metadata,
                idempotency_key=idempotency_key,
                **({"mandate": mandate_id} if mandate_id else {}),
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
