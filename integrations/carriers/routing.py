"""Live carrier rates for order routing (orders cannot import the carrier layer; this registers into its
``orders.rates`` registry from ``CarriersConfig.ready``).

For each candidate warehouse → destination parcel routing asks about, ``carrier_quotes`` rate-shops the
merchant's usable carrier accounts (its own plus the operator's) under its shipping rule for the order's
service level — the same ``rates_shop`` the pack screen uses — with a short timeout per account
(``CARRIER_ROUTING_TIMEOUT``, default 1.5 s), and returns the chosen rate (markup included). It answers nothing
(routing then uses its zone table) when the merchant has no usable account, a carrier fails or times out, or
every account's circuit is open.

Quotes are cached in the shared cache per merchant × origin ZIP3 × destination ZIP3 × weight (whole pounds) ×
service level for ``CARRIER_ROUTING_CACHE_SECONDS`` (default 600 s); a parcel no carrier could price is
remembered for a minute so a failing route is not asked for on every order. Whether a merchant has any usable
account is remembered in-process for 30 s, so routing without carrier accounts costs no query and no cache
round trip. The what-if simulator asks with ``live=False``: cached quotes only; so does the batch import path
(it routes while holding stock-level locks), which after commit enqueues ``routing_rates_warm`` for the
missing routes — a worker prices them for the next orders, the import itself never waits for a carrier.

Known simplifications: the cache key ignores the street (a PO box or APO address on a cached route is priced
like its neighbours; the pack screen's own rate shop still applies every restriction), and the warehouses of
one order are rate-shopped one after another (each shop asks its accounts in parallel), so a slow carrier
costs up to the timeout per candidate warehouse.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from orders.rates import Quote, RateRequest

log = logging.getLogger(__name__)

_NO_RATE = {"none": True}
_accounts_seen: dict[int, tuple[float, bool]] = {}  # merchant id -> (until, has usable accounts)
_LB = 453.6


def _timeout() -> Decimal:
    return Decimal(str(getattr(settings, "CARRIER_ROUTING_TIMEOUT", 1.5)))


def _budget() -> float:
    """Seconds one routing call may spend on live rate shops in all (the order row is locked meanwhile)."""
    return float(getattr(settings, "CARRIER_ROUTING_BUDGET", 2.0))


def _ttl() -> int:
    return int(getattr(settings, "CARRIER_ROUTING_CACHE_SECONDS", 600))


def _zip3(postal: str) -> str:
    return "".join(c for c in (postal or "") if c.isalnum())[:3].upper()


def pounds(weight_g: int) -> int:
    return max(1, math.ceil((weight_g or 0) / _LB))


def cache_key(r: RateRequest) -> str:
    return (
        f"carriers:routing:{r.merchant_id}:{r.origin_country}{_zip3(r.origin_postal)}:"
        f"{r.dest_country}{_zip3(r.dest_postal)}:{pounds(r.weight_g)}lb:{r.service}"
    )


def forget_accounts() -> None:
    """Drop the in-process memory of which merchants have carrier accounts (tests; account changes show
    up by themselves within 30 s)."""
    _accounts_seen.clear()


def _has_accounts(merchant_id: int) -> bool:
    now = time.monotonic()
    seen = _accounts_seen.get(merchant_id)
    if seen is not None and seen[0] > now:
        return seen[1]
    from . import selectors

    has = selectors.carrier_accounts_usable(merchant=merchant_id).exists()
    _accounts_seen[merchant_id] = (now + 30, has)
    return has


def _as_quote(value: dict, source: str) -> Quote:
    return Quote(
        amount=Decimal(value["amount"]),
        currency=value["currency"],
        carrier=value["carrier"],
        service=value["service"],
        transit_days=value.get("days"),
        source=source,
    )


def _shop(request: RateRequest) -> dict | None:
    """One live rate shop for one warehouse → destination parcel; ``None`` when no carrier could price it."""
    from inventory.models import Warehouse

    from . import selectors
    from . import services as carrier_services
    from .base import CARRIER_NAMES, Address, Parcel

    warehouse = Warehouse.objects.filter(pk=request.warehouse_id).first()
    if warehouse is None:
        return None
    accounts = list(selectors.carrier_accounts_usable(merchant=request.merchant_id))
    if not accounts:
        return None
    for account in accounts:  # routing must stay fast: a short timeout, whatever the account allows labels
        account.timeout_seconds = min(account.timeout_seconds, _timeout())
    result = carrier_services.rates_shop(
        merchant=request.merchant_id,
        parcel=Parcel(weight_g=max(int(request.weight_g or 0), 1)),
        to_address=Address(
            street1=request.dest_street,
            city=request.dest_city,
            state=request.dest_state,
            postal_code=request.dest_postal,
            country=request.dest_country or "US",
        ),
        from_warehouse=warehouse,
        service_level=request.service or "standard",
        accounts=accounts,
        record=False,
        raise_if_empty=False,
    )
    chosen = result.chosen
    if chosen is None:
        log.info("routing rates: no carrier rate for %s (%s)", cache_key(request), "; ".join(result.errors))
        return None
    return {
        "amount": str(chosen.price),
        "currency": chosen.rate.currency,
        "carrier": CARRIER_NAMES.get(chosen.rate.carrier, chosen.rate.carrier),
        "service": chosen.rate.service,
        "days": chosen.rate.delivery_days,
    }


def carrier_quotes(requests: list[RateRequest], *, live: bool = True) -> dict[RateRequest, Quote]:
    """The ``orders.rates`` provider: cached quotes first, then (``live``) one rate shop per missing route."""
    if not requests:
        return {}
    merchants = {r.merchant_id for r in requests}
    if not any(_has_accounts(m) for m in merchants):
        return {}
    keys: dict[str, list[RateRequest]] = {}
    for r in requests:
        keys.setdefault(cache_key(r), []).append(r)
    cached = cache.get_many(list(keys))
    out: dict[RateRequest, Quote] = {}
    for key, value in cached.items():
        if value and not value.get("none"):
            quote = _as_quote(value, "cached")
            for r in keys[key]:
                out[r] = quote
    if not live:
        return out
    fresh: dict[str, dict] = {}
    deadline = time.monotonic() + _budget()
    late: list[RateRequest] = []
    for key, group in keys.items():
        if key in cached or not _has_accounts(group[0].merchant_id):
            continue
        if time.monotonic() >= deadline:  # out of time: the zone table now, a worker prices it for next time
            late.append(group[0])
            continue
        try:
            value = _shop(group[0])
        except Exception:  # a carrier-layer bug must not stop routing: the zone table answers
            log.exception("routing rates: rate shop failed for %s", key)
            value = None
        if value is None:
            cache.set(key, _NO_RATE, timeout=60)
            continue
        fresh[key] = value
        quote = _as_quote(value, "live")
        for r in group:
            out[r] = quote
    if fresh:
        cache.set_many(fresh, timeout=_ttl())
    if late:
        log.info(
            "routing rates: %d route(s) past the %.1f s budget priced by the zone table", len(late), _budget()
        )
        warm(late)
    return out


@shared_task(acks_late=True, time_limit=120, ignore_result=True)
def routing_rates_warm(requests: list[dict]) -> None:
    """Price routes routing found uncached (the batch path), in a worker, for the next orders."""
    carrier_quotes([RateRequest(**r) for r in requests], live=True)


def warm(requests: list[RateRequest]) -> None:
    """Enqueue the live quotes of ``requests`` (skipped at once when no merchant of them has an account)."""
    wanted = [asdict(r) for r in requests if _has_accounts(r.merchant_id)]
    if not wanted:
        return
    try:
        routing_rates_warm.delay(wanted)
    except Exception:  # broker down: the next orders on these routes will ask again
        log.warning("routing rates: could not enqueue the warm-up", exc_info=True)


def register() -> None:
    from orders.rates import register_rate_provider

    register_rate_provider(carrier_quotes, key="carriers", warm=warm)
