from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from accounts import services, sms
from accounts.forms import BusinessProfileForm, PhoneCodeForm, PhoneForm
from accounts.models import ApiKey, PhoneVerification
from fulfil import onboarding
from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import SESSION_KEY, merchant_required


@login_required
def profile(request):
    """The business profile: the step right after sign-up, and the settings page afterwards."""
    merchant = request.merchant
    form = BusinessProfileForm(request.POST or None, instance=merchant)
    if request.method == "POST" and form.is_valid():
        with audit_context(actor_for_request(request)):
            if merchant is None:
                data = dict(form.cleaned_data)
                merchant = services.merchant_create(
                    owner=request.user, name=data.pop("name"), contact_email=request.user.email, **data
                )
                request.session[SESSION_KEY] = merchant.pk
                messages.success(request, f"Welcome to Fulfil, {merchant.name}.")
            else:
                services.merchant_update_profile(
                    merchant=merchant, **{f: form.cleaned_data[f] for f in form.changed_data}
                )
                messages.success(request, "Profile saved.")
        return redirect("dashboard")
    return TemplateResponse(request, "accounts/profile.html", {"form": form, "first_time": merchant is None})


@merchant_required
def dashboard(request):
    return TemplateResponse(
        request, "accounts/dashboard.html", {"progress": onboarding.progress(request.merchant)}
    )


@login_required
@require_POST
def switch_merchant(request):
    merchant_id = request.POST.get("merchant_id", "")
    if (
        not merchant_id.isdigit()
        or not request.user.memberships.filter(merchant_id=int(merchant_id)).exists()
    ):
        raise Http404("Not found.")
    request.session[SESSION_KEY] = int(merchant_id)
    return redirect("dashboard")


@merchant_required
def api_keys(request):
    new_key = None
    if request.method == "POST":
        name = (request.POST.get("name") or "API key").strip()[:100]
        with audit_context(actor_for_request(request)):
            _, new_key = services.api_key_create(user=request.user, membership=request.membership, name=name)
    keys = ApiKey.objects.filter(membership__merchant=request.merchant, user=request.user).order_by(
        "-created_at"
    )
    return TemplateResponse(request, "accounts/api_keys.html", {"keys": keys, "new_key": new_key})


@merchant_required
@require_POST
def api_key_revoke(request, pk: int):
    key = ApiKey.objects.filter(pk=pk, membership__merchant=request.merchant, user=request.user).first()
    if key is None:
        raise Http404("Not found.")
    with audit_context(actor_for_request(request)):
        services.api_key_revoke(key=key)
    messages.success(request, f"Key {key.prefix}… revoked.")
    return redirect("accounts:api_keys")


@login_required
def phone(request):
    """Phone verification by SMS code: enter the number, a 6-digit code is texted, enter the code."""
    user = request.user
    region = request.merchant.country if request.merchant else "US"
    phone_form = PhoneForm(initial={"phone": user.phone})
    code_form = PhoneCodeForm()
    status, retry_after = 200, 0
    if request.method == "POST" and "code" in request.POST:
        code_form = PhoneCodeForm(request.POST)
        if code_form.is_valid():
            try:
                with audit_context(actor_for_request(request)):
                    ok = services.phone_verification_confirm(user=user, code=code_form.cleaned_data["code"])
            except services.PhoneVerificationError as exc:
                code_form.add_error("code", str(exc))
            else:
                if ok:
                    messages.success(request, f"Your phone number {user.phone} is verified.")
                    return redirect("dashboard")
                left = services.phone_verification_open(user=user)
                code_form.add_error(
                    "code",
                    f"That code is not right. {PhoneVerification.MAX_ATTEMPTS - left.attempts} tries left."
                    if left
                    else "That code is not right, and it was the last try. Send a new code.",
                )
    elif request.method == "POST":
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            try:
                with audit_context(actor_for_request(request)):
                    sent = services.phone_verification_start(
                        user=user, phone=phone_form.cleaned_data["phone"], region=region
                    )
            except ValidationError as exc:
                phone_form.add_error("phone", exc)
            except services.PhoneRateLimited as exc:
                phone_form.add_error(None, str(exc))
                status, retry_after = 429, exc.retry_after
            except sms.SmsRejected as exc:
                phone_form.add_error("phone", f"We could not text this number: {exc}")
            except sms.SmsUnavailable:
                phone_form.add_error(None, "Text messages cannot be sent right now. Try again in a minute.")
                status = 503
            else:
                messages.success(request, f"We sent a 6-digit code to {sent.phone}.")
                return redirect("accounts:phone")
    pending = None if request.GET.get("change") else services.phone_verification_open(user=user)
    if pending is None and code_form.errors:
        phone_form.add_error(None, code_form.errors["code"][0])
    response = TemplateResponse(
        request,
        "accounts/phone.html",
        {"phone_form": phone_form, "code_form": code_form, "pending": pending},
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response
