"""Thin views: the public calculator, the merchant's billing pages, the operator's billing desk, Stripe's
webhook receiver."""

from __future__ import annotations

import csv
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from billing import calculator, gateway, insights, selectors, services, shipping
from billing.exceptions import BillingError, PaymentFailed, RejectedProviderError, RetryableProviderError
from billing.forms import (
    AccountForm,
    BankAccountForm,
    CarrierInvoiceForm,
    CommitmentForm,
    DisputeForm,
    MicrodepositForm,
    OverrideForm,
    PaymentMethodForm,
    QuoteForm,
    ResolveForm,
)
from billing.models import (
    BillingAccount,
    ChargeLine,
    CommitmentPeriod,
    Invoice,
    LineDispute,
    Notice,
    OrderCost,
    Payment,
    PaymentDispute,
    PaymentMethod,
    SavedEstimate,
    VolumeCommitment,
)
from billing.pdf import invoice_pdf
from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required

log = logging.getLogger(__name__)


def _page(request, qs, per_page=50):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


# --- Public calculator ------------------------------------------------------------------------------------


def _quote_context(form: QuoteForm, card=None) -> dict:
    card = card or selectors.card_in_force(None)
    quote = calculator.quote(form.to_input(), card=card)
    return {
        "quote": quote,
        "card": card,
        "chart": calculator.chart_svg(quote.chart, highlight=quote.inputs.monthly_orders),
        "breakdown": quote.breakdown(),
    }


@vary_on_headers("HX-Request")
def pricing_page(request):
    data = request.GET if request.GET else None
    form = QuoteForm(
        data or {k: f.initial for k, f in QuoteForm.base_fields.items() if f.initial is not None}
    )
    ctx = {"form": form, "services": shipping.SERVICES, "boxes": shipping.BOXES}
    if form.is_valid():
        ctx.update(_quote_context(form))
    card = ctx.get("card") or selectors.card_in_force(None)
    ctx["published"] = card
    ctx["rate_rows"] = _rate_rows(card)
    template = "billing/pricing.html#results" if request.htmx else "billing/pricing.html"
    return TemplateResponse(request, template, ctx)


def _rate_rows(card) -> list[dict]:
    from billing.pricing import RATE_KEYS

    base = card.tier_for(0)
    return [
        {"key": k, "category": cat, "label": label, "unit": unit, "rate": card.rate(k, base),
         "tiers": [(t.name, card.rate(k, t)) for t in card.tiers]}
        for k, (cat, label, unit) in RATE_KEYS.items() if k in card.rates
    ]  # fmt: skip


@require_POST
def pricing_save(request):
    form = QuoteForm(request.POST)
    if not form.is_valid():
        return TemplateResponse(
            request, "billing/pricing.html", {"form": form, "services": shipping.SERVICES}, status=400
        )
    ctx = _quote_context(form)
    merchant = getattr(request, "merchant", None)
    est = services.estimate_save(
        inputs=form.inputs_json(), quote=ctx["quote"], card=ctx["card"], merchant=merchant
    )
    if merchant is None:
        request.session.setdefault("billing_estimates", [])
        request.session["billing_estimates"] = [*request.session["billing_estimates"], est.token][-20:]
    return redirect("billing_public:estimate", token=est.token)


def pricing_estimate(request, token: str):
    est = get_object_or_404(SavedEstimate, token=token)
    form = QuoteForm(est.inputs)
    if not form.is_valid():
        raise Http404("This estimate can no longer be shown.")
    card = selectors.card_for_versions(est.rate_versions) if est.rate_versions else None
    ctx = {
        "form": form,
        "estimate": est,
        "share_url": request.build_absolute_uri(),
        **_quote_context(form, card),
    }
    ctx["current"] = calculator.quote(form.to_input(), card=selectors.card_in_force(None))
    ctx["calc_url"] = reverse("billing_public:pricing") + "?" + urlencode(est.inputs)
    return TemplateResponse(request, "billing/estimate.html", ctx)


def pricing_rates(request):
    card = selectors.card_in_force(None)
    tables = [(s, shipping.rate_table(s)) for s in shipping.SERVICES]
    return TemplateResponse(request, "billing/rates.html", {"card": card, "rate_rows": _rate_rows(card), "tables": tables,
                                                            "history": selectors.rate_card_history(None)})  # fmt: skip


# --- Merchant pages ---------------------------------------------------------------------------------------


@merchant_required
def overview(request):
    m = request.merchant
    account = services.account_ensure(merchant=m)
    status, reason = selectors.credit_status(m)
    unbilled = ChargeLine.objects.for_merchant(m).filter(invoice__isnull=True)
    ctx = {
        "account": account,
        "credit": {"status": status, "reason": reason},
        "balance": selectors.open_balance(m),
        "unbilled_total": selectors.unbilled_total(m),
        "unbilled_by_category": unbilled.values("category").annotate(a=Sum("amount")).order_by("category"),
        "invoices": selectors.invoice_list(m)[:5],
        "notices": Notice.objects.for_merchant(m)[:8],
        "methods": PaymentMethod.objects.for_merchant(m).filter(removed_at__isnull=True),
        "forecast": selectors.forecast(m),
        "card": selectors.card_in_force(m),
        "next_cycle_end": services.cycle_end(account.cycle, account.next_cycle_start),
        "account_form": AccountForm(initial={"cycle": account.cycle, "autopay": account.autopay}),
        "disputes": PaymentDispute.objects.for_merchant(m)[:5],
    }
    return TemplateResponse(request, "billing/overview.html", ctx)


@merchant_required
@require_POST
def account_settings(request):
    form = AccountForm(request.POST)
    if form.is_valid():
        with audit_context(actor_for_request(request)):
            services.account_update(merchant=request.merchant, cycle=form.cleaned_data["cycle"],
                                    autopay=form.cleaned_data["autopay"])  # fmt: skip
        messages.success(request, "Billing settings saved. A new cycle length applies from the next cycle.")
    else:
        messages.error(request, "Choose a billing cycle.")
    return redirect("billing:overview")


@merchant_required
def invoice_list(request):
    qs = selectors.invoice_list(request.merchant)
    status = request.GET.get("status", "")
    if status in Invoice.Status.values:
        qs = qs.filter(status=status)
    return TemplateResponse(request, "billing/invoices.html", {"page": _page(request, qs), "status": status,
                                                               "statuses": Invoice.Status.choices})  # fmt: skip


@merchant_required
def invoice_detail(request, pk: int):
    invoice = get_for_merchant_or_404(Invoice.objects, request.merchant, pk=pk)
    ctx = {
        "invoice": invoice,
        "groups": selectors.invoice_groups(invoice),
        "summary": selectors.invoice_summary_rows(invoice),
        "payments": invoice.payments.all(),
        "has_method": PaymentMethod.objects.for_merchant(request.merchant)
        .filter(removed_at__isnull=True, status=PaymentMethod.Status.ACTIVE)
        .exists(),
        "in_flight": invoice.payments.filter(
            status__in=[Payment.Status.PENDING, Payment.Status.PROCESSING]
        ).exists(),
        "disputed": set(LineDispute.objects.filter(line__invoice=invoice).values_list("line_id", flat=True)),
    }
    return TemplateResponse(request, "billing/invoice_detail.html", ctx)


@merchant_required
def invoice_pdf_view(request, pk: int):
    invoice = get_for_merchant_or_404(Invoice.objects.select_related("merchant"), request.merchant, pk=pk)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


@merchant_required
@require_POST
def invoice_pay(request, pk: int):
    invoice = get_for_merchant_or_404(Invoice.objects, request.merchant, pk=pk)
    try:
        with audit_context(actor_for_request(request)):
            payment = services.invoice_pay_now(merchant=request.merchant, invoice=invoice)
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        if payment.status == Payment.Status.SUCCEEDED:
            messages.success(request, f"Paid {payment.amount:.2f} {payment.currency}. Thank you!")
        elif payment.status == Payment.Status.PROCESSING:
            messages.success(request, f"Bank debit of {payment.amount:.2f} {payment.currency} submitted; "
                                      "it usually settles in 4 business days.")  # fmt: skip
        else:
            messages.error(
                request, f"The payment did not go through: {payment.failure_message or payment.status}."
            )
    return redirect("billing:invoice_detail", pk=invoice.pk)


@merchant_required
def line_detail(request, pk: int):
    line = get_for_merchant_or_404(ChargeLine.objects.select_related("invoice", "corrects", "source_type"),
                                   request.merchant, pk=pk)  # fmt: skip
    rerated = services.charge_rerate(line)
    ctx = {
        "line": line,
        "rerated": rerated,
        "card": selectors.card_for_versions(line.rate_versions),
        "corrections": line.corrections.all(),
        "disputes": line.disputes.all(),
        "form": DisputeForm(),
        "source_model": line.source_type.model if line.source_type else "",
        "siblings": ChargeLine.objects.for_merchant(request.merchant)
        .filter(source_type=line.source_type, source_id=line.source_id)
        .exclude(pk=line.pk)[:50]
        if line.source_id
        else [],
        "adjustment_evidence": _evidence(line),
        "commitment_period": CommitmentPeriod.objects.for_merchant(request.merchant)
        .filter(charge_line=line)
        .first(),
    }
    return TemplateResponse(request, "billing/line_detail.html", ctx)


def _evidence(line):
    from billing.models import CarrierAdjustment

    return CarrierAdjustment.objects.filter(charge_line=line).first()


@merchant_required
@require_POST
def line_dispute(request, pk: int):
    line = get_for_merchant_or_404(ChargeLine.objects, request.merchant, pk=pk)
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                services.line_dispute_open(
                    merchant=request.merchant, line=line, reason=form.cleaned_data["reason"]
                )
            messages.success(request, "Dispute sent. We answer within two business days.")
        except BillingError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Say what is wrong with this charge.")
    return redirect("billing:line_detail", pk=line.pk)


TEST_CARDS = [
    ("pm_card_visa", "Visa 4242 (succeeds)"),
    ("pm_card_chargeCustomerFail", "Visa 0341 (saves, then charges are declined)"),
    ("pm_card_visa_chargeDeclined", "Visa 0002 (declined when saving)"),
]


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "127.0.0.1"


@merchant_required
def payment_methods(request):
    """Cards (Stripe.js Elements confirms a SetupIntent in the browser; in test mode a Stripe test card can be
    picked instead) and US bank accounts (numbers typed here, mandate accepted, microdeposits verified next)."""
    m = request.merchant
    if request.method == "GET" and request.GET.get("setup_intent"):  # Stripe.js asks for one
        seti_id, secret = services.setup_intent_start(merchant=m)
        return JsonResponse({"id": seti_id, "client_secret": secret})
    is_bank = request.method == "POST" and request.POST.get("kind") == "bank"
    form = PaymentMethodForm(request.POST if request.method == "POST" and not is_bank else None)
    bank_form = BankAccountForm(request.POST if is_bank else None)
    if is_bank and bank_form.is_valid():
        d = bank_form.cleaned_data
        try:
            with audit_context(actor_for_request(request)):
                method = services.bank_account_add(
                    merchant=m, holder_name=d["holder_name"], routing_number=d["routing_number"],
                    account_number=d["account_number"], account_holder_type=d["account_holder_type"],
                    account_type=d["account_type"], ip_address=_client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                )  # fmt: skip
            messages.success(
                request, f"Bank account ending {method.last4} saved. Verify it with the microdeposits."
            )
            return redirect("billing:payment_method_verify", pk=method.pk)
        except (PaymentFailed, RejectedProviderError, RetryableProviderError, BillingError) as exc:
            bank_form.add_error(None, f"The bank account was not saved: {exc}")
    elif request.method == "POST" and not is_bank and form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                method = services.payment_method_add(
                    merchant=m, payment_method=form.cleaned_data["payment_method"],
                    setup_intent_id=form.cleaned_data.get("setup_intent") or "",
                )  # fmt: skip
            messages.success(request, f"Saved {method.brand or method.type} ending {method.last4 or '••••'}.")
            return redirect("billing:payment_methods")
        except (PaymentFailed, RejectedProviderError, RetryableProviderError, BillingError) as exc:
            form.add_error(None, f"The payment method was not saved: {exc}")
    ctx = {
        "form": form,
        "bank_form": bank_form,
        "methods": PaymentMethod.objects.for_merchant(m).filter(removed_at__isnull=True),
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "test_mode": not settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_live"),
        "test_cards": TEST_CARDS,
    }
    failed = form.errors or bank_form.errors
    return TemplateResponse(request, "billing/payment_methods.html", ctx, status=400 if failed else 200)


@merchant_required
def payment_method_verify(request, pk: int):
    """Confirm a bank account's microdeposits: the two amounts, or the code in the deposit's description."""
    method = get_for_merchant_or_404(PaymentMethod.objects, request.merchant, pk=pk)
    form = MicrodepositForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                services.bank_account_verify(
                    merchant=request.merchant, method=method, amounts=form.cleaned_data.get("amounts"),
                    descriptor_code=form.cleaned_data.get("descriptor_code") or "",
                )  # fmt: skip
            messages.success(
                request, f"Bank account ending {method.last4} verified. Invoices can be debited from it."
            )
            return redirect("billing:payment_methods")
        except (RejectedProviderError, RetryableProviderError, BillingError) as exc:
            form.add_error(None, str(exc))
        method.refresh_from_db()
    ctx = {"method": method, "form": form}
    return TemplateResponse(request, "billing/verify_bank.html", ctx, status=400 if form.errors else 200)


@merchant_required
@require_POST
def payment_method_action(request, pk: int, action: str):
    method = get_for_merchant_or_404(PaymentMethod.objects, request.merchant, pk=pk)
    with audit_context(actor_for_request(request)):
        if action == "default":
            services.payment_method_make_default(merchant=request.merchant, method=method)
        elif action == "remove":
            successor = services.payment_method_remove(merchant=request.merchant, method=method)
            note = f" {successor} is now your default." if successor else ""
            messages.success(request, f"{method} removed; it will not be charged again.{note}")
        else:
            raise Http404
    return redirect("billing:payment_methods")


@merchant_required
def costs(request):
    m = request.merchant
    qs = OrderCost.objects.for_merchant(m).order_by("-pk")
    ctx = {
        "page": _page(request, qs),
        "accuracy": insights.accuracy(m),
        "recommendations": insights.recommendations(m),
    }
    return TemplateResponse(request, "billing/costs.html", ctx)


@merchant_required
def order_cost_fragment(request, order_id: int):
    """The order page's cost panel as an HTMX fragment (a foreign or unknown order is a 404)."""
    from billing.panels import order_cost_context

    ctx = order_cost_context(merchant_id=request.merchant.pk, order_id=order_id)
    if ctx is None:
        raise Http404("Not found.")
    return TemplateResponse(request, "billing/_order_cost.html", ctx)


@merchant_required
def volume(request):
    m = request.merchant
    form = CommitmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                services.commitment_set(merchant=m, monthly_orders=form.cleaned_data["monthly_orders"],
                                        term=form.cleaned_data["term"], starts_on=form.cleaned_data["starts_on"])  # fmt: skip
            messages.success(request, "Commitment saved. Its tier applies from the month it covers.")
            return redirect("billing:volume")
        except BillingError as exc:
            form.add_error(None, str(exc))
    card = selectors.card_in_force(m)
    ctx = {
        "form": form,
        "forecast": selectors.forecast(m),
        "commitments": VolumeCommitment.objects.for_merchant(m),
        "periods": _page(request, CommitmentPeriod.objects.for_merchant(m).select_related("charge_line"), 12),
        "scenarios": insights.scenarios(m),
        "tiers": card.tiers,
        "card": card,
    }
    return TemplateResponse(request, "billing/volume.html", ctx, status=400 if form.errors else 200)


@merchant_required
def estimates(request):
    m = request.merchant
    if request.method == "POST":
        token = request.POST.get("token", "").rsplit("/e/", 1)[-1].strip("/ ")
        if services.estimate_claim(merchant=m, token=token):
            messages.success(request, "Estimate added to your account.")
        else:
            messages.error(request, "No unclaimed estimate with that link.")
        return redirect("billing:estimates")
    for token in request.session.pop("billing_estimates", []):
        services.estimate_claim(merchant=m, token=token)
    ctx = {
        "estimates": _page(request, SavedEstimate.objects.filter(merchant=m)),
        "history": selectors.rate_card_history(m),
    }
    return TemplateResponse(request, "billing/estimates.html", ctx)


@merchant_required
def statements(request):
    m = request.merchant
    year = int(request.GET.get("year") or timezone.now().year)
    data = selectors.year_statement(m, year)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="fulfil-statement-{year}.csv"'
        w = csv.writer(response)
        w.writerow(
            ["invoice", "issued", "period_start", "period_end", "subtotal", "tax", "total", "paid", "status"]
        )
        for inv in data["invoices"]:
            w.writerow([inv.number, inv.issued_at.date(), inv.period_start, inv.period_end, inv.subtotal, inv.tax,
                        inv.total, inv.amount_paid, inv.status])  # fmt: skip
        w.writerow([])
        w.writerow(["category", "tax_rate", "amount", "tax"])
        for row in data["by_category"]:
            w.writerow([row["category"], row["tax_rate"], row["amount"], row["tax"]])
        return response
    years = sorted(
        {d.year for d in Invoice.objects.for_merchant(m).dates("issued_at", "year")} | {year}, reverse=True
    )
    payments = _page(request, Payment.objects.for_merchant(m).select_related("invoice"))
    return TemplateResponse(
        request, "billing/statements.html", {**data, "years": years, "payments_page": payments}
    )


# --- Operator desk ------------------------------------------------------------------------------------------


def _operator(request):
    if not request.user.is_authenticated:
        return redirect(f"{settings.LOGIN_URL}?next={request.path}")
    if not request.user.is_operator:
        raise Http404
    return None


def operator_desk(request):
    if (resp := _operator(request)) is not None:
        return resp
    from accounts.models import Merchant

    result = None
    if request.method == "POST":
        action = request.POST.get("action")
        with audit_context(actor_for_request(request)):
            if action == "override":
                form = OverrideForm(request.POST)
                if form.is_valid():
                    merchant = get_object_or_404(Merchant, pk=form.cleaned_data["merchant_id"])
                    services.credit_override_set(merchant=merchant, allow=form.cleaned_data["allow"],
                                                 reason=form.cleaned_data["reason"] or "")  # fmt: skip
                    services.account_update(merchant=merchant, credit_limit=form.cleaned_data.get("credit_limit"),
                                            terms_days=form.cleaned_data.get("terms_days"))  # fmt: skip
                    messages.success(request, f"Saved credit settings for {merchant.name}.")
            elif action == "resolve":
                form = ResolveForm(request.POST)
                dispute = get_object_or_404(LineDispute, pk=request.POST.get("dispute_id"))
                if form.is_valid():
                    try:
                        services.line_dispute_resolve(dispute=dispute, accept=form.cleaned_data["accept"],
                                                      resolution=form.cleaned_data["resolution"] or "",
                                                      credit=form.cleaned_data.get("credit"))  # fmt: skip
                        messages.success(request, "Dispute resolved.")
                    except BillingError as exc:
                        messages.error(request, str(exc))
            elif action == "carrier_invoice":
                form = CarrierInvoiceForm(request.POST, request.FILES)
                if form.is_valid():
                    try:
                        content = form.cleaned_data["file"].read().decode("utf-8-sig")
                        result = services.carrier_invoice_import(content=content,
                                                                 import_ref=form.cleaned_data["reference"])  # fmt: skip
                    except (BillingError, UnicodeDecodeError) as exc:
                        messages.error(request, f"Could not import: {exc}")
            elif action == "run_invoices":
                ids = services.invoices_issue_due()
                messages.success(request, f"Issued {len(ids)} invoices.")
        if result is None:
            return redirect("billing:operator")
    accounts = []
    for account in BillingAccount.objects.select_related("merchant").order_by("merchant__name")[:500]:
        status, reason = selectors.credit_status(account.merchant)
        accounts.append({"account": account, "status": status, "reason": reason,
                         "balance": selectors.open_balance(account.merchant)})  # fmt: skip
    ctx = {
        "accounts": accounts,
        "disputes": LineDispute.objects.filter(status=LineDispute.Status.OPEN).select_related(
            "line", "merchant"
        ),
        "carrier_form": CarrierInvoiceForm(),
        "result": result,
    }
    return TemplateResponse(request, "billing/operator.html", ctx)


# --- Stripe webhook -----------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verifies ``Stripe-Signature`` against ``STRIPE_WEBHOOK_SECRET``; idempotent on the event id."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        return HttpResponse("Webhook secret not configured.", status=503)
    try:
        gateway.construct_event(request.body, request.headers.get("Stripe-Signature", ""))
    except ValueError:
        return HttpResponseBadRequest("Invalid payload.")
    except Exception as exc:  # stripe.SignatureVerificationError
        log.warning("stripe webhook: bad signature: %s", exc)
        return HttpResponseBadRequest("Invalid signature.")
    payload = json.loads(request.body)
    with audit_context(actor_for_request(request, source="webhook")):
        result = services.stripe_event_process(event=payload)
    return HttpResponse(json.dumps({"result": result}), content_type="application/json")
