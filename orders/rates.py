"""Shipping-rate providers for routing: how a higher app (the carrier layer) prices a parcel from a candidate
warehouse to an order's destination without orders importing it.

A provider is ``fn(requests: list[RateRequest], *, live: bool) -> dict[RateRequest, Quote]``: it answers what
it can (missing keys mean "no quote"; routing then uses its zone table). With ``live=False`` it must not call
out (cached quotes only) — the what-if simulator uses that. Apps register from their ``AppConfig.ready``::

    from orders.rates import register_rate_provider
    register_rate_provider(carrier_quotes, key="carriers")

``quote(requests, live=...)`` asks the providers in registration order; the first quote for a request wins.
A provider that raises is logged and skipped — routing never fails because a carrier did. One order routed on
its own asks live; the batch path (which routes while holding stock-level locks) uses
``quote_cached_then_warm``: cached quotes now; after commit each provider warms the missing routes (the
carriers enqueue a task, so the import never waits for a carrier).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db import transaction

from fulfil import demo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateRequest:
    merchant_id: int
    warehouse_id: int
    origin_postal: str
    origin_country: str
    dest_postal: str
    dest_country: str
    weight_g: int
    service: str  # standard | expedited | overnight
    dest_city: str = ""
    dest_state: str = ""
    dest_street: str = ""


@dataclass(frozen=True)
class Quote:
    amount: Decimal  # what the merchant pays (markup included), per parcel
    currency: str
    carrier: str  # display name, e.g. "UPS"
    service: str  # e.g. "Ground"
    transit_days: int | None  # business days, when the carrier says
    source: str = "live"  # "live" (asked the carrier now) or "cached" (a live quote from the last minutes)

    @property
    def label(self) -> str:
        how = "live rate" if self.source == "live" else "cached live rate"
        return f"{self.carrier} {self.service} ${self.amount:.2f} ({how})"


Provider = Callable[..., "dict[RateRequest, Quote]"]


@dataclass(frozen=True)
class _Registered:
    key: str
    fn: Provider
    warm: Callable[[list[RateRequest]], None] | None = None


_providers: list[_Registered] = []


def register_rate_provider(fn: Provider, *, key: str = "", warm=None) -> Provider:
    """Register ``fn`` (idempotent per ``key``; the key defaults to the function's dotted name). ``warm``
    (optional) fetches quotes for later without blocking the caller, e.g. by enqueuing a task; without it,
    warming calls ``fn(requests, live=True)`` in place."""
    key = key or f"{fn.__module__}.{fn.__qualname__}"
    for i, existing in enumerate(_providers):
        if existing.key == key:
            _providers[i] = _Registered(key, fn, warm)
            return fn
    _providers.append(_Registered(key, fn, warm))
    return fn


def unregister_rate_provider(key: str) -> None:
    _providers[:] = [p for p in _providers if p.key != key]


def rate_providers() -> list[str]:
    return [p.key for p in _providers]


_offline: ContextVar[bool] = ContextVar("orders_rates_offline", default=False)


@contextmanager
def offline() -> Iterator[None]:
    """No carrier is asked inside this block: cached quotes and the zone table only, nothing warmed later
    (demo data, which must load on a machine that reaches no carrier)."""
    token = _offline.set(True)
    try:
        yield
    finally:
        _offline.reset(token)


def _carriers_reachable() -> bool:
    """False inside ``offline()`` and while demo data loads: no carrier may be asked."""
    return not _offline.get() and not demo.is_loading()


def quote(requests: list[RateRequest], *, live: bool = True) -> dict[RateRequest, Quote]:
    """Quotes for as many of ``requests`` as the registered providers can price."""
    live = live and _carriers_reachable()
    found: dict[RateRequest, Quote] = {}
    todo = list(dict.fromkeys(requests))
    for provider in _providers:
        if not todo:
            break
        try:
            got = provider.fn(todo, live=live) or {}
        except Exception:
            log.exception("routing rate provider %s failed; using the zone table", provider.key)
            continue
        for request in todo:
            if request in got and got[request] is not None:
                found[request] = got[request]
        todo = [r for r in todo if r not in found]
    return found


def quote_cached_then_warm(requests: list[RateRequest]) -> dict[RateRequest, Quote]:
    """Cached quotes now; the routes not in the cache are asked live after the transaction commits (so the
    next orders on those routes get them). For the batch path, which holds stock-level locks while it routes:
    no carrier call may run under them."""
    found = quote(requests, live=False)
    missing = tuple(r for r in dict.fromkeys(requests) if r not in found)
    if missing and _providers and _carriers_reachable():
        transaction.on_commit(partial(_warm, requests=missing))
    return found


def _warm(*, requests: tuple[RateRequest, ...]) -> None:
    for provider in _providers:
        try:
            if provider.warm is not None:
                provider.warm(list(requests))
            else:
                provider.fn(list(requests), live=True)
        except Exception:
            log.exception("routing rate provider %s could not warm its quotes", provider.key)
