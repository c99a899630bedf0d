"""Writes of the carrier layer: rate shopping, labels, voids, scan forms, address checks, tracking.

I/O to providers never runs inside a database transaction: a service records our intent first (so nothing is
bought twice), calls the provider, then records the outcome in a short transaction with its audit entry and
outbox event. Providers come from ``registry.connector_for``; every service accepts ``connectors=`` so tests
and benchmarks can hand in another factory without patching.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record

from . import breaker, rules, selectors
from .base import (
    CARRIER_NAMES,
    Address,
    Carrier,
    Label,
    Parcel,
    Rate,
    ShipOptions,
    TrackingInfo,
    WebhookNotice,
)
from .exceptions import (
    LabelPurchaseFailed,
    NoRateAvailable,
    ProviderError,
    RejectedProviderError,
    RetryableProviderError,
    ShipmentStateError,
)
from .models import (
    AddressProposal,
    CarrierAccount,
    RateQuote,
    ScanForm,
    Shipment,
    ShippingRule,
    TrackingEvent,
    WebhookEvent,
)
from .registry import WEBHOOK_PARSERS, AccountConfig, ConnectorFactory, connector_for

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
MAX_ATTEMPTS = 3
MAX_BUY_CANDIDATES = 3
BUYING_STALE_AFTER = timedelta(minutes=2)


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=int(getattr(settings, "CARRIER_RATE_WORKERS", 32)), thread_name_prefix="carrier-rates"
        )
    return _executor


def _carrier_name(code: str) -> str:
    return CARRIER_NAMES.get(code, code)


def _short(exc: ProviderError) -> str:
    if isinstance(exc, RejectedProviderError):
        detail = exc.message.split(": ", 1)[-1]
        return f"rejected {detail}" if detail else "rejected"
    return {
        "timeout": "timeout",
        "rate_limited": "rate limited",
        "malformed": "malformed response",
        "network": "unreachable",
    }.get(exc.code, f"error {exc.status or ''}".strip())


def _call_with_retries(fn, *, deadline: float, attempts: int = MAX_ATTEMPTS, base_delay: float = 0.05):
    """Call ``fn``; retry retryable provider errors with exponential backoff and jitter, within ``deadline``."""
    last: RetryableProviderError | None = None
    for attempt in range(attempts):
        try:
            return fn()
        except RetryableProviderError as exc:
            last = exc
            delay = base_delay * (2**attempt) * (1 + random.random() / 2)
            if attempt + 1 >= attempts or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
    assert last is not None
    raise last


def _as_address(value) -> Address:
    if isinstance(value, Address):
        return value
    if isinstance(value, dict):
        return Address.from_dict(value)
    if hasattr(value, "ship_to_street1"):
        return Address.from_object(value, prefix="ship_to_")
    address = Address.from_object(value)
    if not address.name and getattr(value, "name", ""):
        address = Address(**{**address.as_dict(), "name": value.name})
    return address


# --- carrier accounts -------------------------------------------------------------------------------------

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
        changed_before, changed_after = (
            {k: before[k] for k in before if before[k] != after.get(k)},
            {k: after[k] for k in after if before.get(k) != after[k]},
        )
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


# --- rate shopping ----------------------------------------------------------------------------------------


@dataclass
class AccountOutcome:
    account_id: int
    name: str
    carrier: str
    rates: list[Rate] = field(default_factory=list)
    error: str = ""
    latency_ms: int = 0
    skipped: bool = False


@dataclass
class ShopResult:
    shop_id: str
    service_level: str
    rule: str
    ranked: list[rules.RankedRate]
    excluded: list[rules.RankedRate]
    reason: str
    outcomes: list[AccountOutcome]

    @property
    def chosen(self) -> rules.RankedRate | None:
        return self.ranked[0] if self.ranked else None

    @property
    def errors(self) -> list[str]:
        return [f"{_carrier_name(o.carrier)} {o.error}" for o in self.outcomes if o.error]

    def as_dict(self) -> dict:
        return {
            "shop_id": self.shop_id,
            "service_level": self.service_level,
            "rule": self.rule,
            "reason": self.reason,
            "chosen": self.chosen.as_dict() if self.chosen else None,
            "rates": [r.as_dict() for r in self.ranked],
            "excluded": [r.as_dict() for r in self.excluded],
            "errors": self.errors,
        }


def _fetch_rates(
    config: AccountConfig,
    connector: Carrier,
    *,
    parcel: Parcel,
    from_address: Address,
    to_address: Address,
    options: ShipOptions,
) -> AccountOutcome:
    """Runs in a worker thread: no ORM here, only the provider and the shared-cache breaker."""
    outcome = AccountOutcome(account_id=config.pk, name=config.name, carrier=config.carrier)
    started = time.monotonic()
    deadline = started + config.timeout
    account_options = _label_options(config, options)
    try:
        response = _call_with_retries(
            lambda: connector.rates(
                parcel=parcel, from_address=from_address, to_address=to_address, options=account_options
            ),
            deadline=deadline,
        )
    except ProviderError as exc:
        outcome.error = _short(exc)
        if isinstance(exc, RetryableProviderError):
            breaker.record_failure(config.pk)
        else:
            breaker.record_success(config.pk)  # the account answered; the parcel was the problem
    except Exception as exc:  # a connector bug must not break the whole shop
        log.exception("carrier account %s: unexpected error while rating", config.pk)
        outcome.error = f"error {type(exc).__name__}"
        breaker.record_failure(config.pk)
    else:
        breaker.record_success(config.pk)
        wanted = set(config.enabled_services)
        outcome.rates = [r for r in response.rates if not wanted or r.service in wanted]
        if not outcome.rates:
            outcome.error = "returned no rates" + (
                f" ({'; '.join(response.messages)[:120]})" if response.messages else ""
            )
    outcome.latency_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _rule_for(merchant, service_level: str) -> tuple[str, int | None, str]:
    rule = selectors.shipping_rule_for(merchant=merchant, service_level=service_level)
    if rule is not None:
        return rule.rule, rule.max_days, rule.preferred_carrier
    name, days = rules.DEFAULT_RULES.get(service_level, ("cheapest", None))
    return name, days, ""


def rates_shop(
    *,
    merchant,
    parcel: Parcel,
    to_address,
    from_warehouse,
    service_level: str = "standard",
    options: ShipOptions | None = None,
    connectors: ConnectorFactory | None = None,
    accounts: list[CarrierAccount] | None = None,
    record: bool = True,
    raise_if_empty: bool = True,
) -> ShopResult:
    """Rates from every enabled account at once (one thread each, a timeout each), filtered by the carriers'
    restrictions and ranked by the merchant's rule for ``service_level``. The reason for the winner is in
    ``result.reason``. Raises ``NoRateAvailable`` (saying why, per carrier) when nothing qualifies."""
    options = options or ShipOptions()
    to = _as_address(to_address)
    origin = _as_address(from_warehouse)
    account_list = list(
        accounts if accounts is not None else selectors.carrier_accounts_usable(merchant=merchant)
    )
    by_pk = {a.pk: a for a in account_list}
    factory = connectors or connector_for
    outcomes: list[AccountOutcome] = []
    futures = []
    may_call = breaker.allowed([a.pk for a in account_list])
    for account in account_list:
        config = AccountConfig.of(account)
        excluded = rules.carrier_exclusions(carrier=account.carrier, to_address=to, parcel=parcel)
        if excluded:
            outcomes.append(
                AccountOutcome(
                    account.pk, account.name, account.carrier, error=f"skipped: {excluded}", skipped=True
                )
            )
            continue
        if account.pk not in may_call:
            outcomes.append(
                AccountOutcome(
                    account.pk,
                    account.name,
                    account.carrier,
                    error="paused after repeated failures",
                    skipped=True,
                )
            )
            continue
        connector = factory(config)
        future = _pool().submit(
            _fetch_rates,
            config,
            connector,
            parcel=parcel,
            from_address=origin,
            to_address=to,
            options=options,
        )
        futures.append((config, future, time.monotonic() + config.timeout + 0.25))
    rule, max_days, preferred = _rule_for(merchant, service_level)  # read while the carriers answer
    for config, future, until in futures:
        try:
            outcomes.append(future.result(timeout=max(until - time.monotonic(), 0)))
        except FutureTimeout:
            breaker.record_failure(config.pk)
            outcomes.append(
                AccountOutcome(
                    config.pk,
                    config.name,
                    config.carrier,
                    error="timeout",
                    latency_ms=int(config.timeout * 1000),
                )
            )

    insurance = rules.insurance_cost(options.insurance_amount)
    candidates: list[rules.RankedRate] = []
    for outcome in outcomes:
        account = by_pk[outcome.account_id]
        for rate in outcome.rates:
            price = account.price_for(rate.amount)
            why = rules.rate_exclusion(rate=rate, to_address=to, parcel=parcel)
            candidates.append(
                rules.RankedRate(
                    rate=rate,
                    price=price,
                    total=price + insurance,
                    account_name=account.name,
                    eligible=not why,
                    excluded_reason=why,
                )
            )
    ranked, reason = rules.rank(candidates, rule=rule, max_days=max_days, preferred_carrier=preferred)
    excluded = [c for c in candidates if not c.eligible]
    result = ShopResult(
        shop_id=uuid.uuid4().hex,
        service_level=service_level,
        rule=rule,
        ranked=ranked,
        excluded=excluded,
        reason=reason,
        outcomes=outcomes,
    )
    _mirror_breakers(account_list)
    if record and merchant is not None:
        _record_quotes(merchant=merchant, result=result, parcel=parcel, to=to)
    if not ranked and raise_if_empty:
        raise NoRateAvailable(no_rate_reasons(result))
    return result


def no_rate_reasons(result: ShopResult) -> list[str]:
    reasons = [f"{_carrier_name(o.carrier)} {o.error}" for o in result.outcomes if o.error]
    seen: set[str] = set()
    for c in result.excluded:
        if c.rate.carrier not in seen and not any(
            o.carrier == c.rate.carrier and o.error for o in result.outcomes
        ):
            seen.add(c.rate.carrier)
            reasons.append(f"{_carrier_name(c.rate.carrier)} rejected: {c.excluded_reason}")
    return reasons


def _mirror_breakers(accounts: list[CarrierAccount]) -> None:
    """Copy the shared breaker state onto the account rows when it changed (for the settings screens)."""
    now = timezone.now()
    live_states = breaker.states([a.pk for a in accounts])
    for account in accounts:
        live = live_states[account.pk]
        if live != account.circuit_state:
            CarrierAccount.objects.filter(pk=account.pk).update(circuit_state=live, circuit_changed_at=now)
            account.circuit_state = live


def _record_quotes(*, merchant, result: ShopResult, parcel: Parcel, to: Address) -> None:
    rows = []
    chosen = result.chosen
    common = {
        "merchant_id": merchant.pk,
        "shop_id": result.shop_id,
        "service_level": result.service_level,
        "to_postal_code": to.postal_code[:20],
        "to_country": (to.country or "")[:2],
        "weight_g": parcel.weight_g,
    }
    latency = {o.account_id: o.latency_ms for o in result.outcomes}
    for c in [*result.ranked, *result.excluded]:
        rows.append(
            RateQuote(
                **common,
                account_id=c.rate.account_id,
                carrier=c.rate.carrier,
                service=c.rate.service[:100],
                amount=c.rate.amount,
                price=c.price,
                currency=c.rate.currency,
                delivery_days=c.rate.delivery_days,
                guaranteed=c.rate.guaranteed,
                eligible=c.eligible,
                excluded_reason=c.excluded_reason[:300],
                chosen=c is chosen,
                latency_ms=latency.get(c.rate.account_id or 0, 0),
            )
        )
    for o in result.outcomes:
        if o.error:
            rows.append(
                RateQuote(
                    **common,
                    account_id=o.account_id,
                    carrier=o.carrier,
                    error=o.error[:300],
                    latency_ms=o.latency_ms,
                )
            )
    RateQuote.objects.bulk_create(rows)


def rates_for_order(
    *, merchant, order, parcel: Parcel, from_warehouse=None, options: ShipOptions | None = None, **kw
):
    """For the pack screen: the ranked rates for an order's parcel, under the order's service level."""
    return rates_shop(
        merchant=merchant,
        parcel=parcel,
        to_address=order,
        from_warehouse=from_warehouse or _default_warehouse(merchant),
        service_level=getattr(order, "shipping_service", "standard") or "standard",
        options=options,
        **kw,
    )


def _default_warehouse(merchant):
    from inventory.models import Warehouse

    warehouse = Warehouse.objects.visible_to(merchant).filter(is_active=True).order_by("code").first()
    if warehouse is None:
        raise ShipmentStateError("no warehouse to ship from")
    return warehouse


# --- labels -----------------------------------------------------------------------------------------------


def _label_options(
    account: CarrierAccount | AccountConfig | None, options: ShipOptions | None
) -> ShipOptions:
    """The caller's label format, else the account's (PDF 4x6 unless the account says ZPL or PNG)."""
    options = options or ShipOptions()
    if not options.label_format:
        options = replace(
            options, label_format=(account.label_format if account is not None else "") or "PDF"
        )
    return options


def shipment_buy_label(
    *,
    merchant,
    order,
    parcel: Parcel | None,
    rate: Rate | None = None,
    options: ShipOptions | None = None,
    from_warehouse=None,
    service_level: str | None = None,
    idempotency_key: str = "",
    connectors: ConnectorFactory | None = None,
    return_to_warehouse=None,
) -> Shipment:
    """Buy the label for one packed parcel of ``order``: the given ``rate``, or the best rate under the
    merchant's rule, failing over to the next account or carrier when a purchase fails.

    Never buys twice: our ``Shipment`` row (unique per merchant and idempotency key) is written first; a
    repeat call returns the bought shipment; a crashed attempt is recovered by asking the provider whether
    the label exists before buying anything else (each EasyPost shipment can be bought only once)."""
    factory = connectors or connector_for
    if parcel is None:
        parcel = _parcel_for_order(order)
    if return_to_warehouse is not None:  # a prepaid return label: customer -> warehouse, standard service
        key = idempotency_key or f"return:{order.pk}:{parcel.reference or 'parcel-1'}"
        level = "standard"
        to = _as_address(return_to_warehouse)
        from_warehouse = _as_address(order)
    else:
        key = idempotency_key or f"order:{order.pk}:{parcel.reference or 'parcel-1'}"
        level = service_level or getattr(order, "shipping_service", "") or "standard"
        to = _as_address(order)
    options = options or ShipOptions(reference=str(getattr(order, "number", "") or ""))
    shipment, recovering = _shipment_claim(
        merchant=merchant, order=order, key=key, parcel=parcel, options=options, level=level, to=to
    )
    if shipment.status == Shipment.Status.PURCHASED or (shipment.has_label and shipment.purchased_at):
        return shipment

    if recovering and shipment.provider_shipment_id and shipment.account_id:
        account = CarrierAccount.objects.get(pk=shipment.account_id)
        connector = factory(AccountConfig.of(account))
        label = connector.retrieve_label(provider_shipment_id=shipment.provider_shipment_id)
        if label is not None:
            return _shipment_finish(shipment=shipment, label=label, account=account, chosen=None, reason="")

    origin = from_warehouse if from_warehouse is not None else None
    if rate is not None:
        account = CarrierAccount.objects.get(pk=rate.account_id)
        price = account.price_for(rate.amount)
        candidates = [rules.RankedRate(rate=rate, price=price, total=price, account_name=account.name)]
        reason = f"chosen by hand: {_carrier_name(rate.carrier)} {rate.service}"
        shop_id = ""
    else:
        try:
            result = rates_shop(
                merchant=merchant,
                parcel=parcel,
                to_address=to,
                from_warehouse=origin if origin is not None else _default_warehouse(merchant),
                service_level=level,
                options=options,
                connectors=factory,
            )
        except NoRateAvailable as exc:
            _shipment_fail(shipment=shipment, message=str(exc))
            raise
        candidates, reason, shop_id = result.ranked, result.reason, result.shop_id
        Shipment.objects.filter(pk=shipment.pk).update(
            status=Shipment.Status.RATED,
            candidates=[c.as_dict() for c in candidates[:10]],
            chosen_reason=reason[:500],
        )
        RateQuote.objects.filter(shop_id=shop_id).update(shipment=shipment)

    failures: list[str] = []
    accounts = {
        a.pk: a for a in CarrierAccount.objects.filter(pk__in={c.rate.account_id for c in candidates})
    }
    failed_accounts: set[int] = set()
    tried = 0
    for candidate in candidates:
        account = accounts[candidate.rate.account_id]
        if account.pk in failed_accounts:
            continue
        if tried >= MAX_BUY_CANDIDATES:
            break
        index, tried = tried, tried + 1
        if index and not breaker.allow(account.pk):
            failed_accounts.add(account.pk)
            failures.append(f"{_carrier_name(account.carrier)} paused after repeated failures")
            continue
        why = reason if index == 0 else f"{reason}; failed over after: {', '.join(failures)}"
        _shipment_mark_buying(shipment=shipment, candidate=candidate, account=account, reason=why)
        connector = factory(AccountConfig.of(account))
        buy_options = _label_options(account, options)
        try:
            label = _buy_once(connector, candidate.rate, buy_options, account.timeout_seconds)
        except RejectedProviderError as exc:
            breaker.record_success(account.pk)
            failures.append(f"{_carrier_name(account.carrier)} {_short(exc)}")
            if exc.status in (401, 402, 403):  # the account itself cannot buy: skip its other rates
                failed_accounts.add(account.pk)
            continue
        except RetryableProviderError as exc:
            breaker.record_failure(account.pk)
            # The purchase may have gone through before the error: ask before buying anywhere else.
            try:
                label = connector.retrieve_label(provider_shipment_id=candidate.rate.provider_shipment_id)
            except ProviderError:
                message = f"{_carrier_name(account.carrier)} {_short(exc)}; label state unknown, retry later"
                Shipment.objects.filter(pk=shipment.pk).update(error=message[:1000])
                raise LabelPurchaseFailed([message]) from exc
            if label is None:
                failures.append(f"{_carrier_name(account.carrier)} {_short(exc)}")
                failed_accounts.add(account.pk)
                continue
        breaker.record_success(account.pk)
        return _shipment_finish(shipment=shipment, label=label, account=account, chosen=candidate, reason=why)
    _shipment_fail(shipment=shipment, message=f"label not bought: {', '.join(failures)}")
    raise LabelPurchaseFailed(failures)


def _parcel_for_order(order) -> Parcel:
    """A parcel estimated from the order's products (for return labels and callers without a scale)."""
    weight = 0
    for line in order.lines.select_related("product"):
        product = getattr(line, "product", None)
        weight += line.quantity * (getattr(product, "weight_g", 0) or 0)
    return Parcel(weight_g=weight or 500, reference="parcel-1")


def _buy_once(connector: Carrier, rate: Rate, options: ShipOptions, timeout) -> Label:
    deadline = time.monotonic() + float(timeout) * MAX_ATTEMPTS

    def attempt() -> Label:
        try:
            return connector.buy(rate=rate, options=options)
        except RetryableProviderError:
            existing = connector.retrieve_label(provider_shipment_id=rate.provider_shipment_id)
            if existing is not None:
                return existing
            raise

    return _call_with_retries(attempt, deadline=deadline)


def _shipment_claim(*, merchant, order, key, parcel: Parcel, options: ShipOptions, level: str, to: Address):
    """Our record first: get or create the shipment row for this idempotency key and mark the attempt."""
    defaults = {
        "order": order,
        "service_level": level,
        "weight_g": parcel.weight_g,
        "length_mm": parcel.length_mm,
        "width_mm": parcel.width_mm,
        "height_mm": parcel.height_mm,
        "hazmat": parcel.hazmat,
        "lithium": parcel.lithium,
        "to_address": to.as_dict(),
        "signature": options.signature,
        "insurance_amount": options.insurance_amount,
        "insurance_cost": rules.insurance_cost(options.insurance_amount),
    }
    for _ in range(2):
        try:
            with transaction.atomic():
                shipment, created = Shipment.objects.select_for_update().get_or_create(
                    merchant=merchant, idempotency_key=key, defaults=defaults
                )
                if created:
                    audit_record(
                        obj_type="carriers.Shipment",
                        obj_id=shipment.pk,
                        action="created",
                        merchant_id=merchant.pk,
                        after={"order": order.pk, "idempotency_key": key},
                    )
                    return shipment, False
                if shipment.purchased_at and shipment.status != Shipment.Status.FAILED:
                    return shipment, False
                if shipment.status == Shipment.Status.BUYING:
                    if timezone.now() - shipment.updated_at < BUYING_STALE_AFTER:
                        raise ShipmentStateError("a label purchase for this parcel is already in progress")
                    return shipment, True
                if shipment.status == Shipment.Status.VOIDED:
                    raise ShipmentStateError("this parcel's label was voided; use a new idempotency key")
                return shipment, False
        except IntegrityError:
            continue
    raise ShipmentStateError("could not claim the shipment record; retry")


def _shipment_mark_buying(
    *, shipment: Shipment, candidate: rules.RankedRate, account: CarrierAccount, reason: str
):
    rate = candidate.rate
    fields = {
        "status": Shipment.Status.BUYING,
        "account": account,
        "carrier": rate.carrier,
        "service": rate.service,
        "provider_shipment_id": rate.provider_shipment_id,
        "provider_rate_id": rate.provider_rate_id,
        "rate": rate.amount,
        "price": candidate.price,
        "currency": rate.currency,
        "delivery_days": rate.delivery_days,
        "guaranteed": rate.guaranteed,
        "chosen_reason": reason[:500],
        "error": "",
    }
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(shipment, name, value)


def _shipment_finish(
    *, shipment: Shipment, label: Label, account: CarrierAccount, chosen: rules.RankedRate | None, reason: str
) -> Shipment:
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        rate = label.rate
        fees = [
            {"type": f.type, "amount": str(f.amount), "charged": f.charged, "refunded": f.refunded}
            for f in label.fees
        ]
        postage = sum((f.amount for f in label.fees if f.type == "PostageFee"), Decimal("0.00"))
        other_fees = sum(
            (f.amount for f in label.fees if f.type != "PostageFee" and f.charged), Decimal("0.00")
        )
        shipment.account = account
        shipment.carrier = rate.carrier or account.carrier
        shipment.service = rate.service
        shipment.rate = postage or rate.amount
        shipment.price = chosen.price if chosen else account.price_for(rate.amount)
        shipment.currency = rate.currency
        shipment.delivery_days = rate.delivery_days
        shipment.guaranteed = rate.guaranteed
        shipment.carrier_fees = other_fees
        shipment.fees = fees
        shipment.provider_shipment_id = label.provider_shipment_id
        shipment.provider_rate_id = rate.provider_rate_id
        shipment.tracking_number = label.tracking_number
        shipment.label_url = label.label_url
        shipment.label_format = label.label_format
        shipment.status = Shipment.Status.PURCHASED
        shipment.purchased_at = timezone.now()
        shipment.error = ""
        if reason:
            shipment.chosen_reason = reason[:500]
        if label.tracking:
            shipment.provider_tracker_id = label.tracking.provider_tracker_id
            shipment.public_tracking_url = label.tracking.public_url
            shipment.est_delivery_at = label.tracking.est_delivery
        shipment.save()
        RateQuote.objects.filter(shipment=shipment).update(chosen=False)
        RateQuote.objects.filter(shipment=shipment, account=account, service=rate.service, error="").update(
            chosen=True
        )
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_purchased",
            merchant_id=shipment.merchant_id,
            after={
                "carrier": shipment.carrier,
                "service": shipment.service,
                "tracking_number": shipment.tracking_number,
                "rate": shipment.rate,
                "price": shipment.price,
                "currency": shipment.currency,
            },
            message=shipment.chosen_reason,
        )
        outbox.emit(
            "carrier.label_purchased",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "carrier": shipment.carrier,
                "service": shipment.service,
                "tracking_number": shipment.tracking_number,
                "rate": str(shipment.rate),
                "price": str(shipment.price),
                "carrier_fees": str(shipment.carrier_fees),
                "insurance_cost": str(shipment.insurance_cost),
                "currency": shipment.currency,
            },
            merchant_id=shipment.merchant_id,
        )
        transaction.on_commit(partial(_enqueue_label_fetch, shipment_id=shipment.pk))
    return shipment


def _enqueue_label_fetch(*, shipment_id: int) -> None:
    from .tasks import fetch_label

    try:
        fetch_label.delay(shipment_id=shipment_id)
    except Exception:  # broker down: the label URL still works; the file is fetched by the next poll
        log.warning("could not enqueue label fetch for shipment %s", shipment_id, exc_info=True)


def _shipment_fail(*, shipment: Shipment, message: str) -> None:
    with transaction.atomic():
        Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.FAILED, error=message[:1000])
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_failed",
            merchant_id=shipment.merchant_id,
            message=message[:300],
        )
        outbox.emit(
            "carrier.label_failed",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "message": message,
            },
            merchant_id=shipment.merchant_id,
        )
    shipment.status, shipment.error = Shipment.Status.FAILED, message[:1000]


def shipment_store_label(*, shipment_id: int, connectors: ConnectorFactory | None = None) -> bool:
    """Download the label file and keep it with the shipment (the provider's URL may expire)."""
    shipment = Shipment.objects.select_related("account").get(pk=shipment_id)
    if shipment.label_file or not shipment.label_url or shipment.account is None:
        return False
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    content = connector.download(url=shipment.label_url)
    ext = {"PDF": "pdf", "ZPL": "zpl", "PNG": "png"}.get(shipment.label_format, "bin")
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment_id)
        if locked.label_file:
            return False
        locked.label_file.save(
            f"{locked.tracking_number or locked.pk}.{ext}", ContentFile(content), save=True
        )
    return True


def shipment_void(*, merchant, shipment: Shipment, connectors: ConnectorFactory | None = None) -> Shipment:
    """Void (refund) a bought label that has not left the building."""
    shipment = Shipment.objects.for_merchant(merchant).select_related("account").get(pk=shipment.pk)
    if shipment.status == Shipment.Status.VOIDED:
        return shipment
    if shipment.status != Shipment.Status.PURCHASED:
        raise ShipmentStateError(f"a label that is {shipment.get_status_display().lower()} cannot be voided")
    if shipment.scan_form_id:
        raise ShipmentStateError("this label is on a scan form already")
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    try:
        result = connector.void(provider_shipment_id=shipment.provider_shipment_id)
    except RejectedProviderError as exc:
        raise ShipmentStateError(f"the carrier refused the refund: {exc.message}") from exc
    if result.refund_status == "rejected":
        raise ShipmentStateError("the carrier refused the refund")
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if shipment.status == Shipment.Status.VOIDED:
            return shipment
        shipment.status = Shipment.Status.VOIDED
        shipment.refund_status = result.refund_status or "submitted"
        shipment.voided_at = timezone.now()
        shipment.save(update_fields=["status", "refund_status", "voided_at", "updated_at"])
        audit_record(
            obj_type="carriers.Shipment",
            obj_id=shipment.pk,
            action="label_voided",
            merchant_id=shipment.merchant_id,
            before={"status": Shipment.Status.PURCHASED},
            after={"status": Shipment.Status.VOIDED, "refund_status": shipment.refund_status},
        )
        outbox.emit(
            "carrier.label_voided",
            {
                "shipment_id": shipment.pk,
                "order_id": shipment.order_id,
                "merchant_id": shipment.merchant_id,
                "refund_status": shipment.refund_status,
                "price": str(shipment.price),
                "currency": shipment.currency,
            },
            merchant_id=shipment.merchant_id,
        )
    return shipment


# --- scan forms -------------------------------------------------------------------------------------------


def scanform_create(*, account: CarrierAccount, connectors: ConnectorFactory | None = None) -> ScanForm:
    """End-of-day manifest of the account's bought labels that are not on a scan form yet."""
    pending = list(
        Shipment.objects.filter(account=account, status=Shipment.Status.PURCHASED, scan_form__isnull=True)
        .exclude(provider_shipment_id="")
        .order_by("pk")
        .values_list("pk", "provider_shipment_id")
    )
    if not pending:
        raise ShipmentStateError(f"{account.name}: no labels waiting for a scan form")
    connector = (connectors or connector_for)(AccountConfig.of(account))
    result = connector.manifest(provider_shipment_ids=[sid for _, sid in pending])
    with transaction.atomic():
        form = ScanForm.objects.create(
            account=account,
            provider_id=result.provider_id,
            status=result.status,
            form_url=result.form_url,
            tracking_numbers=list(result.tracking_numbers),
        )
        Shipment.objects.filter(pk__in=[pk for pk, _ in pending], scan_form__isnull=True).update(
            scan_form=form
        )
        audit_record(
            obj_type="carriers.ScanForm",
            obj_id=form.pk,
            action="created",
            merchant_id=account.merchant_id,
            after={"account": account.pk, "labels": len(pending), "provider_id": result.provider_id},
        )
    return form


def scanforms_end_of_day(*, connectors: ConnectorFactory | None = None) -> list[ScanForm]:
    forms = []
    account_ids = (
        Shipment.objects.filter(
            status=Shipment.Status.PURCHASED, scan_form__isnull=True, account__isnull=False
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    for account in CarrierAccount.objects.filter(pk__in=list(account_ids), is_enabled=True).order_by("pk"):
        try:
            forms.append(scanform_create(account=account, connectors=connectors))
        except (ProviderError, ShipmentStateError):
            log.warning("scan form for account %s failed", account.pk, exc_info=True)
    return forms


# --- address verification ---------------------------------------------------------------------------------


def address_verify(
    *, merchant, address, order=None, connectors: ConnectorFactory | None = None
) -> AddressProposal:
    """Check an address with the carrier. A correction is stored as a proposal for the merchant to accept
    or reject; the order's address is never changed here."""
    original = _as_address(address)
    account = selectors.carrier_accounts_usable(merchant=merchant).order_by("-priority", "pk").first()
    if account is None:
        status, proposed, messages = (
            AddressProposal.Status.UNVERIFIABLE,
            {},
            ["no carrier account to verify with"],
        )
    else:
        connector = (connectors or connector_for)(AccountConfig.of(account))
        try:
            check = connector.verify_address(address=original)
        except ProviderError as exc:
            status, proposed, messages = AddressProposal.Status.UNVERIFIABLE, {}, [exc.message]
        else:
            messages = list(check.messages)
            if not check.valid:
                status, proposed = AddressProposal.Status.UNVERIFIABLE, {}
            elif check.proposed is not None:
                status, proposed = AddressProposal.Status.PROPOSED, check.proposed.as_dict()
            else:
                status, proposed = AddressProposal.Status.VALID, {}
    with transaction.atomic():
        proposal = AddressProposal.objects.create(
            merchant=merchant,
            order=order,
            original=original.as_dict(),
            proposed=proposed,
            messages=messages,
            status=status,
        )
        audit_record(
            obj_type="carriers.AddressProposal",
            obj_id=proposal.pk,
            action="address_checked",
            merchant_id=merchant.pk,
            after={"status": status, "proposed": proposed},
            message="; ".join(messages)[:300],
        )
        outbox.emit(
            "carrier.address_checked",
            {
                "merchant_id": merchant.pk,
                "order_id": order.pk if order is not None else None,
                "proposal_id": proposal.pk,
                "status": status,
                "proposed": proposed,
                "messages": messages,
            },
            merchant_id=merchant.pk,
        )
    return proposal


def address_proposal_decide(*, merchant, proposal: AddressProposal, accept: bool) -> AddressProposal:
    """The merchant's decision. Accepting emits ``carrier.address_accepted`` for the orders app to apply."""
    with transaction.atomic():
        proposal = AddressProposal.objects.for_merchant(merchant).select_for_update().get(pk=proposal.pk)
        if proposal.status != AddressProposal.Status.PROPOSED:
            raise ShipmentStateError("this address check has no open proposal")
        proposal.status = AddressProposal.Status.ACCEPTED if accept else AddressProposal.Status.REJECTED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        audit_record(
            obj_type="carriers.AddressProposal",
            obj_id=proposal.pk,
            action="accepted" if accept else "rejected",
            merchant_id=merchant.pk,
            before={"address": proposal.original},
            after={"address": proposal.proposed if accept else proposal.original},
        )
        if accept:
            if proposal.order_id:
                from orders.services import order_change_address

                order_change_address(order=proposal.order, address=proposal.proposed)
            outbox.emit(
                "carrier.address_accepted",
                {
                    "merchant_id": merchant.pk,
                    "order_id": proposal.order_id,
                    "proposal_id": proposal.pk,
                    "address": proposal.proposed,
                },
                merchant_id=merchant.pk,
            )
    return proposal


# --- tracking ---------------------------------------------------------------------------------------------

STATUS_FROM_TRACKING = {
    "in_transit": Shipment.Status.IN_TRANSIT,
    "out_for_delivery": Shipment.Status.OUT_FOR_DELIVERY,
    "delivered": Shipment.Status.DELIVERED,
    "exception": Shipment.Status.EXCEPTION,
    "returned": Shipment.Status.RETURNED,
}
SHIPPED_LIKE = {"in_transit", "out_for_delivery", "delivered"}
FINAL = {Shipment.Status.DELIVERED, Shipment.Status.VOIDED, Shipment.Status.RETURNED}


def _fingerprint(detail) -> str:
    raw = "|".join(
        [
            detail.occurred_at.isoformat() if detail.occurred_at else "",
            detail.provider_status,
            detail.provider_status_detail,
            detail.message,
            detail.location,
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def tracking_apply(*, shipment: Shipment, info: TrackingInfo, source: str = "webhook") -> Shipment:
    """Record a tracking update: new events (deduplicated), the shipment status, and the order's status
    through the orders workflow. Idempotent: the same update twice changes nothing the second time."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        previous = shipment.status
        events = [
            TrackingEvent(
                merchant_id=shipment.merchant_id,
                shipment=shipment,
                status=d.status,
                message=d.message[:500],
                location=d.location[:200],
                occurred_at=d.occurred_at,
                provider_status=d.provider_status[:40],
                provider_status_detail=d.provider_status_detail[:60],
                fingerprint=_fingerprint(d),
            )
            for d in info.details
        ]
        TrackingEvent.objects.bulk_create(events, ignore_conflicts=True)
        new_status = STATUS_FROM_TRACKING.get(info.status)
        now = timezone.now()
        shipment.last_tracking_at = now
        if info.provider_tracker_id and not shipment.provider_tracker_id:
            shipment.provider_tracker_id = info.provider_tracker_id
        if info.public_url:
            shipment.public_tracking_url = info.public_url
        if info.est_delivery:
            shipment.est_delivery_at = info.est_delivery
        changed = new_status is not None and new_status != previous and previous not in FINAL
        if changed:
            shipment.status = new_status
            if (
                new_status in (Shipment.Status.IN_TRANSIT, Shipment.Status.OUT_FOR_DELIVERY)
                and not shipment.shipped_at
            ):
                shipment.shipped_at = _first_time(info, SHIPPED_LIKE) or now
            if new_status == Shipment.Status.DELIVERED:
                shipment.delivered_at = _first_time(info, {"delivered"}) or now
                shipment.shipped_at = (
                    shipment.shipped_at or _first_time(info, SHIPPED_LIKE) or shipment.delivered_at
                )
        shipment.save()
        if changed:
            audit_record(
                obj_type="carriers.Shipment",
                obj_id=shipment.pk,
                action="tracking_updated",
                merchant_id=shipment.merchant_id,
                before={"status": previous},
                after={"status": shipment.status},
                message=f"from {source}",
            )
            outbox.emit(
                "carrier.tracking_updated",
                {
                    "shipment_id": shipment.pk,
                    "order_id": shipment.order_id,
                    "merchant_id": shipment.merchant_id,
                    "from": previous,
                    "to": shipment.status,
                    "tracking_number": shipment.tracking_number,
                    "public_url": shipment.public_tracking_url,
                },
                merchant_id=shipment.merchant_id,
            )
            _advance_order(shipment)
    return shipment


def _first_time(info: TrackingInfo, statuses: set[str]):
    times = [d.occurred_at for d in info.details if d.status in statuses and d.occurred_at]
    return min(times) if times else None


def _advance_order(shipment: Shipment) -> None:
    """Move the order along through the orders app's own workflow (it checks, audits and emits)."""
    if not shipment.order_id:
        return
    try:
        from orders import services as order_services
        from orders.exceptions import IllegalTransition
    except ImportError:
        return
    mark_shipped = getattr(order_services, "order_mark_shipped", None)
    mark_delivered = getattr(order_services, "order_mark_delivered", None)
    order = shipment.order
    shipped_like = {Shipment.Status.IN_TRANSIT, Shipment.Status.OUT_FOR_DELIVERY, Shipment.Status.DELIVERED}
    try:
        if shipment.status in shipped_like and mark_shipped and order.status == "packed":
            with transaction.atomic():
                mark_shipped(order=order, shipment_id=shipment.pk)
            order.refresh_from_db()
        if shipment.status == Shipment.Status.DELIVERED and mark_delivered and order.status == "shipped":
            with transaction.atomic():
                mark_delivered(order=order)
    except IllegalTransition as exc:
        log.info("order %s not advanced by shipment %s: %s", order.pk, shipment.pk, exc)


def webhook_event_record(*, provider: str, payload: dict) -> tuple[WebhookEvent | None, bool]:
    """Store a verified webhook event once. Returns (event, created); a duplicate returns created=False."""
    notice: WebhookNotice = WEBHOOK_PARSERS[provider](payload)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=notice.event_id,
            defaults={"description": notice.description[:100], "payload": payload},
        )
        if created:
            transaction.on_commit(partial(_enqueue_webhook, event_id=event.pk))
    return event, created


def _enqueue_webhook(*, event_id: int) -> None:
    from .tasks import process_webhook_event

    try:
        process_webhook_event.delay(event_id=event_id)
    except Exception:
        log.warning("could not enqueue webhook event %s; the poll will pick it up", event_id, exc_info=True)


def webhook_event_process(*, event_id: int) -> str:
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
            return event.status
        notice: WebhookNotice = WEBHOOK_PARSERS[event.provider](event.payload)
        status, error = WebhookEvent.Status.IGNORED, ""
        if notice.kind == "tracking" and notice.tracking is not None:
            shipment = _shipment_for_tracking(notice.tracking)
            if shipment is None:
                error = f"no shipment for tracking number {notice.tracking.tracking_number}"
            else:
                tracking_apply(shipment=shipment, info=notice.tracking, source="webhook")
                status = WebhookEvent.Status.PROCESSED
        elif notice.kind == "refund" and notice.provider_shipment_id:
            updated = Shipment.objects.filter(provider_shipment_id=notice.provider_shipment_id).update(
                refund_status=notice.refund_status[:20]
            )
            status = WebhookEvent.Status.PROCESSED if updated else WebhookEvent.Status.IGNORED
        event.status, event.error, event.processed_at = status, error[:500], timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return status


def _shipment_for_tracking(info: TrackingInfo) -> Shipment | None:
    qs = Shipment.objects.exclude(status=Shipment.Status.VOIDED)
    if info.provider_tracker_id:
        found = qs.filter(provider_tracker_id=info.provider_tracker_id).first()
        if found:
            return found
    if info.provider_shipment_id:
        found = qs.filter(provider_shipment_id=info.provider_shipment_id).first()
        if found:
            return found
    if info.tracking_number:
        matches = qs.filter(tracking_number=info.tracking_number)
        if info.carrier:
            matches = matches.filter(carrier=info.carrier) or qs.filter(tracking_number=info.tracking_number)
        return matches.order_by("-pk").first()
    return None


def shipment_track(*, shipment_id: int, connectors: ConnectorFactory | None = None) -> Shipment:
    """Poll the carrier for one shipment (for trackers that went quiet)."""
    shipment = Shipment.objects.select_related("account").get(pk=shipment_id)
    if shipment.account is None or not shipment.tracking_number:
        return shipment
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    info = connector.track(
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        provider_tracker_id=shipment.provider_tracker_id,
    )
    return tracking_apply(shipment=shipment, info=info, source="poll")
