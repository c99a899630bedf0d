"""Per-connection rate limiting: a token bucket in the Django cache (Redis when REDIS_URL is set, so every
worker shares it) plus the platform's own "slow down" (429 + Retry-After), remembered per connection.

``take(connection)`` returns 0 when a request may go now, else the seconds to wait. Callers wait briefly in
process, or raise ``RetryableProviderError(retry_after=...)`` so the Celery task comes back later: work waits
rather than fails.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

# Sustained requests per second and burst, per platform (conservative against each platform's documented
# limits: Shopify REST leaky bucket 2/s burst 40; WooCommerce is the merchant's own server; Amazon SP-API
# Orders getOrders 0.0167/s burst 20 — we keep under its burst and honour 429s; eBay and Walmart quotas).
RATES: dict[str, tuple[float, int]] = {
    "shopify": (2.0, 40),
    "woocommerce": (5.0, 10),
    "amazon": (0.5, 20),
    "ebay": (5.0, 10),
    "walmart": (5.0, 10),
}


def _key(connection_id: int) -> str:
    return f"integrations:bucket:{connection_id}"


def take(*, connection_id: int, platform: str, cost: float = 1.0) -> float:
    """Take ``cost`` tokens; returns 0 when allowed, else seconds until enough tokens have refilled.

    The read-modify-write runs under a short cache lock so concurrent workers do not overspend."""
    rate, burst = RATES.get(platform, (5.0, 10))
    lock_key = _key(connection_id) + ":lock"
    for _ in range(50):
        if cache.add(lock_key, 1, timeout=2):
            break
        time.sleep(0.005)
    try:
        now = time.time()
        tokens, stamp = cache.get(_key(connection_id), (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens >= cost:
            cache.set(_key(connection_id), (tokens - cost, now), timeout=3600)
            return 0.0
        cache.set(_key(connection_id), (tokens, now), timeout=3600)
        return (cost - tokens) / rate
    finally:
        cache.delete(lock_key)


def acquire(*, connection_id: int, platform: str, cost: float = 1.0, max_wait: float = 5.0) -> float:
    """Wait in process for up to ``max_wait`` seconds; returns the remaining wait (0 = go)."""
    waited = 0.0
    while True:
        wait = take(connection_id=connection_id, platform=platform, cost=cost)
        if wait <= 0:
            return 0.0
        if waited + wait > max_wait:
            return wait
        time.sleep(wait)
        waited += wait


def state(*, connection_id: int, platform: str) -> dict:
    rate, burst = RATES.get(platform, (5.0, 10))
    tokens, stamp = cache.get(_key(connection_id), (float(burst), time.time()))
    tokens = min(float(burst), tokens + (time.time() - stamp) * rate)
    return {"tokens": round(tokens, 1), "burst": burst, "rate_per_s": rate}


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Retry-After when the platform said so, else exponential backoff capped at 10 minutes."""
    if retry_after is not None and retry_after > 0:
        return float(retry_after)
    return float(min(2 ** max(attempt, 0), 600))


def until(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)
