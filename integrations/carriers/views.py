"""Carrier screens: accounts (merchant's own and the operator's), shipping rules, rate comparison,
shipments with tracking, address proposals, scan forms. Thin: parse, authorise, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required

from . import selectors, services
from .base import Address, Parcel, ShipOptions
from .exceptions import ProviderError, ShipmentStateError
from .forms import CarrierAccountForm, RatesForm, ShippingRuleForm
from .models import AddressProposal, CarrierAccount, ScanForm, ServiceLevel, Shipment

OPERATORS_ONLY = "Operator carrier accounts and scan forms are managed by Fulfil's operator staff."


def _vary(response):
    response["Vary"] = "HX-Request"
    return response


def _account_for(request, pk: int) -> CarrierAccount:
    """A merchant sees only its own accounts; operator accounts only to operators. Anything else is 404."""
    account = CarrierAccount.objects.filter(pk=pk).first()
    if account is None:
        raise Http404("Not found.")
    if account.merchant_id is None:
        if not request.user.is_operator:
            raise Http404("Not found.")
    elif request.merchant is None or account.merchant_id != request.merchant.pk:
        raise Http404("Not found.")
    return account


@merchant_required
def account_list(request):
    ctx = {
        "accounts": selectors.carrier_account_list(merchant=request.merchant),
        "operator_accounts": selectors.carrier_account_list(operator=True).filter(is_enabled=True),
        "rules": {r.service_level: r for r in selectors.ShippingRule.objects.for_merchant(request.merchant)},
        "levels": ServiceLevel.choices,
        "scope": "merchant",
    }
    return TemplateResponse(request, "carriers/accounts.html", ctx)


def operator_account_list(request):
    if not request.user.is_authenticated or not request.user.is_operator:
        raise PermissionDenied(OPERATORS_ONLY)
    ctx = {
        "accounts": selectors.carrier_account_list(operator=True),
        "scope": "operator",
        "scan_forms": ScanForm.objects.select_related("account")[:20],
    }
    return TemplateResponse(request, "carriers/accounts.html", ctx)


def account_new(request):
    operator = request.GET.get("scope") == "operator" or request.POST.get("scope") == "operator"
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next={request.path}")
    if operator and not request.user.is_operator:
        raise PermissionDenied(OPERATORS_ONLY)
    if not operator and request.merchant is None:
        return redirect("accounts:profile")
    form = CarrierAccountForm(request.POST or None, creating=True)
    if request.method == "POST" and form.is_valid():
        with audit_context(actor_for_request(request)):
            account = services.carrier_account_create(
                merchant=None if operator else request.merchant,
                api_key=form.cleaned_data["api_key"],
                webhook_secret=form.cleaned_data["webhook_secret"],
                **form.service_fields(),
            )
        messages.success(request, f"{account.name} added. Test it to check the key.")
        return redirect("carriers:account", pk=account.pk)
    return TemplateResponse(request, "carriers/account_form.html", {"form": form, "operator": operator})


def account_detail(request, pk: int):
    if not request.user.is_authenticated:
        return redirect(f"/accounts/login/?next={request.path}")
    account = _account_for(request, pk)
    form = CarrierAccountForm(request.POST or None, initial=CarrierAccountForm.initial_for(account))
    if request.method == "POST" and form.is_valid():
        with audit_context(actor_for_request(request)):
            services.carrier_account_update(
                account=account,
                api_key=form.cleaned_data["api_key"],
                webhook_secret=form.cleaned_data["webhook_secret"] or None,
                **form.service_fields(),
            )
        messages.success(request, "Saved.")
        return redirect("carriers:account", pk=account.pk)
    return TemplateResponse(
        request,
        "carriers/account_form.html",
        {"form": form, "account": account, "operator": account.is_operator_owned},
    )


@require_POST
def account_test(request, pk: int):
    if not request.user.is_authenticated:
        raise Http404("Not found.")
    account = _account_for(request, pk)
    with audit_context(actor_for_request(request)):
        ok, message = services.carrier_account_test(account=account)
    account.refresh_from_db()
    if request.headers.get("HX-Request"):
        return _vary(
            TemplateResponse(
                request, "carriers/account_form.html#test", {"account": account, "message": message, "ok": ok}
            )
        )
    (messages.success if ok else messages.error)(request, message)
    return redirect("carriers:account", pk=account.pk)


@require_POST
def account_toggle(request, pk: int):
    if not request.user.is_authenticated:
        raise Http404("Not found.")
    account = _account_for(request, pk)
    with audit_context(actor_for_request(request)):
        services.carrier_account_set_enabled(account=account, enabled=not account.is_enabled)
    return redirect("carriers:operator_accounts" if account.is_operator_owned else "carriers:accounts")


@merchant_required
def rules_edit(request, level: str):
    if level not in ServiceLevel.values:
        raise Http404("Not found.")
    current = selectors.shipping_rule_for(merchant=request.merchant, service_level=level)
    initial = (
        {"rule": current.rule, "max_days": current.max_days, "preferred_carrier": current.preferred_carrier}
        if current
        else {}
    )
    form = ShippingRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                services.shipping_rule_set(
                    merchant=request.merchant, service_level=level, **form.cleaned_data
                )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{level.title()} orders: rule saved.")
            return redirect("carriers:accounts")
    return TemplateResponse(request, "carriers/rule_form.html", {"form": form, "level": level})


@merchant_required
def rates_compare(request):
    form = RatesForm(request.POST or None, initial={"country": "US", "service_level": "standard"})
    ctx: dict = {"form": form}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            origin = selectors.ship_from_warehouse(merchant=request.merchant)
            result = services.rates_shop(
                merchant=request.merchant,
                parcel=Parcel(
                    weight_g=d["weight_g"],
                    length_mm=d["length_mm"] or 0,
                    width_mm=d["width_mm"] or 0,
                    height_mm=d["height_mm"] or 0,
                    hazmat=d["hazmat"],
                    lithium=d["lithium"],
                ),
                to_address=Address(
                    street1=d["street1"],
                    city=d["city"],
                    state=d["state"],
                    postal_code=d["postal_code"],
                    country=d["country"].upper(),
                ),
                from_warehouse=origin,
                service_level=d["service_level"],
                options=ShipOptions(signature=d["signature"] or "", insurance_amount=d["insurance_amount"]),
                raise_if_empty=False,
            )
        except LookupError as exc:
            ctx["error"] = str(exc)
        else:
            ctx["result"] = result
            if not result.ranked:
                ctx["error"] = "no rate available: " + ", ".join(services.no_rate_reasons(result))
    template = "carriers/rates.html#results" if request.headers.get("HX-Request") else "carriers/rates.html"
    return _vary(TemplateResponse(request, template, ctx))


@merchant_required
def shipment_list(request):
    qs = selectors.shipment_list(
        merchant=request.merchant,
        tracking_number=request.GET.get("tracking_number", "").strip(),
        status=request.GET.get("status", "").strip(),
    )
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(tracking_number__icontains=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ctx = {"page": page, "q": q, "statuses": Shipment.Status.choices, "status": request.GET.get("status", "")}
    template = (
        "carriers/shipments.html#rows" if request.headers.get("HX-Request") else "carriers/shipments.html"
    )
    return _vary(TemplateResponse(request, template, ctx))


@merchant_required
def shipment_detail(request, pk: int):
    shipment = get_for_merchant_or_404(
        Shipment.objects.select_related("account", "order"), request.merchant, pk=pk
    )
    return TemplateResponse(
        request,
        "carriers/shipment.html",
        {"shipment": shipment, "events": shipment.tracking_events.order_by("-occurred_at", "-pk")},
    )


@require_POST
@merchant_required
def shipment_void(request, pk: int):
    shipment = get_for_merchant_or_404(Shipment.objects, request.merchant, pk=pk)
    try:
        with audit_context(actor_for_request(request)):
            services.shipment_void(merchant=request.merchant, shipment=shipment)
    except (ShipmentStateError, ProviderError) as exc:
        messages.error(request, str(exc))
        if request.headers.get("HX-Request"):
            return TemplateResponse(
                request, "carriers/shipment.html#notice", {"message": str(exc)}, status=409
            )
    else:
        messages.success(request, "Label voided; the refund is submitted to the carrier.")
    return redirect("carriers:shipment", pk=shipment.pk)


@merchant_required
def address_list(request):
    page = Paginator(selectors.address_proposal_list(merchant=request.merchant), 50).get_page(
        request.GET.get("page")
    )
    return TemplateResponse(request, "carriers/addresses.html", {"page": page})


@require_POST
@merchant_required
def address_decide(request, pk: int):
    proposal = get_for_merchant_or_404(AddressProposal.objects, request.merchant, pk=pk)
    accept = request.POST.get("accept") == "1"
    try:
        with audit_context(actor_for_request(request)):
            services.address_proposal_decide(merchant=request.merchant, proposal=proposal, accept=accept)
    except Exception as exc:  # a refused order change (e.g. already picking) is shown, not a 500
        messages.error(request, f"Not applied: {exc}")
    else:
        messages.success(request, "Corrected address applied." if accept else "Kept the address as entered.")
    return redirect("carriers:addresses")


@require_POST
def scan_forms_create(request):
    if not request.user.is_authenticated or not request.user.is_operator:
        raise PermissionDenied(OPERATORS_ONLY)
    with audit_context(actor_for_request(request)):
        forms = services.scanforms_end_of_day()
    messages.success(request, f"{len(forms)} scan form(s) created.")
    return redirect("carriers:operator_accounts")
