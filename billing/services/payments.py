"""Payment methods (SetupIntents), the Stripe webhook events, disputes."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.exceptions import BillingError, MicrodepositMismatch
from billing.gateway import BankSetup, MandateAcceptance, PaymentProcessor, SavedMethod
from billing.gateway import processor as default_processor
from billing.models import BillingAccount, Invoice, Payment, PaymentDispute, PaymentMethod, StripeEvent
from billing.services.cards import account_ensure
from billing.services.invoices import notice_add, payment_failed, payment_processing, payment_succeeded
from fulfil.audit import audit_record

log = logging.getLogger(__name__)


def customer_ensure(*, merchant, gateway: PaymentProcessor | None = None) -> BillingAccount:
    account = account_ensure(merchant=merchant)
    if account.stripe_customer_id:
        return account
    gateway = gateway or default_processor()
    email = merchant.contact_email or next(
        (m.user.email for m in merchant.memberships.select_related("user").filter(role="owner")), ""
    )
    customer_id = gateway.customer_create(email=email, name=merchant.name, merchant_id=merchant.pk)
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    account.refresh_from_db()
    return account


def setup_intent_start(*, merchant, gateway: PaymentProcessor | None = None) -> tuple[str, str]:
    """A SetupIntent for the browser (Stripe.js ``confirmCardSetup`` with its client secret in production)."""
    gateway = gateway or default_processor()
    account = customer_ensure(merchant=merchant, gateway=gateway)
    return gateway.setup_intent_create(customer_id=account.stripe_customer_id)


def _save_method(*, merchant, saved: SavedMethod) -> PaymentMethod:
    with transaction.atomic():
        has_default = PaymentMethod.objects.for_merchant(merchant).filter(
            is_default=True, removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE
        )
        method, created = PaymentMethod.objects.get_or_create(
            stripe_payment_method_id=saved.id,
            defaults={"merchant": merchant, "type": saved.type if saved.type in PaymentMethod.Type.values else "card",
                      "brand": saved.brand, "last4": saved.last4, "exp_month": saved.exp_month,
                      "exp_year": saved.exp_year, "is_default": not has_default.exists()},
        )  # fmt: skip
        if method.merchant_id != merchant.pk:
            raise BillingError("That payment method belongs to another customer.")
        if created:
            audit_record(obj_type="billing.paymentmethod", obj_id=method.pk, action="added", merchant_id=merchant.pk,
                         after={"type": method.type, "brand": method.brand, "last4": method.last4})  # fmt: skip
    return method


def payment_method_add(*, merchant, payment_method: str, setup_intent_id: str = "",
                       gateway: PaymentProcessor | None = None) -> PaymentMethod:  # fmt: skip
    """Save a payment method through a SetupIntent. In test/dev mode the server confirms the SetupIntent
    with a test payment method (``pm_card_visa``); in production the browser confirms it with Stripe.js and
    posts back the SetupIntent id, and the same call reads and saves the result."""
    gateway = gateway or default_processor()
    account = customer_ensure(merchant=merchant, gateway=gateway)
    if not setup_intent_id:
        setup_intent_id, _ = gateway.setup_intent_create(customer_id=account.stripe_customer_id)
    saved = gateway.setup_intent_confirm(
        setup_intent_id=setup_intent_id, payment_method=payment_method, customer_id=account.stripe_customer_id
    )
    method = _save_method(merchant=merchant, saved=saved)
    _retry_waiting_invoices(merchant)
    return method


def _retry_waiting_invoices(merchant) -> None:
    """Open invoices that waited for a payment method are retried by the next dunning run."""
    Invoice.objects.for_merchant(merchant).filter(status=Invoice.Status.OPEN, payment_attempts=0).update(
        next_payment_attempt=timezone.now()
    )


def _bank_fields(setup: BankSetup) -> dict:
    arrive = setup.arrival_date
    return {
        "microdeposit_type": setup.microdeposit_type,
        "microdeposits_arrive_at": datetime.fromtimestamp(arrive, tz=UTC) if arrive else None,
        "verification_url": setup.hosted_verification_url[:500],
    }


def bank_account_add(*, merchant, holder_name: str, routing_number: str, account_number: str,
                     account_holder_type: str = "company", account_type: str = "checking", ip_address: str,
                     user_agent: str, gateway: PaymentProcessor | None = None) -> PaymentMethod:  # fmt: skip
    """Save a US bank account for ACH debits: the merchant accepted the mandate (recorded with the time, IP
    address and browser), Stripe sends microdeposits, the method waits in ``pending_verification`` until
    ``bank_account_verify``. Only the last four digits are kept."""
    if not holder_name.strip():
        raise BillingError("Enter the account holder's name.")
    gateway = gateway or default_processor()
    account = customer_ensure(merchant=merchant, gateway=gateway)
    acceptance = MandateAcceptance(accepted_at=int(time.time()), ip_address=ip_address or "127.0.0.1",
                                   user_agent=(user_agent or "unknown")[:300])  # fmt: skip
    setup = gateway.bank_account_setup(
        customer_id=account.stripe_customer_id, holder_name=holder_name.strip(), email=merchant.contact_email or "",
        routing_number=routing_number, account_number=account_number, account_holder_type=account_holder_type,
        account_type=account_type, acceptance=acceptance,
    )  # fmt: skip
    with transaction.atomic():
        method, created = PaymentMethod.objects.get_or_create(
            stripe_payment_method_id=setup.method.id,
            defaults={"merchant": merchant, "type": PaymentMethod.Type.US_BANK_ACCOUNT,
                      "status": PaymentMethod.Status.PENDING_VERIFICATION, "stripe_setup_intent_id": setup.setup_intent_id,
                      "holder_name": holder_name.strip()[:200], "account_type": account_type,
                      "brand": setup.method.brand[:30], "last4": setup.method.last4,
                      "mandate_accepted_at": datetime.fromtimestamp(acceptance.accepted_at, tz=UTC),
                      "mandate_ip": acceptance.ip_address, "mandate_user_agent": acceptance.user_agent,
                      **_bank_fields(setup)},
        )  # fmt: skip
        if method.merchant_id != merchant.pk:
            raise BillingError("That payment method belongs to another customer.")
        if created:
            audit_record(obj_type="billing.paymentmethod", obj_id=method.pk, action="bank_account_added",
                         merchant_id=merchant.pk, after={"last4": method.last4, "bank": method.brand,
                         "mandate_accepted_at": method.mandate_accepted_at, "mandate_ip": method.mandate_ip,
                         "setup_intent": setup.setup_intent_id})  # fmt: skip
        if (
            setup.status == "succeeded"
        ):  # verified already (instant verification): no microdeposits to wait for
            _bank_activate(method=method, mandate_id=setup.mandate_id)
    return method


def bank_account_verify(*, merchant, method: PaymentMethod, amounts: list[int] | None = None,
                        descriptor_code: str = "", gateway: PaymentProcessor | None = None) -> PaymentMethod:  # fmt: skip
    """The merchant enters the two microdeposit amounts (cents) or the descriptor code; Stripe checks them. A
    mismatch leaves the method pending with Stripe's message; the last allowed attempt fails it for good."""
    if method.merchant_id != merchant.pk:
        raise BillingError("Not found.")
    if method.status == PaymentMethod.Status.ACTIVE:
        return method
    if method.status != PaymentMethod.Status.PENDING_VERIFICATION:
        raise BillingError("This bank account can no longer be verified; add it again.")
    if not amounts and not descriptor_code.strip():
        raise BillingError("Enter the two deposit amounts or the 6-character code.")
    gateway = gateway or default_processor()
    try:
        setup = gateway.setup_intent_verify_microdeposits(
            setup_intent_id=method.stripe_setup_intent_id, amounts=amounts,
            descriptor_code=descriptor_code.strip().upper(),
        )  # fmt: skip
    except MicrodepositMismatch as exc:
        with transaction.atomic():
            failed = exc.code.endswith("attempts_exceeded") or exc.code.endswith("timeout")
            PaymentMethod.objects.filter(pk=method.pk).update(
                verification_error=str(exc)[:300],
                **({"status": PaymentMethod.Status.VERIFICATION_FAILED} if failed else {}),
            )
            audit_record(obj_type="billing.paymentmethod", obj_id=method.pk, action="verification_failed",
                         merchant_id=merchant.pk, after={"code": exc.code})  # fmt: skip
        raise
    with transaction.atomic():
        _bank_activate(method=method, mandate_id=setup.mandate_id)
    method.refresh_from_db()
    return method


def _bank_activate(*, method: PaymentMethod, mandate_id: str) -> bool:
    """Pending → active (idempotent: the synchronous answer and Stripe's ``setup_intent.succeeded`` webhook
    both land here; the second changes nothing). Becomes the default when the merchant has no active one."""
    locked = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    if locked.status == PaymentMethod.Status.ACTIVE:
        return False
    has_default = (
        PaymentMethod.objects.for_merchant(locked.merchant_id)
        .filter(is_default=True, removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE)
        .exists()
    )
    locked.status = PaymentMethod.Status.ACTIVE
    locked.mandate_id = mandate_id or locked.mandate_id
    locked.verification_error = ""
    if not has_default:
        PaymentMethod.objects.for_merchant(locked.merchant_id).update(is_default=False)
        locked.is_default = True
    locked.save(update_fields=["status", "mandate_id", "verification_error", "is_default"])
    audit_record(obj_type="billing.paymentmethod", obj_id=locked.pk, action="bank_account_verified",
                 merchant_id=locked.merchant_id, after={"mandate": locked.mandate_id})  # fmt: skip
    _retry_waiting_invoices(locked.merchant)
    return True


def payment_method_make_default(*, merchant, method: PaymentMethod) -> None:
    with transaction.atomic():
        PaymentMethod.objects.for_merchant(merchant).update(is_default=False)
        PaymentMethod.objects.for_merchant(merchant).filter(pk=method.pk).update(is_default=True)
        audit_record(
            obj_type="billing.paymentmethod", obj_id=method.pk, action="default", merchant_id=merchant.pk
        )


def payment_method_remove(*, merchant, method: PaymentMethod) -> PaymentMethod | None:
    """Stop charging a method: it is marked removed at once and detached from the Stripe customer after commit
    (a Celery task that retries while Stripe is unreachable). When it was the default, the newest remaining
    active method becomes the default; the new default (or None) is returned."""
    from billing import tasks

    with transaction.atomic():
        locked = PaymentMethod.objects.for_merchant(merchant).select_for_update().filter(pk=method.pk).first()
        if locked is None or locked.removed_at is not None:
            return None
        was_default = locked.is_default
        locked.removed_at = timezone.now()
        locked.is_default = False
        locked.save(update_fields=["removed_at", "is_default"])
        audit_record(
            obj_type="billing.paymentmethod",
            obj_id=locked.pk,
            action="removed",
            merchant_id=merchant.pk,
            before={"is_default": was_default},
            after={"removed": True},
        )
        successor = None
        if was_default:
            successor = (
                PaymentMethod.objects.for_merchant(merchant)
                .filter(removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE)
                .order_by("-created_at", "-pk")
                .first()
            )
            if successor is not None:
                PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)
                audit_record(obj_type="billing.paymentmethod", obj_id=successor.pk, action="default",
                             merchant_id=merchant.pk, after={"because": "previous default removed"})  # fmt: skip
        transaction.on_commit(partial(tasks.payment_method_detach_task.delay, method_id=locked.pk))
    return successor


def payment_method_detach(*, method_id: int, gateway: PaymentProcessor | None = None) -> bool:
    """Detach a removed method at Stripe (idempotent: detaching twice is harmless). False when the method is not
    removed (a detach queued for a method that was never removed does nothing)."""
    method = PaymentMethod.objects.filter(pk=method_id, removed_at__isnull=False).first()
    if method is None or not method.stripe_payment_method_id:
        return False
    (gateway or default_processor()).payment_method_detach(payment_method_id=method.stripe_payment_method_id)
    return True


def _payment_for(obj: dict) -> Payment | None:
    pi = obj.get("payment_intent") if obj.get("object") != "payment_intent" else obj.get("id")
    metadata = obj.get("metadata") or {}
    if metadata.get("payment_id"):
        payment = Payment.objects.filter(pk=metadata["payment_id"]).first()
        if payment is not None:
            return payment
    if pi:
        return Payment.objects.filter(stripe_payment_intent_id=pi).first()
    return None


def stripe_event_process(*, event: dict) -> str:
    """Apply one verified Stripe event, once: the event id is recorded in the same transaction, so a replay
    (Stripe retries, or an attacker re-sending a captured request) changes nothing."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=event["id"], type=event["type"], payload=event)
            result = _apply(event)
            record.result = result[:200]
            record.save(update_fields=["result"])
            return result
    except IntegrityError:
        return "duplicate"


def _apply(event: dict) -> str:
    etype = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    if etype == "payment_intent.processing":
        payment = _payment_for(obj)
        if payment is None:
            return "ignored: unknown payment"
        payment_processing(payment_id=payment.pk, payment_intent_id=obj.get("id", ""))
        return f"payment {payment.pk} processing"
    if etype == "payment_intent.succeeded":
        payment = _payment_for(obj)
        if payment is None:
            return "ignored: unknown payment"
        payment_succeeded(payment_id=payment.pk, payment_intent_id=obj.get("id", ""))
        return f"payment {payment.pk} succeeded"
    if etype == "payment_intent.payment_failed":
        payment = _payment_for(obj)
        if payment is None:
            return "ignored: unknown payment"
        err = (obj.get("last_payment_error") or {}).get("message") or "declined"
        payment_failed(payment_id=payment.pk, message=err)
        return f"payment {payment.pk} failed"
    if etype.startswith("charge.dispute."):
        payment = _payment_for(obj)
        merchant_id = payment.merchant_id if payment else None
        if merchant_id is None:
            return "ignored: unknown payment"
        from decimal import Decimal

        dispute, created = PaymentDispute.objects.update_or_create(
            stripe_dispute_id=obj["id"],
            defaults={"merchant_id": merchant_id, "payment": payment, "amount": Decimal(obj.get("amount", 0)) / 100,
                      "currency": (obj.get("currency") or "usd").upper(), "reason": obj.get("reason", "") or "",
                      "status": obj.get("status", "") or ""},
        )  # fmt: skip
        audit_record(obj_type="billing.dispute", obj_id=dispute.pk, action=etype, merchant_id=merchant_id,
                     after={"status": dispute.status, "amount": dispute.amount})  # fmt: skip
        if created:
            notice_add(merchant=payment.merchant, kind="payment_disputed", invoice=payment.invoice,
                       message=f"A chargeback of {dispute.amount:.2f} was opened on the payment for "
                               f"{payment.invoice.number} ({dispute.reason or 'no reason given'}).")  # fmt: skip
        return f"dispute {dispute.pk} {dispute.status}"
    if etype == "setup_intent.succeeded":
        customer, pm = obj.get("customer"), obj.get("payment_method")
        pending = PaymentMethod.objects.filter(
            stripe_setup_intent_id=obj.get("id") or "-", status=PaymentMethod.Status.PENDING_VERIFICATION
        ).first()
        if pending is not None:  # microdeposits verified (on Stripe's hosted page, or our answer was lost)
            _bank_activate(method=pending, mandate_id=obj.get("mandate") or "")
            return f"payment method {pending.pk} verified"
        account = (
            BillingAccount.objects.filter(stripe_customer_id=customer).select_related("merchant").first()
        )
        if account is None or not pm or PaymentMethod.objects.filter(stripe_payment_method_id=pm).exists():
            return "ignored"
        method = _save_method(merchant=account.merchant, saved=SavedMethod(id=pm, type="card"))
        return f"payment method {method.pk} saved"
    if etype == "setup_intent.setup_failed":
        error = obj.get("last_setup_error") or {}
        updated = PaymentMethod.objects.filter(
            stripe_setup_intent_id=obj.get("id") or "-", status=PaymentMethod.Status.PENDING_VERIFICATION
        ).update(status=PaymentMethod.Status.VERIFICATION_FAILED,
                 verification_error=(error.get("message") or "verification failed")[:300])  # fmt: skip
        return f"{updated} payment method(s) failed verification"
    return "ignored"
