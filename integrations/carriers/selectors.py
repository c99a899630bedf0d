"""Reads of the carrier layer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from .models import ACTIVE_TRACKING, AddressProposal, CarrierAccount, Shipment, ShippingRule


def carrier_accounts_usable(*, merchant) -> QuerySet[CarrierAccount]:
    """Enabled accounts a merchant's parcels may ship on: its own plus the operator's."""
    merchant_id = merchant if isinstance(merchant, int) or merchant is None else merchant.pk
    return CarrierAccount.objects.filter(
        Q(merchant_id=merchant_id) | Q(merchant__isnull=True), is_enabled=True
    ).order_by("-priority", "pk")


def carrier_account_list(*, merchant=None, operator: bool = False) -> QuerySet[CarrierAccount]:
    if operator:
        return CarrierAccount.objects.filter(merchant__isnull=True).order_by("carrier", "name", "pk")
    return CarrierAccount.objects.for_merchant(merchant).order_by("carrier", "name", "pk")


def shipping_rule_for(*, merchant, service_level: str) -> ShippingRule | None:
    return ShippingRule.objects.for_merchant(merchant).filter(service_level=service_level).first()


def ship_from_warehouse(*, merchant, code: str | None = None):
    """The active warehouse ``merchant`` ships from: the one with ``code``, else the first by code.
    Raises ``LookupError`` ("unknown warehouse" / "no warehouse to ship from") when there is none."""
    from inventory.models import Warehouse

    qs = Warehouse.objects.visible_to(merchant).filter(is_active=True).order_by("code")
    warehouse = qs.filter(code=code).first() if code else qs.first()
    if warehouse is None:
        raise LookupError("unknown warehouse" if code else "no warehouse to ship from")
    return warehouse


def shipment_list(*, merchant, order=None, tracking_number: str = "", status: str = "") -> QuerySet[Shipment]:
    qs = Shipment.objects.for_merchant(merchant).select_related("account")
    if order is not None and order != "":
        qs = qs.filter(order_id=order.pk if hasattr(order, "pk") else order)
    if tracking_number:
        qs = qs.filter(tracking_number=tracking_number)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-pk")


def webhook_secrets() -> list[str]:
    secrets = [getattr(settings, "EASYPOST_WEBHOOK_SECRET", "") or ""]
    for secret in CarrierAccount.objects.exclude(webhook_secret="").values_list("webhook_secret", flat=True):
        if secret:
            secrets.append(secret)
    return [s for s in dict.fromkeys(secrets) if s]


def shipments_gone_quiet(*, before: datetime, limit: int = 500) -> list[int]:
    qs = Shipment.objects.filter(status__in=ACTIVE_TRACKING).exclude(tracking_number="")
    qs = qs.filter(Q(last_tracking_at__lt=before) | Q(last_tracking_at__isnull=True, purchased_at__lt=before))
    return list(qs.order_by("last_tracking_at", "pk").values_list("pk", flat=True)[:limit])


def address_proposal_list(*, merchant, pending_only: bool = False) -> QuerySet[AddressProposal]:
    qs = AddressProposal.objects.for_merchant(merchant)
    if pending_only:
        qs = qs.filter(status=AddressProposal.Status.PROPOSED)
    return qs.order_by("-created_at", "-pk")


# --- analytics (read by the analytics app) ----------------------------------------------------------------


def shipping_cost_by_carrier(*, merchant, since: datetime | None = None) -> list[dict]:
    """Labels bought, total and average cost per carrier and service."""
    qs = Shipment.objects.for_merchant(merchant).exclude(purchased_at__isnull=True)
    qs = qs.exclude(status__in=[Shipment.Status.VOIDED, Shipment.Status.FAILED])
    if since:
        qs = qs.filter(purchased_at__gte=since)
    rows = qs.values("carrier", "service", "currency").annotate(labels=Count("pk"), cost=Sum("price"))
    out = []
    for row in rows.order_by("carrier", "service"):
        cost = row["cost"] or Decimal("0.00")
        out.append({**row, "cost": cost, "average": (cost / row["labels"]).quantize(Decimal("0.01"))})
    return out


def shipping_performance(*, merchant, since: datetime | None = None) -> dict:
    """Delivered, on time (delivered by the carrier's estimate), exceptions."""
    qs = Shipment.objects.for_merchant(merchant).exclude(purchased_at__isnull=True)
    if since:
        qs = qs.filter(purchased_at__gte=since)
    delivered = qs.filter(status=Shipment.Status.DELIVERED)
    with_estimate = delivered.exclude(est_delivery_at__isnull=True).exclude(delivered_at__isnull=True)
    on_time = sum(
        1 for d, e in with_estimate.values_list("delivered_at", "est_delivery_at") if d.date() <= e.date()
    )
    measured = with_estimate.count()
    return {
        "labels": qs.count(),
        "delivered": delivered.count(),
        "on_time": on_time,
        "on_time_rate": round(on_time / measured, 4) if measured else None,
        "exceptions": qs.filter(status__in=[Shipment.Status.EXCEPTION, Shipment.Status.RETURNED]).count(),
    }
