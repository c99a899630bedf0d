"""Rate shopping: every usable account asked at once (a thread and a timeout each, behind the shared
circuit breaker), the carriers' restrictions applied, the merchant's rule ranking what is left; the
quotes recorded for the screens and the breaker state mirrored onto the accounts."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from .. import breaker, rules, selectors
from ..base import Address, Carrier, Parcel, Rate, ShipOptions
from ..exceptions import NoRateAvailable, ProviderError, RetryableProviderError, ShipmentStateError
from ..models import CarrierAccount, RateQuote
from ..registry import AccountConfig, ConnectorFactory, connector_for
from ._common import _as_address, _call_with_retries, _carrier_name, _label_options, _short

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=int(getattr(settings, "CARRIER_RATE_WORKERS", 32)), thread_name_prefix="carrier-rates"
        )
    return _executor


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
    try:
        return selectors.ship_from_warehouse(merchant=merchant)
    except LookupError as exc:
        raise ShipmentStateError(str(exc)) from exc
