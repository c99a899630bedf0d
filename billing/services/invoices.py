"""Invoices: issued at cycle end with gap-free numbers, charged through the payment processor, dunning."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.exceptions import BillingError, PaymentFailed, RetryableProviderError
from billing.gateway import PaymentProcessor
from billing.gateway import processor as default_processor
from billing.models import BillingAccount, ChargeLine, Invoice, InvoiceCounter, Notice, Payment, PaymentMethod
from billing.services.cards import account_ensure, credit_changed, cycle_end
from fulfil import outbox
from fulfil.audit import audit_record

log = logging.getLogger(__name__)
ZERO = Decimal("0")
DUNNING_DAYS = (1, 3, 7)  # retry a failed payment 1, 3 and 7 days after the previous failure; then past due


def local_midnight(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz or "UTC"))


def _next_number(operator: str = "fulfil") -> tuple[int, str]:
    counter, _ = InvoiceCounter.objects.get_or_create(operator=operator)
    counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    number = counter.next_number
    InvoiceCounter.objects.filter(pk=counter.pk).update(next_number=F("next_number") + 1)
    return number, f"{counter.prefix}{number:06d}"


def notice_add(
    *, merchant, kind: str, message: str, invoice: Invoice | None = None, email: bool = False
) -> Notice:
    notice = Notice.objects.create(merchant=merchant, kind=kind, message=message[:500], invoice=invoice)
    if email:
        to = [
            m.user.email
            for m in merchant.memberships.select_related("user").filter(role__in=["owner", "admin"])
        ]
        if merchant.contact_email:
            to.append(merchant.contact_email)
        if to:
            transaction.on_commit(
                partial(_send, subject=f"Billing: {kind.replace('_', ' ')}", body=message, to=to)
            )
    return notice


def _send(*, subject: str, body: str, to: list[str]) -> None:
    try:
        send_mail(subject, body, None, sorted(set(to)), fail_silently=True)
    except Exception:  # pragma: no cover - mail is best effort
        log.warning("billing: could not send notice email", exc_info=True)


def invoice_issue(
    *, merchant, period_start: date, period_end: date, now: datetime | None = None
) -> Invoice | None:
    """Issue the invoice of ``[period_start, period_end)`` (days in the merchant's time zone): every unbilled line
    that occurred before the period's end — late lines of earlier periods included, so none is ever lost and
    none billed twice. Idempotent per period; ``None`` when there is nothing to bill."""
    now = now or timezone.now()
    end_at = local_midnight(period_end, merchant.timezone)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account_ensure(merchant=merchant).pk)
        existing = Invoice.objects.filter(merchant=merchant, period_start=period_start).first()
        if existing is not None:
            return existing
        unbilled = ChargeLine.objects.filter(merchant=merchant, invoice__isnull=True, occurred_at__lt=end_at)
        if not unbilled.exists():
            return None
        seq, number = _next_number()
        invoice = Invoice.objects.create(
            merchant=merchant, number=number, sequence=seq, period_start=period_start, period_end=period_end,
            issued_at=now, due_on=now.date() + timedelta(days=account.terms_days), currency=account.currency,
        )  # fmt: skip
        unbilled.update(invoice=invoice)
        agg = ChargeLine.objects.filter(invoice=invoice).aggregate(a=Sum("amount"), t=Sum("tax"))
        invoice.subtotal, invoice.tax = agg["a"] or ZERO, agg["t"] or ZERO
        invoice.total = invoice.subtotal + invoice.tax
        if invoice.total <= 0:
            invoice.status = Invoice.Status.PAID
            invoice.paid_at = now
        invoice.save()
        audit_record(obj_type="billing.invoice", obj_id=invoice.pk, action="issued", merchant_id=merchant.pk,
                     after={"number": number, "total": invoice.total, "period": f"{period_start}..{period_end}"})  # fmt: skip
        outbox.emit("invoice.issued", {"invoice_id": invoice.pk, "merchant_id": merchant.pk,
                                       "total": str(invoice.total)}, merchant_id=merchant.pk)  # fmt: skip
        notice_add(merchant=merchant, kind="invoice_issued", invoice=invoice,
                   message=f"Invoice {number} for {period_start:%b %d} – {period_end - timedelta(days=1):%b %d}: "
                           f"{invoice.total:.2f} {invoice.currency}, due {invoice.due_on:%b %d}.")  # fmt: skip
        if account.autopay and account.terms_days == 0 and invoice.balance > 0:
            transaction.on_commit(partial(_enqueue_collect, invoice_id=invoice.pk))
    return invoice


def _enqueue_collect(*, invoice_id: int) -> None:
    from billing.tasks import invoice_collect_task

    invoice_collect_task.delay(invoice_id=invoice_id)


def invoices_issue_due(*, today: date | None = None, merchant_ids: list[int] | None = None) -> list[int]:
    """The cycle-end run: for every account whose cycle has ended (in its own time zone), issue the invoice
    and advance the cycle (catching up several cycles if the run was missed). Returns invoice ids."""
    issued: list[int] = []
    qs = BillingAccount.objects.select_related("merchant").order_by("pk")
    if merchant_ids is not None:
        qs = qs.filter(merchant_id__in=merchant_ids)
    for account in list(qs):
        local_today = today or timezone.now().astimezone(ZoneInfo(account.merchant.timezone or "UTC")).date()
        start = account.next_cycle_start
        while (end := cycle_end(account.cycle, start)) <= local_today:
            invoice = invoice_issue(merchant=account.merchant, period_start=start, period_end=end)
            if invoice is not None:
                issued.append(invoice.pk)
            BillingAccount.objects.filter(pk=account.pk, next_cycle_start=start).update(next_cycle_start=end)
            start = end
    return issued


IN_FLIGHT = (Payment.Status.PENDING, Payment.Status.PROCESSING)


def _default_method(merchant) -> PaymentMethod | None:
    return (
        PaymentMethod.objects.for_merchant(merchant)
        .filter(removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE)
        .order_by("-is_default", "-created_at")
        .first()
    )


def invoice_collect(*, invoice_id: int, gateway: PaymentProcessor | None = None,
                    now: datetime | None = None) -> Payment | None:  # fmt: skip
    """Charge an invoice's balance to the merchant's default payment method (off-session PaymentIntent).
    A decline schedules the next retry (``DUNNING_DAYS``) with a notice; after the last one the invoice is
    past due and new orders are held (``selectors.credit_hold``)."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("merchant").get(pk=invoice_id)
        if invoice.status in (Invoice.Status.PAID, Invoice.Status.VOID) or invoice.balance <= 0:
            return None
        if invoice.payments.filter(status__in=IN_FLIGHT).exists():  # an ACH debit still settling
            return None
        merchant = invoice.merchant
        method = _default_method(merchant)
        account = account_ensure(merchant=merchant)
        if method is None or not account.stripe_customer_id:
            notice_add(merchant=merchant, kind="payment_method_missing", invoice=invoice, email=True,
                       message=f"Invoice {invoice.number} could not be paid automatically: add a payment method.")  # fmt: skip
            return None
        invoice.payment_attempts += 1
        invoice.next_payment_attempt = None
        invoice.save(update_fields=["payment_attempts", "next_payment_attempt"])
        payment = Payment.objects.create(
            merchant=merchant, invoice=invoice, attempt=invoice.payment_attempts, amount=invoice.balance,
            currency=invoice.currency, payment_method=method,
        )  # fmt: skip
    gateway = gateway or default_processor()
    try:
        result = gateway.charge(
            customer_id=account.stripe_customer_id, payment_method_id=method.stripe_payment_method_id,
            amount=payment.amount, currency=payment.currency, idempotency_key=f"fulfil-payment-{payment.pk}",
            metadata={"invoice_id": invoice.pk, "invoice_number": invoice.number, "payment_id": payment.pk,
                      "merchant_id": merchant.pk},
            payment_method_type=method.type, mandate_id=method.mandate_id,
        )  # fmt: skip
    except PaymentFailed as exc:
        return payment_failed(payment_id=payment.pk, message=str(exc), now=now)
    except RetryableProviderError:
        # Unknown outcome: leave it pending; the webhook (or the next run) settles it.
        log.warning("billing: payment %s outcome unknown (processor unreachable)", payment.pk)
        return payment
    except Exception as exc:
        return payment_failed(payment_id=payment.pk, message=str(exc)[:300], now=now)
    if result.status == "processing":
        return payment_processing(payment_id=payment.pk, payment_intent_id=result.payment_intent_id)
    return payment_succeeded(payment_id=payment.pk, payment_intent_id=result.payment_intent_id, now=now)


def payment_processing(*, payment_id: int, payment_intent_id: str) -> Payment:
    """An ACH debit was submitted: the payment is in flight until Stripe's ``payment_intent.succeeded`` or
    ``payment_intent.payment_failed`` webhook (typically 4 business days). Idempotent; never moves a settled
    payment back."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice").get(pk=payment_id)
        if payment.status != Payment.Status.PENDING:
            return payment
        payment.status = Payment.Status.PROCESSING
        payment.stripe_payment_intent_id = payment_intent_id or payment.stripe_payment_intent_id
        payment.save(update_fields=["status", "stripe_payment_intent_id"])
        audit_record(obj_type="billing.invoice", obj_id=payment.invoice_id, action="payment_processing",
                     merchant_id=payment.merchant_id, after={"payment_intent": payment.stripe_payment_intent_id})  # fmt: skip
        notice_add(merchant=payment.invoice.merchant, kind="payment_processing", invoice=payment.invoice,
                   message=f"Bank debit of {payment.amount:.2f} {payment.currency} for {payment.invoice.number} "
                           "submitted; it usually settles in 4 business days.")  # fmt: skip
    return payment


def payment_succeeded(
    *, payment_id: int, payment_intent_id: str = "", now: datetime | None = None
) -> Payment:
    """Idempotent: a second call (the webhook after the synchronous answer) changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == Payment.Status.SUCCEEDED:
            return payment
        invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
        payment.status = Payment.Status.SUCCEEDED
        payment.stripe_payment_intent_id = payment_intent_id or payment.stripe_payment_intent_id
        payment.failure_message = ""
        payment.save()
        invoice.amount_paid += payment.amount
        if invoice.balance <= 0:
            invoice.status = Invoice.Status.PAID
            invoice.paid_at = now
            invoice.next_payment_attempt = None
        invoice.save()
        audit_record(obj_type="billing.invoice", obj_id=invoice.pk, action="paid", merchant_id=invoice.merchant_id,
                     after={"amount": payment.amount, "payment_intent": payment.stripe_payment_intent_id})  # fmt: skip
        notice_add(merchant=invoice.merchant, kind="payment_succeeded", invoice=invoice,
                   message=f"Payment of {payment.amount:.2f} {payment.currency} for {invoice.number} succeeded.")  # fmt: skip
        credit_changed(merchant_id=invoice.merchant_id, why=f"payment for {invoice.number}")
    return payment


def payment_failed(*, payment_id: int, message: str, now: datetime | None = None) -> Payment:
    now = now or timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in IN_FLIGHT:
            return payment
        invoice = Invoice.objects.select_for_update().select_related("merchant").get(pk=payment.invoice_id)
        payment.status = Payment.Status.FAILED
        payment.failure_message = message[:300]
        payment.save()
        failures = invoice.payments.filter(status=Payment.Status.FAILED).count()
        if failures <= len(DUNNING_DAYS):
            invoice.next_payment_attempt = now + timedelta(days=DUNNING_DAYS[failures - 1])
            text = (f"Payment for {invoice.number} failed ({message}). We will retry on "
                    f"{invoice.next_payment_attempt:%b %d}; update your payment method to avoid a hold.")  # fmt: skip
        else:
            invoice.next_payment_attempt = None
            invoice.status = Invoice.Status.PAST_DUE
            text = (f"Payment for {invoice.number} failed {failures} times. The invoice is past due and new orders "
                    "are held until it is paid.")  # fmt: skip
        invoice.save()
        audit_record(obj_type="billing.invoice", obj_id=invoice.pk, action="payment_failed",
                     merchant_id=invoice.merchant_id, after={"attempt": payment.attempt, "message": message})  # fmt: skip
        notice_add(
            merchant=invoice.merchant, kind="payment_failed", invoice=invoice, message=text, email=True
        )
    return payment


def invoices_retry_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    ids = list(
        Invoice.objects.filter(status=Invoice.Status.OPEN, next_payment_attempt__lte=now).values_list(
            "pk", flat=True
        )
    )
    for pk in ids:
        invoice_collect(invoice_id=pk, now=now)
    return ids


def invoice_pay_now(*, merchant, invoice: Invoice, gateway: PaymentProcessor | None = None) -> Payment | None:
    """The merchant pays an open (or past-due) invoice now with the default method."""
    if invoice.merchant_id != merchant.pk:
        raise BillingError("Not found.")
    if invoice.status not in (Invoice.Status.OPEN, Invoice.Status.PAST_DUE) or invoice.balance <= 0:
        raise BillingError("This invoice has nothing left to pay.")
    if invoice.status == Invoice.Status.PAST_DUE:
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OPEN)
    payment = invoice_collect(invoice_id=invoice.pk, gateway=gateway)
    if payment is None:
        raise BillingError("Add a payment method first (or a payment is already in progress).")
    return payment


def payment_refund(*, payment: Payment, amount: Decimal, reason: str,
                   gateway: PaymentProcessor | None = None) -> Payment:  # fmt: skip
    """Refund part or all of a succeeded payment through the processor; the invoice shows a credit."""
    if payment.status not in (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED):
        raise BillingError("Only a succeeded payment can be refunded.")
    if amount <= 0 or amount > payment.amount - payment.amount_refunded:
        raise BillingError("The refund must be positive and at most what is left of the payment.")
    gateway = gateway or default_processor()
    gateway.refund(payment_intent_id=payment.stripe_payment_intent_id, amount=amount,
                   idempotency_key=f"fulfil-refund-{payment.pk}-{payment.amount_refunded}")  # fmt: skip
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        payment.amount_refunded += amount
        if payment.amount_refunded >= payment.amount:
            payment.status = Payment.Status.REFUNDED
        payment.save()
        Invoice.objects.filter(pk=payment.invoice_id).update(
            amount_paid=F("amount_paid") - amount, amount_credited=F("amount_credited") + amount
        )
        audit_record(obj_type="billing.payment", obj_id=payment.pk, action="refunded", merchant_id=payment.merchant_id,
                     after={"amount": amount, "reason": reason})  # fmt: skip
    return payment
