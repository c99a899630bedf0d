"""Billing benchmark: rate charge events for 500 merchants with the real rating path, issue every merchant's
invoice with the real cycle-end run, and time the public quote endpoint.

    .venv/bin/python bench/billing.py                 # 1,000,000 events (the issue's figure)
    BENCH_BILLING_EVENTS=200000 .venv/bin/python bench/billing.py   # scaled down on a busy machine

An "event" is one billable activity (fulfillment, pick, box, label, shipping, storage-day, receiving…),
priced by ``billing.pricing.price`` with the merchant's card in force and tier, turned into an immutable
``ChargeLine`` (``services.charge_lines_build``) and inserted idempotently (unique on the source key) — the
path the outbox handlers use (``charges_record`` = ``charge_rows_build`` + ``charge_rows_insert``), in
batches per merchant. The invoice run is ``services.invoices_issue_due``
over all 500 merchants (locked counter, gap-free numbers, line assignment, totals). The quote is a POST to
``/api/v1/pricing/quote/`` through Django and DRF (anonymous; the throttle is raised for the run).
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, percentile, setup

EVENTS = int(os.environ.get("BENCH_BILLING_EVENTS", "1000000"))
MERCHANTS = int(os.environ.get("BENCH_BILLING_MERCHANTS", "500"))
QUOTES = int(os.environ.get("BENCH_BILLING_QUOTES", "300"))
BATCH = 5000


def main() -> None:
    setup("billing")
    from django.db import connection

    from accounts.models import Merchant
    from billing import pricing, services
    from billing.models import BillingAccount, ChargeLine, Invoice

    services.standard_card_ensure()
    merchants = Merchant.objects.bulk_create(
        [Merchant(name=f"Bench {i}", slug=f"bench-{i}") for i in range(MERCHANTS)]
    )
    BillingAccount.objects.bulk_create(
        [
            BillingAccount(merchant=m, cycle_anchor=date(2025, 3, 1), next_cycle_start=date(2025, 3, 1))
            for m in merchants
        ]
    )
    services.rate_card_publish(merchant=merchants[0], data={"rates": {"fulfillment.order": "2.10"}},
                               effective_from=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
    rng = random.Random(7)
    kinds = [
        (pricing.Activity("fulfillment.order"), 3),
        (pricing.Activity("pick.unit", D(2)), 3),
        (pricing.Activity("packaging.small_box"), 2),
        (pricing.Activity("label.fee"), 2),
        (pricing.Activity("shipping", cost=D("8.37"), note="USPS Ground Advantage"), 2),
        (pricing.Activity("storage.pallet", fraction=D(1) / 30), 1),
        (pricing.Activity("receiving.unit", D(24)), 1),
    ]
    pool = [a for a, w in kinds for _ in range(w)]
    per_merchant = EVENTS // MERCHANTS
    month = datetime(2025, 3, 1, tzinfo=UTC)

    t0 = time.perf_counter()
    rated = 0
    for m in merchants:
        ctx = services.RatingContext.for_merchant(m, month + timedelta(days=14))
        done = 0
        while done < per_merchant:
            n = min(BATCH, per_merchant - done)
            charges = [services.Charge(rng.choice(pool), f"ev:{done + i}", source_label=f"event {done + i}")
                       for i in range(n)]  # fmt: skip
            at = month + timedelta(seconds=rng.randrange(0, 30 * 86400))
            rows = services.charge_rows_build(merchant_id=m.pk, charges=charges, occurred_at=at, ctx=ctx)
            services.charge_rows_insert(rows)
            done += n
            rated += n
    rating_s = time.perf_counter() - t0
    lines_written = ChargeLine.objects.count()

    t1 = time.perf_counter()
    issued = services.invoices_issue_due(today=date(2025, 4, 2))
    invoice_run_s = time.perf_counter() - t1
    assert len(issued) == MERCHANTS, len(issued)
    seqs = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert seqs == list(range(1, MERCHANTS + 1)), "invoice numbers must be gap-free"
    assert not ChargeLine.objects.filter(invoice__isnull=True).exists()

    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1000000/min"}
    api = APIClient()
    body = {"monthly_orders": 1200, "units_per_order": 2, "weight_g": 450, "length_mm": 200, "width_mm": 150,
            "height_mm": 80, "postal_codes": ["10001", "60601", "94105", "30301", "75201"], "pallets": "3"}  # fmt: skip
    times = []
    for i in range(QUOTES):
        body["monthly_orders"] = 100 + i * 37
        q0 = time.perf_counter()
        r = api.post("/api/v1/pricing/quote/", body, format="json")
        times.append((time.perf_counter() - q0) * 1000)
        assert r.status_code == 200, r.content
    connection.close()
    emit({
        "bench": "billing",
        "events": rated,
        "merchants": MERCHANTS,
        "charge_lines_written": lines_written,
        "events_rated_per_s": round(rated / rating_s, 1),
        "rating_s": round(rating_s, 2),
        "invoices": len(issued),
        "invoice_run_s": round(invoice_run_s, 2),
        "quote_p50_ms": round(percentile(times[10:], 50), 2),
        "quote_p95_ms": round(percentile(times[10:], 95), 2),
    })  # fmt: skip


if __name__ == "__main__":
    main()
