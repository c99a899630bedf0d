"""Tenancy: the one mechanism that scopes merchant-facing queries.

Every tenant-owned model inherits ``TenantModel`` (an indexed ``merchant`` foreign key) and its default
manager offers ``.for_merchant(merchant)``. The request's merchant is resolved once, by
``CurrentMerchantMiddleware``, from the user's memberships (API keys resolve it in their authentication
class); views read ``request.merchant`` and pass it explicitly to selectors and services, which always
filter with ``for_merchant``. A foreign or unknown id therefore resolves to "does not exist" — a 404.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.db import models
from django.http import Http404
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse

SESSION_KEY = "current_merchant_id"


class TenantQuerySet(models.QuerySet):
    def for_merchant(self, merchant) -> TenantQuerySet:
        if merchant is None:
            return self.none()
        merchant_id = merchant if isinstance(merchant, int) else merchant.pk
        return self.filter(merchant_id=merchant_id)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    pass


class TenantModel(models.Model):
    merchant = models.ForeignKey(
        "accounts.Merchant", on_delete=models.CASCADE, db_index=True, related_name="+"
    )

    objects = TenantManager()

    class Meta:
        abstract = True


def get_for_merchant_or_404(queryset, merchant, **lookup):
    """``get_object_or_404`` that can only ever see the merchant's own rows."""
    qs = (
        queryset.for_merchant(merchant)
        if hasattr(queryset, "for_merchant")
        else queryset.filter(merchant=merchant)
    )
    try:
        return qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Not found.") from exc


class CurrentMerchantMiddleware:
    """Sets ``request.merchant`` and ``request.membership`` for signed-in users."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.merchant = None
        request.membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            from django.apps import apps

            membership_model = apps.get_model(settings.AUTH_USER_MODEL.split(".")[0], "Membership")
            memberships = membership_model.objects.filter(user=user, merchant__is_active=True).select_related(
                "merchant"
            )
            wanted = request.session.get(SESSION_KEY)
            chosen = None
            if wanted:
                chosen = memberships.filter(merchant_id=wanted).first()
            if chosen is None:
                chosen = memberships.order_by("pk").first()
                if chosen is not None:
                    request.session[SESSION_KEY] = chosen.merchant_id
            if chosen is not None:
                request.membership = chosen
                request.merchant = chosen.merchant
        return self.get_response(request)


def operator_home_url() -> str:
    """Where operator staff (warehouse associates, managers, operator admins) land: the warehouse screens."""
    try:
        return reverse("warehouse:home")
    except NoReverseMatch:
        return "/app/warehouse/"


def merchant_required(view):
    """The view needs a signed-in user with a current merchant; without one, onboarding starts — except for
    operator staff without a merchant, who are sent to the warehouse screens."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"{settings.LOGIN_URL}?next={request.path}")
        if request.merchant is None:
            if getattr(request.user, "is_operator", False):
                return redirect(operator_home_url())
            return redirect("accounts:profile")
        return view(request, *args, **kwargs)

    return wrapper


def merchant_context(request):
    return {
        "merchant": getattr(request, "merchant", None),
        "membership": getattr(request, "membership", None),
    }
