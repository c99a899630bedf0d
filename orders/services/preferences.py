"""Merchant order settings (notification switches, routing options) and saved list filters."""

from __future__ import annotations

from django.db import transaction

from fulfil.audit import audit_record
from orders.models import OrderSettings, SavedFilter

EDITABLE = (
    "notify_received",
    "notify_shipped",
    "notify_backordered",
    "notify_cancelled",
    "notify_modified",
    "notify_delivered",
    "notify_delivery_exception",
    "reply_to",
    "auto_release",
    "allow_split",
    "max_wait_days",
    "split_penalty",
    "wait_cost_per_day",
    "default_lead_time_days",
    "preferred_warehouses",
)


def order_settings_get(*, merchant) -> OrderSettings:
    found = OrderSettings.objects.for_merchant(merchant).first()
    return found or OrderSettings(merchant=merchant)


def order_settings_update(*, merchant, **fields) -> OrderSettings:
    with transaction.atomic():
        current, _ = OrderSettings.objects.select_for_update().get_or_create(merchant=merchant)
        before = {k: getattr(current, k) for k in EDITABLE}
        for key, value in fields.items():
            if key in EDITABLE:
                setattr(current, key, value)
        current.full_clean()
        current.save()
        after = {k: getattr(current, k) for k in EDITABLE}
        changed = {k for k in EDITABLE if before[k] != after[k]}
        if changed:
            audit_record(
                obj_type="order_settings",
                obj_id=current.pk,
                action="order_settings.updated",
                merchant_id=merchant.pk,
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed},
            )
    return current


def saved_filter_create(*, merchant, user, name: str, query: str) -> SavedFilter:
    query = "&".join(p for p in query.split("&") if p and not p.startswith(("cursor=", "page=")))
    saved, _ = SavedFilter.objects.update_or_create(
        merchant=merchant,
        user=user,
        name=name.strip()[:100] or "Saved filter",
        defaults={"query": query[:1000]},
    )
    return saved


def saved_filter_delete(*, merchant, user, filter_id: int) -> None:
    SavedFilter.objects.for_merchant(merchant).filter(user=user, pk=filter_id).delete()
