"""US bank accounts (ACH Direct Debit) through the real ``stripe`` client against localstripe + localstripe_ext:
SetupIntent with the mandate, microdeposit verification, invoices debited (processing → webhook → paid or
dunning)."""

from __future__ import annotations

import json
import time
from decimal import Decimal as D

import httpx
import pytest
import stripe

from billing import gateway, selectors, services
from billing.exceptions import BillingError, MicrodepositMismatch
from billing.models import Invoice, Notice, Payment, PaymentMethod, StripeEvent
from fulfil import onboarding
from tests.billing.test_stripe import issued_invoice, sign

pytestmark = pytest.mark.django_db

OK_ACCOUNT = "000123456789"
CLOSED_ACCOUNT = "000111111116"
ROUTING = "110000000"


def add_bank(merchant, account=OK_ACCOUNT, **kw):
    return services.bank_account_add(
        merchant=merchant, holder_name="Acme Goods LLC", routing_number=ROUTING, account_number=account,
        account_holder_type="company", account_type="checking", ip_address="10.0.0.7",
        user_agent="pytest-browser/1.0", **kw,
    )  # fmt: skip


def verified_bank(merchant, account=OK_ACCOUNT) -> PaymentMethod:
    method = add_bank(merchant, account)
    return services.bank_account_verify(merchant=merchant, method=method, descriptor_code="SM11AA")


def deliver_events(client, *, types: tuple[str, ...], after: int = 0, object_id: str = "") -> list[str]:
    """Stripe's webhook deliveries, from the fake's event log, signed and posted to our receiver. The fake is
    shared by the session's tests and ``created`` has one-second resolution: ``object_id`` keeps only the
    events about that object."""
    gateway.StripeProcessor()  # points the client at the fake
    events = sorted(
        stripe.Event.list(limit=100).data, key=lambda e: e.created
    )  # stable: the fake lists in order
    results = []
    for event in events:
        if event.type in types and event.created >= after and object_id in ("", event.data.object.id):
            body = json.dumps(event.to_dict()).encode()
            response = client.post("/integrations/stripe/webhooks/", body, content_type="application/json",
                                   HTTP_STRIPE_SIGNATURE=sign(body))  # fmt: skip
            assert response.status_code == 200
            results.append(response.json()["result"])
    return results


def wait_settled(payment_intent_id: str, timeout: float = 5.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = stripe.PaymentIntent.retrieve(payment_intent_id).status
        if status != "processing":
            return status
        time.sleep(0.1)
    raise AssertionError("the ACH debit never settled")


@pytest.fixture
def amounts_mode(stripe_settings, localstripe_url):
    httpx.post(f"{localstripe_url}/_config/microdeposit_type", data={"type": "amounts"})
    yield
    httpx.post(f"{localstripe_url}/_config/microdeposit_type", data={"type": "descriptor_code"})


def test_bank_account_waits_for_microdeposits_then_verifies_with_the_code(stripe_settings, merchant_a):
    step = next(s for s in onboarding.steps() if s.key == "payment_method")
    method = add_bank(merchant_a)
    assert (method.type, method.status, method.last4, method.brand, method.account_type) == (
        "us_bank_account", "pending_verification", "6789", "STRIPE TEST BANK", "checking")  # fmt: skip
    assert method.microdeposit_type == "descriptor_code"
    assert method.verification_url.startswith("https://payments.stripe.com/microdeposit/")
    assert (method.mandate_ip, method.mandate_user_agent) == ("10.0.0.7", "pytest-browser/1.0")
    assert method.mandate_accepted_at is not None
    assert method.is_default is False
    assert not step.is_done(merchant_a)  # a bank account counts once verified
    si = stripe.SetupIntent.retrieve(method.stripe_setup_intent_id)
    assert (si.status, si.next_action.type) == ("requires_action", "verify_with_microdeposits")
    assert si.payment_method_options["us_bank_account"]["verification_method"] == "microdeposits"

    with pytest.raises(MicrodepositMismatch) as exc:
        services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="SM99ZZ")
    assert exc.value.code == "payment_method_microdeposit_verification_descriptor_code_mismatch"
    assert "9 verification attempts remaining" in str(exc.value)
    method.refresh_from_db()
    assert (method.status, method.mandate_id) == ("pending_verification", "")
    assert "does not match" in method.verification_error

    method = services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="sm11aa")
    assert (method.status, method.is_default, method.verification_error) == ("active", True, "")
    assert method.mandate_id.startswith("mandate_")
    assert step.is_done(merchant_a)
    mandate = stripe.Mandate.retrieve(method.mandate_id)
    assert (mandate.status, mandate.type, mandate.payment_method) == (
        "active", "multi_use", method.stripe_payment_method_id)  # fmt: skip
    assert mandate.customer_acceptance.online.ip_address == "10.0.0.7"
    assert mandate.customer_acceptance.online.user_agent == "pytest-browser/1.0"
    pm = stripe.PaymentMethod.retrieve(method.stripe_payment_method_id)
    assert pm.customer == selectors.account_get(merchant_a).stripe_customer_id
    # verifying again changes nothing
    again = services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="SM11AA")
    assert (again.status, again.mandate_id) == ("active", method.mandate_id)


def test_amount_microdeposits(stripe_settings, merchant_a, amounts_mode):
    method = add_bank(merchant_a)
    assert method.microdeposit_type == "amounts"
    with pytest.raises(MicrodepositMismatch) as exc:
        services.bank_account_verify(merchant=merchant_a, method=method, amounts=[10, 11])
    assert exc.value.code == "payment_method_microdeposit_verification_amounts_mismatch"
    method = services.bank_account_verify(merchant=merchant_a, method=method, amounts=[45, 32])
    assert method.status == "active"


def test_ten_wrong_attempts_fail_the_account(stripe_settings, merchant_a):
    method = add_bank(merchant_a)
    for _ in range(9):
        with pytest.raises(MicrodepositMismatch):
            services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="SM00XX")
    with pytest.raises(MicrodepositMismatch) as exc:
        services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="SM00XX")
    assert exc.value.code == "payment_method_microdeposit_verification_attempts_exceeded"
    method.refresh_from_db()
    assert method.status == "verification_failed"
    with pytest.raises(BillingError, match="can no longer be verified"):
        services.bank_account_verify(merchant=merchant_a, method=method, descriptor_code="SM11AA")
    method.refresh_from_db()
    assert (method.status, method.mandate_id) == ("verification_failed", "")


def test_unverified_bank_account_is_never_charged(stripe_settings, merchant_a, standard_card,
                                                  django_capture_on_commit_callbacks):  # fmt: skip
    add_bank(merchant_a)
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.payments.count() == 0
    assert Notice.objects.filter(merchant=merchant_a, kind="payment_method_missing").count() == 1


def test_invoice_paid_by_ach_debit_processing_then_webhook(stripe_settings, client, merchant_a, standard_card,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    method = verified_bank(merchant_a)
    started = int(time.time())
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    payment = invoice.payments.get()
    assert (payment.status, payment.amount, payment.payment_method_id) == (
        "processing",
        D("12.35"),
        method.pk,
    )
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("open", D("0.00"), D("12.35"))
    assert Notice.objects.filter(merchant=merchant_a, kind="payment_processing").count() == 1
    pi = stripe.PaymentIntent.retrieve(payment.stripe_payment_intent_id)
    assert (pi.amount, pi.status, pi.mandate, pi.payment_method_types) == (
        1235, "processing", method.mandate_id, ["us_bank_account"])  # fmt: skip
    # a second collection run while the debit settles does not debit twice
    assert services.invoice_collect(invoice_id=invoice.pk) is None
    assert invoice.payments.count() == 1

    assert wait_settled(pi.id) == "succeeded"
    results = deliver_events(client, types=("payment_intent.processing", "payment_intent.succeeded"),
                             after=started, object_id=pi.id)  # fmt: skip
    assert results == [f"payment {payment.pk} processing", f"payment {payment.pk} succeeded"]
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("paid", D("12.35"), D("0.00"))
    assert payment.status == "succeeded"
    assert selectors.credit_hold(merchant_a) is False
    # Stripe retries deliveries: the replay changes nothing
    events = StripeEvent.objects.count()
    replay = deliver_events(client, types=("payment_intent.succeeded",), after=started, object_id=pi.id)
    assert replay == ["duplicate"]
    assert StripeEvent.objects.count() == events
    invoice.refresh_from_db()
    assert invoice.amount_paid == D("12.35")


def test_failed_ach_debit_is_dunned_like_a_card(stripe_settings, client, merchant_a, standard_card, mailoutbox,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    verified_bank(merchant_a, account=CLOSED_ACCOUNT)
    started = int(time.time())
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks)
    payment = invoice.payments.get()
    assert payment.status == "processing"
    assert wait_settled(payment.stripe_payment_intent_id) == "requires_payment_method"
    with django_capture_on_commit_callbacks(execute=True):
        results = deliver_events(
            client,
            types=("payment_intent.payment_failed",),
            after=started,
            object_id=payment.stripe_payment_intent_id,
        )
    assert results == [f"payment {payment.pk} failed"]
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_message) == (
        "failed",
        "The customer's bank account has been closed.",
    )
    assert invoice.status == "open"
    assert invoice.next_payment_attempt is not None
    assert Notice.objects.filter(merchant=merchant_a, kind="payment_failed").count() == 1
    assert any("bank account has been closed" in m.body and "retry" in m.body for m in mailoutbox)


def test_verified_on_stripes_hosted_page_arrives_by_webhook(stripe_settings, client, merchant_a):
    method = add_bank(merchant_a)
    started = int(time.time())
    stripe.SetupIntent.verify_microdeposits(method.stripe_setup_intent_id, descriptor_code="SM11AA")
    assert deliver_events(
        client, types=("setup_intent.succeeded",), after=started, object_id=method.stripe_setup_intent_id
    ) == [f"payment method {method.pk} verified"]
    method.refresh_from_db()
    assert (method.status, method.is_default) == ("active", True)
    assert method.mandate_id.startswith("mandate_")


def test_bank_pages_add_and_verify(stripe_settings, client_a, merchant_a):
    page = client_a.get("/app/billing/payment-methods/")
    assert page.status_code == 200
    assert "Add a US bank account" in page.content.decode()
    form = {"kind": "bank", "holder_name": "Acme Goods LLC", "routing_number": ROUTING,
            "account_number": OK_ACCOUNT, "account_number_again": OK_ACCOUNT, "account_holder_type": "company",
            "account_type": "checking", "mandate": "on"}  # fmt: skip
    refused = client_a.post("/app/billing/payment-methods/", {**form, "mandate": ""})
    assert refused.status_code == 400
    mismatch = client_a.post(
        "/app/billing/payment-methods/", {**form, "account_number_again": "000123456780"}
    )
    assert mismatch.status_code == 400
    assert "do not match" in mismatch.content.decode()
    assert PaymentMethod.objects.count() == 0
    response = client_a.post("/app/billing/payment-methods/", form, HTTP_USER_AGENT="Mozilla/5.0 test")
    method = PaymentMethod.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/app/billing/payment-methods/{method.pk}/verify/"
    assert (method.mandate_ip, method.mandate_user_agent) == ("127.0.0.1", "Mozilla/5.0 test")
    verify = client_a.get(response["Location"]).content.decode()
    assert "starting with <strong>SM</strong>" in verify
    wrong = client_a.post(response["Location"], {"descriptor_code": "SM22BB"})
    assert wrong.status_code == 400
    assert "does not match" in wrong.content.decode()
    ok = client_a.post(response["Location"], {"descriptor_code": "SM11AA"})
    assert ok.status_code == 302
    method.refresh_from_db()
    assert method.status == "active"
    listing = client_a.get("/app/billing/payment-methods/").content.decode()
    assert f"ACH mandate {method.mandate_id}" in listing


def test_payment_status_processing_is_not_pending(stripe_settings, merchant_a, standard_card,
                                                  django_capture_on_commit_callbacks):  # fmt: skip
    invoice = issued_invoice(merchant_a, django_capture_on_commit_callbacks, execute=False)
    payment = Payment.objects.create(merchant=merchant_a, invoice=invoice, amount=invoice.balance)
    services.payment_processing(payment_id=payment.pk, payment_intent_id="pi_x")
    services.payment_succeeded(payment_id=payment.pk)
    services.payment_processing(payment_id=payment.pk, payment_intent_id="pi_x")  # a late event
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_verify_page_with_amounts(stripe_settings, client_a, merchant_a, amounts_mode):
    method = add_bank(merchant_a)
    url = f"/app/billing/payment-methods/{method.pk}/verify/"
    page = client_a.get(url).content.decode()
    assert "two deposits under $1.00" in page
    assert client_a.post(url, {"amount_1": "32"}).status_code == 400  # both amounts needed
    wrong = client_a.post(url, {"amount_1": "12", "amount_2": "34"})
    assert wrong.status_code == 400
    assert "do not match the amounts" in wrong.content.decode()
    method.refresh_from_db()
    assert method.status == "pending_verification"
    assert client_a.post(url, {"amount_1": "32", "amount_2": "45"}).status_code == 302
    method.refresh_from_db()
    assert method.status == "active"
