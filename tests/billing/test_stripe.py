"""Stripe through the real ``stripe`` client against localstripe; webhooks signed with Stripe's scheme."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing import selectors, services
from billing.models import Invoice, Notice, Payment, PaymentDispute, PaymentMethod, StripeEvent
from fulfil import onboarding
from tests.billing.conftest import WEBHOOK_SECRET
from tests.billing.test_charges_invoices import T0, order_charges

pytestmark = pytest.mark.django_db


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, ts: int | None = None) -> str:
    ts = ts or int(time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def post_event(client, event: dict, signature: str | None = None):
    body = json.dumps(event).encode()
    return client.post("/integrations/stripe/webhooks/", body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature or sign(body))  # fmt: skip


def issued_invoice(merchant, django_capture_on_commit_callbacks, *, execute=True) -> Invoice:
    services.charges_record(merchant=merchant, charges=order_charges("o1"), occurred_at=T0)
    with django_capture_on_commit_callbacks(execute=execute):
        return services.invoice_issue(
            merchant=merchant, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
        )


def test_adding_a_card_saves_it_and_ticks_onboarding(stripe_settings, merchant_a):
    step = next(s for s in onboarding.steps() if s.key == "payment_method")
    assert step.title == "Add a payment method"
    assert not step.is_done(merchant_a)
    method = services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    assert (method.type, method.brand, method.last4, method.is_default) == ("card", "visa", "4242", True)
    assert method.stripe_payment_method_id.startswith("pm_")
    assert selectors.account_get(merchant_a).stripe_customer_id.startswith("cus_")
    assert step.is_done(merchant_a)
    second = services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    assert second.is_default is False


def test_invoice_is_paid_automatically_off_session(stripe_settings, merchant_a, standard_card,
                                                   django_capture_on_commit_callbacks):  # fmt: skip
    services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert invoice.amount_paid == D("12.35")
    payment = invoice.payments.get()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.stripe_payment_intent_id.startswith("pi_")
    import stripe

    pi = stripe.PaymentIntent.retrieve(payment.stripe_payment_intent_id)
    assert (pi.amount, pi.currency, pi.status) == (1235, "usd", "succeeded")
    assert pi.metadata["invoice_number"] == invoice.number


def test_declined_payment_is_retried_then_past_due_and_holds_orders(stripe_settings, merchant_a, standard_card,
                                                                     django_capture_on_commit_callbacks, mailoutbox):  # fmt: skip
    services.payment_method_add(merchant=merchant_a, payment_method="pm_card_chargeCustomerFail")
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.payments.get().status == Payment.Status.FAILED
    first_retry = invoice.next_payment_attempt
    assert first_retry is not None
    assert Notice.objects.filter(merchant=merchant_a, kind="payment_failed").count() == 1
    assert any("retry" in m.body for m in mailoutbox)
    assert selectors.credit_hold(merchant_a) is False
    now = timezone.now()
    for days in (2, 6, 14):  # the dunning schedule: +1, +3, +7 days
        with django_capture_on_commit_callbacks(execute=True):
            services.invoices_retry_due(now=now + timedelta(days=days))
    invoice.refresh_from_db()
    assert invoice.payments.count() == 4
    assert invoice.status == Invoice.Status.PAST_DUE
    assert invoice.next_payment_attempt is None
    assert "past due" in selectors.credit_hold(merchant_a)
    # the merchant fixes the card and pays now: the hold lifts
    good = services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    services.payment_method_make_default(merchant=merchant_a, method=good)
    services.invoice_pay_now(merchant=merchant_a, invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert selectors.credit_hold(merchant_a) is False


def test_refund_through_stripe_credits_the_invoice(stripe_settings, merchant_a, standard_card,
                                                   django_capture_on_commit_callbacks):  # fmt: skip
    services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    payment = invoice.payments.get()
    services.payment_refund(payment=payment, amount=D("2.00"), reason="damaged in our warehouse")
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.amount_refunded == D("2.00")
    assert (invoice.amount_paid, invoice.amount_credited, invoice.balance) == (
        D("10.35"),
        D("2.00"),
        D("0.00"),
    )


def test_webhook_verifies_signature_and_replay_changes_nothing(stripe_settings, client, merchant_a, standard_card,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks, execute=False)
    payment = Payment.objects.create(merchant=merchant_a, invoice=invoice, amount=invoice.balance,
                                     stripe_payment_intent_id="pi_test_123")  # fmt: skip
    event = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
             "data": {"object": {"id": "pi_test_123", "object": "payment_intent", "amount": 1235,
                                 "metadata": {"payment_id": str(payment.pk)}}}}  # fmt: skip
    bad = post_event(client, event, signature=sign(json.dumps(event).encode(), secret="whsec_wrong"))
    assert bad.status_code == 400
    old = post_event(client, event, signature=sign(json.dumps(event).encode(), ts=int(time.time()) - 3600))
    assert old.status_code == 400  # outside Stripe's 5-minute tolerance
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert StripeEvent.objects.count() == 0

    ok = post_event(client, event)
    assert ok.status_code == 200
    assert ok.json()["result"] == f"payment {payment.pk} succeeded"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (Invoice.Status.PAID, D("12.35"))
    notices = Notice.objects.count()

    replay = post_event(client, event)
    assert replay.status_code == 200
    assert replay.json()["result"] == "duplicate"
    invoice.refresh_from_db()
    assert invoice.amount_paid == D("12.35")
    assert StripeEvent.objects.count() == 1
    assert Notice.objects.count() == notices


def test_dispute_event_is_recorded_and_shown(stripe_settings, client, client_a, merchant_a, standard_card,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks, execute=False)
    Payment.objects.create(merchant=merchant_a, invoice=invoice, amount=invoice.balance, status="succeeded",
                           stripe_payment_intent_id="pi_disputed")  # fmt: skip
    event = {"id": "evt_dp", "type": "charge.dispute.created",
             "data": {"object": {"id": "dp_1", "object": "dispute", "amount": 1235, "currency": "usd",
                                 "payment_intent": "pi_disputed", "reason": "fraudulent",
                                 "status": "needs_response"}}}  # fmt: skip
    assert post_event(client, event).status_code == 200
    dispute = PaymentDispute.objects.get()
    assert (dispute.merchant_id, dispute.amount, dispute.reason) == (merchant_a.pk, D("12.35"), "fraudulent")
    page = client_a.get("/app/billing/").content.decode()
    assert "dp_1" in page
    assert "fraudulent" in page


def test_webhook_without_configured_secret_is_refused(settings, client):
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert post_event(client, {"id": "evt_x", "type": "x", "data": {}}).status_code == 503


def test_payment_method_page_and_pay_button(stripe_settings, client_a, merchant_a, standard_card,
                                            django_capture_on_commit_callbacks):  # fmt: skip
    page = client_a.get("/app/billing/payment-methods/")
    assert page.status_code == 200
    assert "pm_card_visa" in page.content.decode()
    response = client_a.post("/app/billing/payment-methods/", {"payment_method": "pm_card_visa"})
    assert response.status_code == 302
    assert PaymentMethod.objects.for_merchant(merchant_a).count() == 1
    services.account_update(merchant=merchant_a, autopay=False)
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN  # autopay off: waits for the merchant
    response = client_a.post(f"/app/billing/invoices/{invoice.pk}/pay/")
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_setup_intent_of_another_customer_is_refused(stripe_settings, merchant_a, merchant_b):
    """The card form posts back a SetupIntent id: one created for another merchant's customer saves nothing."""
    from billing.exceptions import RejectedProviderError

    seti_b, _ = services.setup_intent_start(merchant=merchant_b)
    with pytest.raises(RejectedProviderError, match="another customer"):
        services.payment_method_add(
            merchant=merchant_a, payment_method="pm_card_visa", setup_intent_id=seti_b
        )
    assert PaymentMethod.objects.count() == 0


def test_a_setup_intent_already_confirmed_by_stripe_js_is_read_not_reconfirmed(stripe_settings, merchant_a):
    import stripe

    seti, _ = services.setup_intent_start(merchant=merchant_a)
    stripe.SetupIntent.confirm(
        seti, payment_method="pm_card_visa"
    )  # what confirmCardSetup did in the browser
    method = services.payment_method_add(
        merchant=merchant_a, payment_method="pm_ignored", setup_intent_id=seti
    )
    assert (method.type, method.last4, method.stripe_payment_method_id) == (
        "card", "4242", stripe.SetupIntent.retrieve(seti).payment_method)  # fmt: skip


def test_removing_the_default_card_detaches_it_at_stripe_and_promotes_the_next(
    stripe_settings, merchant_a, client_a, django_capture_on_commit_callbacks
):
    import stripe

    older = services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    newer = services.payment_method_add(merchant=merchant_a, payment_method="pm_card_visa")
    customer = selectors.account_get(merchant_a).stripe_customer_id
    assert stripe.PaymentMethod.retrieve(older.stripe_payment_method_id).customer == customer
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(f"/app/billing/payment-methods/{older.pk}/remove/", follow=True)
    assert "removed; it will not be charged again" in response.content.decode()
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.removed_at is not None
    assert older.is_default is False
    assert newer.is_default is True
    assert stripe.PaymentMethod.retrieve(older.stripe_payment_method_id).customer is None
    assert stripe.PaymentMethod.retrieve(newer.stripe_payment_method_id).customer == customer
    # removing it again is a no-op, and a detach of a method Stripe no longer knows is not an error
    assert services.payment_method_remove(merchant=merchant_a, method=older) is None
    PaymentMethod.objects.filter(pk=older.pk).update(stripe_payment_method_id="pm_gone_for_good")
    assert services.payment_method_detach(method_id=older.pk) is True


def test_another_merchant_cannot_remove_a_method(stripe_settings, merchant_a, merchant_b, client_a):
    method = services.payment_method_add(merchant=merchant_b, payment_method="pm_card_visa")
    response = client_a.post(f"/app/billing/payment-methods/{method.pk}/remove/")
    assert response.status_code == 404
    method.refresh_from_db()
    assert method.removed_at is None
    assert method.is_default is True


def test_detach_is_retried_while_stripe_is_unreachable(merchant_a, settings):
    from billing import tasks
    from billing.exceptions import RetryableProviderError

    calls = []

    class Down:
        def payment_method_detach(self, *, payment_method_id):
            calls.append(payment_method_id)
            raise RetryableProviderError("connection refused")

    method = PaymentMethod.objects.create(merchant=merchant_a, stripe_payment_method_id="pm_x", last4="4242",
                                          removed_at=timezone.now())  # fmt: skip
    with pytest.raises(RetryableProviderError):
        services.payment_method_detach(method_id=method.pk, gateway=Down())
    assert calls == ["pm_x"]
    assert RetryableProviderError in tasks.payment_method_detach_task.autoretry_for
    live = PaymentMethod.objects.create(merchant=merchant_a, stripe_payment_method_id="pm_live", last4="1111")
    assert (
        services.payment_method_detach(method_id=live.pk, gateway=Down()) is False
    )  # not removed: untouched
    assert calls == ["pm_x"]
