"""Rate-shop 1,000 parcels against the fake EasyPost server: 4 carrier accounts, 50 ms simulated latency each.

The accounts are queried concurrently (one thread each), so a parcel should cost about one provider round
trip, not four. Each shop also ranks the rates and writes its RateQuote rows, as in production.
Prints {"bench": "rates", "parcels_per_s": …, "p95_ms": …}. Target: p95 ≤ 120 ms per parcel.
"""

from __future__ import annotations

import os
import random
import sys
import time

from _common import emit, percentile, setup

PARCELS = int(os.environ.get("BENCH_PARCELS", "1000"))
LATENCY = 0.050

setup("rates")

from django.conf import settings  # noqa: E402

from accounts.models import Merchant  # noqa: E402
from integrations.carriers import services  # noqa: E402
from integrations.carriers.base import Address, Parcel  # noqa: E402
from integrations.carriers.models import CarrierAccount, RateQuote  # noqa: E402

sys.path.insert(0, str(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.carriers.fake_easypost import FakeEasyPost  # noqa: E402

fake = FakeEasyPost().start()
fake.latency = LATENCY
settings.EASYPOST_API_BASE = fake.api_base

merchant = Merchant.objects.create(name="Bench", slug="bench-rates")
for code, name in (("usps", "USPS"), ("ups", "UPS"), ("fedex", "FedEx"), ("dhl_express", "DHLExpress")):
    key = f"EZTK-bench-{code}"
    fake.carriers_for(key, name)
    CarrierAccount.objects.create(
        merchant=None, name=f"{name} bench", carrier=code, api_key=key, timeout_seconds=2
    )

origin = Address(
    name="Bench WH", street1="179 N Harbor Dr", city="Redondo Beach", state="CA", postal_code="90277"
)
rng = random.Random(42)
zips = ["94107", "10001", "60601", "73301", "98101", "33101", "02108", "80202"]


def parcel() -> tuple[Parcel, Address]:
    p = Parcel(
        weight_g=rng.randint(100, 9000),
        length_mm=rng.randint(100, 600),
        width_mm=rng.randint(80, 400),
        height_mm=rng.randint(20, 300),
    )
    to = Address(
        name="Customer",
        street1=f"{rng.randint(1, 999)} Main St",
        city="Town",
        state="NY",
        postal_code=rng.choice(zips),
    )
    return p, to


for _ in range(20):  # warm-up: connections, caches
    p, to = parcel()
    services.rates_shop(merchant=merchant, parcel=p, to_address=to, from_warehouse=origin)

latencies = []
failures = 0
started = time.perf_counter()
for _ in range(PARCELS):
    p, to = parcel()
    t0 = time.perf_counter()
    try:
        services.rates_shop(merchant=merchant, parcel=p, to_address=to, from_warehouse=origin)
    except Exception:
        failures += 1
    latencies.append((time.perf_counter() - t0) * 1000)
elapsed = time.perf_counter() - started
fake.stop()

emit(
    {
        "bench": "rates",
        "parcels": PARCELS,
        "accounts": 4,
        "provider_latency_ms": int(LATENCY * 1000),
        "parcels_per_s": round(PARCELS / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "failures": failures,
        "quotes_logged": RateQuote.objects.count(),
    }
)
