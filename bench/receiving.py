"""Receiving throughput, with backorders waiting on a quarter of the products, through two paths:

* ``service`` — the issue's figure: N ASNs × M lines, each ASN received in one call of inventory's set-based
  ``inbound_receive`` (the API's and the batch's path).
* ``scan`` — the tablet: the same kind of ASNs received through the receive screen's real view
  (``/app/warehouse/inbound/floor/receive/<id>/``, Django's request handling: session, auth, staff scope,
  scan parsing, the set-based receive of the batch in one transaction, and the re-rendered panel fragment),
  ``--batch`` scans per request — what a tablet sends when scans queue up while the previous batch is in
  flight (``--batch 1``: a scanner slower than the server, each scan alone).
* ``single`` — the old per-scan service call (``receipt_record`` per line) for comparison, scaled down.

Prints one JSON line ``{"bench": "receiving", "lines_per_s": …, "backorders_filled_p95_ms": …, …}``: the
headline fields are the service path; ``scan_*`` and ``single_*`` the others. ``backorders_filled_*`` is the
time from the start of a receive call (or request) to its commit for the calls that filled a waiting
backorder — inventory fills backorders inside the receipt's transaction, so the order is allocated when it
commits (for a batched scan add the wait for the previous request, at most one request time).
``queries_per_line`` counts every SQL statement of the phase (the view's included) per received line;
``cpu_ms_per_line`` is this process's CPU (Django + psycopg, not the Postgres server's) per line. The machine
is shared, so throughput is noisy; queries and CPU per line are the stable figures.

    .venv/bin/python bench/receiving.py [--asns 500] [--lines 20] [--batch 20] [--single-asns 50]
                                        [--modes service,scan,single] [--dispatch worker|eager]

``--dispatch worker`` (default, as ``bench/allocation.py`` and production): Celery's broker is a real local
Redis (BENCH_BROKER_URL, default redis://127.0.0.1:6379/13, flushed before and after) and no worker runs during
the timing, so the outbox events a receipt writes cost their INSERT and the after-commit signal; the handlers
are the workers' work — ``outbox_pending`` says how many events were left for them. ``--dispatch eager`` runs
every handler in-process after each commit.
"""

from __future__ import annotations

import argparse
import json
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


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def _world(tag: str, merchant, wh, n_products: int, n_asns: int, n_lines: int):
    """Products (a quarter with 3 backorders of 4 units waiting) and ASNs of ``n_lines`` lines × 10 units."""
    from decimal import Decimal

    from inventory import services as inv
    from inventory.models import Product

    products = [
        Product.objects.create(
            merchant=merchant,
            sku=f"{tag}-{i:04d}",
            name=f"{tag} {i}",
            barcode=f"{tag}{i:06d}",
            value=Decimal("5.00"),
            status="active",
        )
        for i in range(n_products)
    ]
    backordered = {}
    for p in products[::4]:
        for k in range(3):
            inv.stock_reserve(
                merchant=merchant,
                product=p,
                warehouse=wh,
                quantity=4,
                reference=f"order_line:{tag}-{p.pk}-{k}",
            )
        backordered[p.pk] = 12
    shipments = []
    for a in range(n_asns):
        lines = [(products[(a * n_lines + j) % len(products)], 10) for j in range(n_lines)]
        shipment = inv.inbound_create(
            merchant=merchant, warehouse=wh, reference=f"{tag}-ASN-{a}", lines=lines
        )
        shipments.append((shipment, lines))
    return shipments, backordered


def _phase(run) -> dict:
    from django.db import connection

    counter = _Counter()
    cpu0, t0 = time.process_time(), time.perf_counter()
    with connection.execute_wrapper(counter):
        n_lines, fill_ms = run()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "lines": n_lines,
        "seconds": round(elapsed, 2),
        "lines_per_s": round(n_lines / elapsed, 1),
        "backorders_filled_p50_ms": round(percentile(fill_ms, 50), 1),
        "backorders_filled_p95_ms": round(percentile(fill_ms, 95), 1),
        "queries_per_line": round(counter.n / max(n_lines, 1), 2),
        "cpu_ms_per_line": round(1000 * cpu / max(n_lines, 1), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--asns", type=int, default=500)
    ap.add_argument("--lines", type=int, default=20)
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--batch", type=int, default=20, help="scans per request on the scan path")
    ap.add_argument("--scan-asns", type=int, default=0, help="ASNs for the scan path (default --asns)")
    ap.add_argument("--single-asns", type=int, default=50, help="ASNs for the per-scan service path")
    ap.add_argument("--modes", default="service,scan,single")
    ap.add_argument("--dispatch", choices=["worker", "eager"], default="worker")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    setup("receiving")
    _flush_broker()

    from django.test import Client

    from accounts.models import Merchant, User
    from inventory import services as inv
    from inventory.models import Allocation, Location
    from warehouse.inbound import services

    merchant = Merchant.objects.create(name="Bench", slug="bench")
    wh = inv.warehouse_create(code="BW1", name="Bench DC")
    Location.objects.create(warehouse=wh, code="RCV", type="receiving")
    Location.objects.create(warehouse=wh, code="QC", type="quarantine")
    for i in range(40):
        Location.objects.create(warehouse=wh, code=f"A-{i:02d}", type="pick", x=i, y=5, capacity=0)

    out: dict = {"bench": "receiving", "asns": args.asns, "lines_per_asn": args.lines}

    if "service" in modes:
        shipments, backordered = _world("SVC", merchant, wh, args.products, args.asns, args.lines)

        def run_service():
            fill_ms, n = [], 0
            for shipment, lines in shipments:
                waiting = any(backordered.get(p.pk, 0) > 0 for p, _ in lines)
                t0 = time.perf_counter()
                inv.inbound_receive(
                    merchant=merchant,
                    shipment=shipment,
                    lines=[inv.ReceiptLine(product=p, quantity=q) for p, q in lines],
                )
                if waiting:
                    fill_ms.append((time.perf_counter() - t0) * 1000)
                for p, q in lines:
                    if backordered.get(p.pk, 0) > 0:
                        backordered[p.pk] = max(0, backordered[p.pk] - q)
                n += len(lines)
            return n, fill_ms

        out.update(_phase(run_service))

    if "scan" in modes:
        n_asns = args.scan_asns or args.asns
        shipments, backordered = _world("SCN", merchant, wh, args.products, n_asns, args.lines)
        staff = User.objects.create_user(
            "bench-floor@fulfil.example",
            "x",
            operator_role=User.OperatorRole.ASSOCIATE,
            warehouse_codes=["BW1"],
        )
        client = Client()
        client.force_login(staff)
        for shipment, _ in shipments:  # the associate scans each ASN's label: receiving starts
            services.receiving_start(shipment=shipment, user=staff)

        def run_scan():
            fill_ms, n = [], 0
            for shipment, lines in shipments:
                url = f"/app/warehouse/inbound/floor/receive/{shipment.pk}/"
                scans = [
                    {"client_scan_id": f"{shipment.pk}-{j}", "scan": p.barcode, "quantity": str(q)}
                    for j, (p, q) in enumerate(lines)
                ]
                for k in range(0, len(scans), args.batch):
                    chunk = scans[k : k + args.batch]
                    chunk_lines = lines[k : k + args.batch]
                    waiting = any(backordered.get(p.pk, 0) > 0 for p, _ in chunk_lines)
                    t0 = time.perf_counter()
                    response = client.post(
                        url,
                        json.dumps({"scans": chunk}),
                        content_type="application/json",
                        HTTP_HX_REQUEST="true",
                    )
                    dt = (time.perf_counter() - t0) * 1000
                    if response.status_code != 200 or b"scan-msg bad" in response.content:
                        raise SystemExit(
                            f"scan batch refused: {response.status_code} {response.content[:300]!r}"
                        )
                    if waiting:
                        fill_ms.append(dt)
                    for p, q in chunk_lines:
                        if backordered.get(p.pk, 0) > 0:
                            backordered[p.pk] = max(0, backordered[p.pk] - q)
                    n += len(chunk)
            return n, fill_ms

        scan = _phase(run_scan)
        out.update({f"scan_{k}": v for k, v in scan.items()})
        out["scan_batch"] = args.batch

    if "single" in modes:
        shipments, backordered = _world("ONE", merchant, wh, args.products, args.single_asns, args.lines)

        def run_single():
            fill_ms, n = [], 0
            for shipment, lines in shipments:
                session = services.receiving_start(shipment=shipment)
                for j, (p, q) in enumerate(lines):
                    waiting = backordered.get(p.pk, 0) > 0
                    t0 = time.perf_counter()
                    services.receipt_record(
                        session=session, client_scan_id=f"{shipment.pk}-{j}", product=p, quantity=q
                    )
                    if waiting:
                        fill_ms.append((time.perf_counter() - t0) * 1000)
                        backordered[p.pk] = max(0, backordered[p.pk] - q)
                    n += 1
            return n, fill_ms

        single = _phase(run_single)
        out.update({f"single_{k}": v for k, v in single.items()})

    from fulfil.models import OutboxEvent

    out["backorders_left_open"] = sum(a.backordered for a in Allocation.objects.filter(status="open"))
    out["dispatch"] = args.dispatch
    out["outbox_pending"] = OutboxEvent.objects.filter(status="pending").count()
    out["load_1m"] = round(os.getloadavg()[0], 2)
    _flush_broker()
    emit(out)


if __name__ == "__main__":
    main()
