"""Receiving throughput: N ASNs × M lines received through the receiving floor's service layer
(``warehouse.inbound.services.receipt_record`` — one call per scanned line, as the tablet does, each through
inventory's ``inbound_receive``), with backorders waiting on a quarter of the products.

Prints ``{"bench": "receiving", "lines_per_s": …, "backorders_filled_p95_ms": …}``. ``backorders_filled_*`` is
the time from the start of a receipt call to its commit for the receipts that filled a waiting backorder —
inventory fills backorders inside the same transaction, so the order is allocated when the receipt commits.

    .venv/bin/python bench/receiving.py [--asns 500] [--lines 20] [--mode floor|batch] [--dispatch worker|eager]

``--mode batch`` receives each ASN in one ``inbound_receive`` call (the API's path) for comparison.

``--dispatch worker`` (default, as ``bench/allocation.py`` and production): Celery's broker is a real local
Redis (BENCH_BROKER_URL, default redis://127.0.0.1:6379/13, flushed before and after) and no worker runs during
the timing, so the outbox events a receipt writes cost their INSERT and the after-commit signal; the handlers
(channel pushes, billing, order status) are the workers' work and are not in the figure — ``outbox_pending``
says how many events were left for them. ``--dispatch eager`` runs every handler in-process after each commit
(Celery eager, the old behaviour of this benchmark), which counts them in the receipt's time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DISPATCH = "eager" if "eager" in sys.argv else "worker"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
if DISPATCH == "worker":
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"

from _common import emit, percentile, setup  # noqa: E402 - the environment above comes first


def _flush_broker() -> None:
    if DISPATCH == "worker" and BROKER.startswith("redis"):
        import redis

        redis.Redis.from_url(BROKER).flushdb()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--asns", type=int, default=500)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--mode", choices=["floor", "batch"], default="floor")
    ap.add_argument("--dispatch", choices=["worker", "eager"], default="worker")
    args = ap.parse_args()
    setup("receiving")
    _flush_broker()

    from decimal import Decimal

    from accounts.models import Merchant
    from inventory import services as inv
    from inventory.models import Allocation, Location, Product
    from warehouse.inbound import services

    merchant = Merchant.objects.create(name="Bench", slug="bench")
    wh = inv.warehouse_create(code="BW1", name="Bench DC")
    Location.objects.create(warehouse=wh, code="RCV", type="receiving")
    Location.objects.create(warehouse=wh, code="QC", type="quarantine")
    for i in range(40):
        Location.objects.create(warehouse=wh, code=f"A-{i:02d}", type="pick", x=i, y=5, capacity=0)
    products = [
        Product.objects.create(
            merchant=merchant, sku=f"SKU-{i:04d}", name=f"P{i}", value=Decimal("5.00"), status="active"
        )
        for i in range(args.products)
    ]
    backordered = {p.pk: 0 for p in products[::4]}
    for p in products[::4]:
        for k in range(3):
            inv.stock_reserve(
                merchant=merchant, product=p, warehouse=wh, quantity=4, reference=f"order_line:{p.pk}-{k}"
            )
            backordered[p.pk] += 4
    shipments = []
    for a in range(args.asns):
        lines = [(products[(a * args.lines + j) % len(products)], 10) for j in range(args.lines)]
        shipments.append(
            (inv.inbound_create(merchant=merchant, warehouse=wh, reference=f"ASN-{a}", lines=lines), lines)
        )

    fill_ms: list[float] = []
    n_lines = 0
    t_start = time.perf_counter()
    for shipment, lines in shipments:
        if args.mode == "batch":
            waiting = any(backordered.get(p.pk, 0) > 0 for p, _ in lines)
            t0 = time.perf_counter()
            inv.inbound_receive(
                merchant=merchant,
                shipment=shipment,
                lines=[inv.ReceiptLine(product=p, quantity=q) for p, q in lines],
            )
            dt = (time.perf_counter() - t0) * 1000
            for p, q in lines:
                if backordered.get(p.pk, 0) > 0:
                    backordered[p.pk] = max(0, backordered[p.pk] - q)
            if waiting:
                fill_ms.append(dt)
            n_lines += len(lines)
            continue
        session = services.receiving_start(shipment=shipment)
        for j, (p, q) in enumerate(lines):
            waiting = backordered.get(p.pk, 0) > 0
            t0 = time.perf_counter()
            services.receipt_record(
                session=session, client_scan_id=f"{shipment.pk}-{j}", product=p, quantity=q
            )
            dt = (time.perf_counter() - t0) * 1000
            if waiting:
                fill_ms.append(dt)
                backordered[p.pk] = max(0, backordered[p.pk] - q)
            n_lines += 1
    elapsed = time.perf_counter() - t_start
    open_backorders = sum(a.backordered for a in Allocation.objects.filter(status="open"))
    from fulfil.models import OutboxEvent

    pending = OutboxEvent.objects.filter(status="pending").count()
    _flush_broker()
    emit(
        {
            "bench": "receiving",
            "mode": args.mode,
            "asns": args.asns,
            "lines_per_asn": args.lines,
            "lines": n_lines,
            "seconds": round(elapsed, 2),
            "lines_per_s": round(n_lines / elapsed, 1),
            "backorders_filled_p50_ms": round(percentile(fill_ms, 50), 1),
            "backorders_filled_p95_ms": round(percentile(fill_ms, 95), 1),
            "backorders_left_open": open_backorders,
            "dispatch": args.dispatch,
            "outbox_pending": pending,
        }
    )


if __name__ == "__main__":
    main()
