"""Carrier accounts (bring-your-own and operator accounts: create, update, enable, test) and the
merchant's shipping rules per service level."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record, diff

from .. import breaker
from ..exceptions import ProviderError
from ..models import CarrierAccount, ShippingRule
from ..registry import AccountConfig, ConnectorFactory, connector_for

ACCOUNT_FIELDS = (
    "name",
    "carrier",
    "mode",
    "provider_account_id",
    "enabled_services",
    "markup_percent",
    "markup_flat",
    "default_package",
    "label_format",
    "timeout_seconds",
    "priority",
)


def _account_state(account: CarrierAccount) -> dict:
    state = {f: getattr(account, f) for f in ACCOUNT_FIELDS}
    state["is_enabled"] = account.is_enabled
    return state


def carrier_account_create(*, merchant, api_key: str, webhook_secret: str = "", **fields) -> CarrierAccount:
    """A merchant's bring-your-own account (``merchant``) or an operator account (``merchant=None``)."""
    unknown = set(fields) - set(ACCOUNT_FIELDS) - {"is_enabled", "provider"}
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    with transaction.atomic():
        account = CarrierAccount.objects.create(
            merchant=merchant, api_key=api_key, webhook_secret=webhook_secret, **fields
        )
        audit_record(
            obj_type="carriers.CarrierAccount",
            obj_id=account.pk,
            action="created",
            merchant_id=account.merchant_id,
            after=_account_state(account),
            message=f"carrier account {account.name} added",
        )
    return account


def carrier_account_update(
    *, account: CarrierAccount, api_key: str = "", webhook_secret: str | None = None, **fields
) -> CarrierAccount:
    unknown = set(fields) - set(ACCOUNT_FIELDS) - {"is_enabled"}
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    with transaction.atomic():
        account = CarrierAccount.objects.select_for_update().get(pk=account.pk)
        before = _account_state(account)
        for name, value in fields.items():
            setattr(account, name, value)
        if api_key:
            account.api_key = api_key
        if webhook_secret is not None:
            account.webhook_secret = webhook_secret
        account.save()
        after = _account_state(account)
        if api_key:
            before["api_key"], after["api_key"] = "(previous)", "(changed)"
        changed_before, changed_after = diff(before, after)
        audit_record(
            obj_type="carriers.CarrierAccount",
            obj_id=account.pk,
            action="updated",
            merchant_id=account.merchant_id,
            before=changed_before,
            after=changed_after,
        )
    if fields.get("is_enabled"):
        breaker.reset(account.pk)
    return account


def carrier_account_set_enabled(*, account: CarrierAccount, enabled: bool) -> CarrierAccount:
    return carrier_account_update(account=account, is_enabled=enabled)


def carrier_account_test(
    *, account: CarrierAccount, connectors: ConnectorFactory | None = None
) -> tuple[bool, str]:
    """One authenticated call with the account's key; the outcome is stored for the settings screen."""
    connector = (connectors or connector_for)(AccountConfig.of(account))
    try:
        message = connector.ping()
        ok = True
    except ProviderError as exc:
        ok, message = False, exc.message
    with transaction.atomic():
        CarrierAccount.objects.filter(pk=account.pk).update(
            last_tested_at=timezone.now(), last_test_ok=ok, last_error="" if ok else message[:500]
        )
        audit_record(
            obj_type="carriers.CarrierAccount",
            obj_id=account.pk,
            action="tested",
            merchant_id=account.merchant_id,
            after={"ok": ok},
            message=message[:300],
        )
    if ok:
        breaker.reset(account.pk)
    return ok, message


def shipping_rule_set(
    *, merchant, service_level: str, rule: str, max_days: int | None = None, preferred_carrier: str = ""
) -> ShippingRule:
    if rule == ShippingRule.Rule.CHEAPEST_WITHIN and not max_days:
        raise ValueError("cheapest within N days needs N")
    if rule == ShippingRule.Rule.PREFERRED and not preferred_carrier:
        raise ValueError("preferred carrier rule needs a carrier")
    with transaction.atomic():
        obj, _ = ShippingRule.objects.select_for_update().get_or_create(
            merchant=merchant, service_level=service_level
        )
        before = {"rule": obj.rule, "max_days": obj.max_days, "preferred_carrier": obj.preferred_carrier}
        obj.rule, obj.max_days, obj.preferred_carrier = rule, max_days, preferred_carrier
        obj.save()
        audit_record(
            obj_type="carriers.ShippingRule",
            obj_id=obj.pk,
            action="updated",
            merchant_id=merchant.pk,
            before=before,
            after={"rule": rule, "max_days": max_days, "preferred_carrier": preferred_carrier},
        )
    return obj
