"""Release guards: checks that higher apps plug into the release transition without orders importing them.

A guard is ``fn(order) -> None | str``: ``None`` (or any falsy value) lets the order go to the warehouse; a
string is the reason it may not, shown to people. Apps register guards from their ``AppConfig.ready``::

    from orders.guards import register_release_guard
    register_release_guard(billing_credit_guard, key="credit", per_merchant=True)

Every release to the warehouse — automatic after allocation (one order or a batch), by hand, or after a
hold — asks ``release_blocked(order)`` first; a blocked order goes on hold with the reason (see
``orders.services.workflow.release_or_hold``) and ``orders_release_held`` lets it go once every guard
passes again. A ``per_merchant`` guard depends only on the order's merchant, so the batch path asks it
once per merchant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Guard = Callable[[Any], "str | bool | None"]


@dataclass(frozen=True)
class _Registered:
    key: str
    fn: Guard
    per_merchant: bool


_guards: list[_Registered] = []


def register_release_guard(fn: Guard, *, key: str = "", per_merchant: bool = False) -> Guard:
    """Register ``fn`` (idempotent per ``key``; the key defaults to the function's dotted name)."""
    key = key or f"{fn.__module__}.{fn.__qualname__}"
    for i, existing in enumerate(_guards):
        if existing.key == key:
            _guards[i] = _Registered(key, fn, per_merchant)
            return fn
    _guards.append(_Registered(key, fn, per_merchant))
    return fn


def unregister_release_guard(key: str) -> None:
    """For tests and for apps that switch a guard off."""
    _guards[:] = [g for g in _guards if g.key != key]


def release_guards() -> list[str]:
    return [g.key for g in _guards]


def release_blocked(order) -> str | None:
    """The first reason a registered guard gives for not releasing ``order`` now, or ``None``."""
    from orders.services import unit

    batch = unit.current()
    for guard in _guards:
        cache_key = (guard.key, order.merchant_id)
        if guard.per_merchant and batch is not None and cache_key in batch.guard_results:
            reason = batch.guard_results[cache_key]
        else:
            reason = guard.fn(order) or None
            if guard.per_merchant and batch is not None:
                batch.guard_results[cache_key] = reason
        if reason:
            return str(reason)
    return None
