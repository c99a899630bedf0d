"""A circuit breaker per carrier account, its state in the shared cache (Redis in production) so every web
and worker process sees the same state: after ``THRESHOLD`` consecutive failed calls the account is skipped
for ``COOLDOWN`` seconds; then one trial call is let through (half-open) and its outcome closes or re-opens it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


def _threshold() -> int:
    return int(getattr(settings, "CARRIER_BREAKER_THRESHOLD", 3))


def _cooldown() -> float:
    return float(getattr(settings, "CARRIER_BREAKER_COOLDOWN", 30))


def _keys(account_id: int) -> tuple[str, str, str]:
    base = f"carriers:breaker:{account_id}"
    return f"{base}:fails", f"{base}:open_until", f"{base}:trial"


def state(account_id: int) -> str:
    _, open_key, _ = _keys(account_id)
    until = cache.get(open_key)
    if until is None:
        return CLOSED
    return OPEN if time.time() < float(until) else HALF_OPEN


def allow(account_id: int) -> bool:
    """May we call this account now? In the half-open state only one caller gets the trial."""
    _, open_key, trial_key = _keys(account_id)
    until = cache.get(open_key)
    if until is None:
        return True
    if time.time() < float(until):
        return False
    return bool(cache.add(trial_key, 1, timeout=max(int(_cooldown()), 1)))


def record_success(account_id: int) -> None:
    cache.delete_many(list(_keys(account_id)))


def record_failure(account_id: int) -> str:
    fails_key, open_key, trial_key = _keys(account_id)
    cache.add(fails_key, 0, timeout=3600)
    try:
        fails = cache.incr(fails_key)
    except ValueError:
        cache.set(fails_key, 1, timeout=3600)
        fails = 1
    if fails >= _threshold() or cache.get(open_key) is not None:
        cache.set(open_key, time.time() + _cooldown(), timeout=int(_cooldown()) + 3600)
        cache.delete(trial_key)
        return OPEN
    return CLOSED


def reset(account_id: int) -> None:
    record_success(account_id)


def allowed(account_ids: list[int]) -> set[int]:
    """``allow`` for many accounts with one cache round trip in the common (all closed) case."""
    keys = {_keys(pk)[1]: pk for pk in account_ids}
    opened = cache.get_many(list(keys))
    now = time.time()
    out = set(account_ids)
    for key, until in opened.items():
        pk = keys[key]
        if now < float(until) or not cache.add(_keys(pk)[2], 1, timeout=max(int(_cooldown()), 1)):
            out.discard(pk)
    return out


def states(account_ids: list[int]) -> dict[int, str]:
    keys = {_keys(pk)[1]: pk for pk in account_ids}
    opened = cache.get_many(list(keys))
    now = time.time()
    result = dict.fromkeys(account_ids, CLOSED)
    for key, until in opened.items():
        result[keys[key]] = OPEN if now < float(until) else HALF_OPEN
    return result
