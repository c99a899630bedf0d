"""Order book benchmark (issue 4).

1. Import N canonical orders through the real import path — the batch form ``order_import_many`` (CSV
   uploads, connector backfills: 100 orders per transaction, processed by ``orders_process_batch``) for the
   headline figure, and ORDERS_BENCH_SINGLE more one by one through ``order_import`` (one transaction per
   delivery, like a webhook) for ``imported_one_by_one_per_s``. Validation, routing, allocation and release
   run after commit, in-process (Celery eager — the same code a worker runs). Orders come from a generator seeded with the shapes of the Shopify order fixtures in
   ../shared/fixtures (line counts, quantities, address shape) when present. Half the orders are then
   delivered a second time to prove idempotency (``duplicates`` counts extra orders; must be 0).
2. Fill the table to 1,000,000 orders with one bulk ``INSERT … SELECT generate_series`` and ANALYZE.
3. Time the order list page (GET /app/orders/, the real view with session, template and keyset page) and
   filtered lists (status, channel, status+channel, search, date range, next page) — p95 in ms.

Prints {"bench": "orders", "imported_per_s": …, "list_p95_ms": …, "filtered_list_p95_ms": …, "duplicates": 0}.
ORDERS_BENCH_IMPORT (default 50,000, the issue's figure; a smaller one while iterating) sets step 1's size; the
stock received before it scales with the number of orders (about 7% end up backordered at any size), so the
figure is about orders that allocate and release, not about a shelf that ran dry. The whole run takes about
five minutes on 2 quiet cores.

CPU figures make a change comparable whatever else the machine runs: ``cpu_ms_per_order`` is the importing
processes' user+system CPU (``wait4`` rusage) per imported order, ``pg_cpu_ms_per_order`` that of their
Postgres backends (``/proc/<pg_backend_pid()>/stat``, so it needs the server on this machine; ``null``
otherwise), and ``queries_per_order`` the statements they sent through Django's cursors (the COPY of a batch
insert is not counted) — for the batch path and, as ``single_*``, for the one-by-one path. ORDERS_BENCH_PROFILE=/tmp/p writes each importing process's cProfile stats to
/tmp/p-<run_batch|run_one>-<items>-<k>.prof (the figures are then slower, of course).
Outbox events (order.created, order.status_changed …) are written in the same transactions, but their
dispatch to other apps' handlers (billing estimates, channel pushes) is left to the workers, as in
production: this process plays the order-processing worker only. ``outbox_pending`` reports how many.
Customer emails are their own tasks too (queued by the release, not sent here).

Routing rates: by default the merchant has no carrier account, so routing prices candidates with the zone
table (``routing_rates`` says so). ORDERS_BENCH_CARRIER=fake adds one operator UPS account on the fake EasyPost
(tests/carriers/fake_easypost.py, real ``easypost`` client over loopback): the batch path then uses cached
quotes and prices the missing routes after each commit, the one-by-one path asks live (cache misses only);
``live_rate_calls`` counts the rate requests the fake answered.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from _common import emit, percentile, setup

N_IMPORT = int(os.environ.get("ORDERS_BENCH_IMPORT", "50000"))
PROCS = int(os.environ.get("ORDERS_BENCH_PROCS", "2"))
N_SINGLE = int(os.environ.get("ORDERS_BENCH_SINGLE", "300"))
CARRIER = os.environ.get("ORDERS_BENCH_CARRIER", "")
TOTAL = int(os.environ.get("ORDERS_BENCH_TOTAL", "1000000"))
PROFILE = os.environ.get(
    "ORDERS_BENCH_PROFILE", ""
)  # path prefix: each importing process dumps cProfile stats
FIXTURES = Path(
    os.environ.get("FULFIL_VENDOR_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)

ZIPS = [
    "02110",
    "10001",
    "19103",
    "20001",
    "30303",
    "33101",
    "40202",
    "48201",
    "60601",
    "63101",
    "70112",
    "75201",
    "77002",
    "80202",
    "85001",
    "90028",
    "94103",
    "97201",
    "98101",
    "55401",
    "46204",
    "37203",
]
STATES = {
    "02": "MA",
    "10": "NY",
    "19": "PA",
    "20": "DC",
    "30": "GA",
    "33": "FL",
    "40": "KY",
    "48": "MI",
    "60": "IL",
    "63": "MO",
    "70": "LA",
    "75": "TX",
    "77": "TX",
    "80": "CO",
    "85": "AZ",
    "90": "CA",
    "94": "CA",
    "97": "OR",
    "98": "WA",
    "55": "MN",
    "46": "IN",
    "37": "TN",
}
FIRST = ["Ann", "Bob", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu", "Max", "Ned", "Oda"]
LAST = ["Lee", "Norman", "Diaz", "Khan", "Smith", "Ito", "Moreau", "Silva", "Novak", "Berg", "Olsen"]


def shapes() -> list[tuple[int, list[int]]]:
    """(line count, quantities) shapes from the Shopify fixtures, or a default mix."""
    found = []
    for name in ("order.json", "orders.json"):
        path = FIXTURES / "shopify" / "rest-fixtures" / name
        if path.is_file():
            data = json.loads(path.read_text())
            for order in data.get("orders") or [data.get("order") or {}]:
                qty = [int(li.get("quantity") or 1) for li in order.get("line_items", [])]
                if qty:
                    found.append((len(qty), qty))
    return found or [(1, [1]), (2, [1, 2]), (3, [1, 1, 1])]


def main() -> None:
    setup(os.environ.get("ORDERS_BENCH_DB", "orders"))  # another name when two people bench at once
    from decimal import Decimal

    from fulfil import outbox
    from orders.services import notifications

    outbox._enqueue = lambda **kw: None  # events stay pending for the outbox workers (see docstring)
    notifications._send_later = lambda **kw: None  # customer emails are their own tasks (see docstring)

    from django.db import connection
    from django.test import Client

    from accounts.models import Membership, Merchant, User
    from inventory import services as inventory
    from inventory.models import Product, Warehouse
    from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
    from orders.models import Order
    from orders.services import order_import

    rnd = random.Random(4)
    merchant = Merchant.objects.create(name="Bench Outdoor", slug="bench-outdoor")
    user = User.objects.create_user("bench@example.com", "bench-password-1")
    Membership.objects.create(user=user, merchant=merchant, role="owner")
    warehouses = [
        Warehouse.objects.create(code="EAST", name="East", postal_code="07001", state="NJ"),
        Warehouse.objects.create(
            code="CENTRAL", name="Central", postal_code="60601", state="IL", hazmat_certified=True
        ),
        Warehouse.objects.create(
            code="WEST", name="West", postal_code="90001", state="CA", timezone="America/Los_Angeles"
        ),
    ]
    products = [
        Product.objects.create(
            merchant=merchant,
            sku=f"SKU-{i:04d}",
            name=f"Product {i}",
            weight_g=rnd.randint(100, 3000),
            status="active",
        )
        for i in range(300)
    ]
    # Stock in proportion to the orders to come: the shelves of the 2,300-order run (5-60 units a level,
    # ~7% of its orders backordered) times the run's size, so a 50,000-order run is not mostly backorders.
    scale = max(1.0, (N_IMPORT + N_SINGLE) / 2300)
    for p in products:
        for wh in warehouses:
            if rnd.random() < 0.8:
                inventory.stock_receive(
                    merchant=merchant, product=p, warehouse=wh, quantity=round(rnd.randint(5, 60) * scale)
                )

    fake = None
    if CARRIER == "fake":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from django.conf import settings

        from integrations.carriers.models import CarrierAccount
        from tests.carriers.fake_easypost import FakeEasyPost

        fake = FakeEasyPost().start()
        settings.EASYPOST_API_BASE = fake.api_base
        fake.carriers_for("EZTK-bench-ups", "UPS")
        CarrierAccount.objects.create(
            merchant=None, name="UPS account", carrier="ups", api_key="EZTK-bench-ups", timeout_seconds=2
        )

    mix = shapes()

    def make(i: int) -> CanonicalOrder:
        count, qtys = rnd.choice(mix)
        zip_ = rnd.choice(ZIPS)
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        skus = rnd.sample(products, k=min(count, 3))
        return CanonicalOrder(
            channel=rnd.choice(["shopify", "shopify", "woocommerce", "amazon", "api"]),
            external_id=f"B{i:07d}",
            number=f"#{1000 + i}",
            lines=tuple(
                CanonicalLine(sku=p.sku, quantity=q, unit_price=Decimal("19.99"))
                for p, q in zip(skus, qtys, strict=False)
            ),
            ship_to=CanonicalAddress(
                name=name,
                street1=f"{rnd.randint(1, 999)} Main St",
                city="Town",
                state=STATES[zip_[:2]],
                postal_code=zip_,
                email=f"c{i}@example.com",
            ),
            customer_email=f"c{i}@example.com",
            shipping_service="expedited" if rnd.random() < 0.1 else "standard",
        )

    orders = [make(i) for i in range(N_IMPORT)]
    single = [make(N_IMPORT + i) for i in range(N_SINGLE)]
    from django.db import transaction

    from orders.services import order_import_many

    def run_one(o):
        # one delivery = one transaction (a webhook); its processing runs right after commit, in-process
        with transaction.atomic():
            order_import(merchant=merchant, order=o)

    def run_batch(chunk):
        # one batch of deliveries (CSV upload, connector backfill); processing tasks run after commit
        order_import_many(merchant=merchant, orders=chunk)

    ticks = os.sysconf("SC_CLK_TCK")

    def backend_cpu_s(pid: int) -> float:
        """user+system CPU seconds of a Postgres backend so far (fields 14 and 15 of /proc/<pid>/stat)."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    def in_processes(fn, items, per_call):
        """PROCS processes, like `celery worker` with one process per core, each taking a share. Returns the
        wall time and the CPU seconds of the processes, of their Postgres backends, and their queries."""
        connection.close()
        begin = time.perf_counter()
        children = []
        for k in range(PROCS):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                report = {"pg_cpu_s": None, "queries": 0}
                try:
                    os.close(read_end)
                    counter = {"n": 0}

                    def count(execute, sql, params, many, context, counter=counter):
                        counter["n"] += 1
                        return execute(sql, params, many, context)

                    with connection.execute_wrapper(count), connection.cursor() as cur:
                        cur.execute("SELECT pg_backend_pid()")
                        backend = cur.fetchone()[0]
                        pg_start = backend_cpu_s(backend)
                        share = items[k::PROCS]
                        profiler = None
                        if PROFILE:
                            import cProfile

                            profiler = cProfile.Profile()
                            profiler.enable()
                        for start in range(0, len(share), per_call):
                            fn(share[start : start + per_call] if per_call > 1 else share[start])
                        if profiler is not None:
                            profiler.disable()
                            profiler.dump_stats(f"{PROFILE}-{fn.__name__}-{len(items)}-{k}.prof")
                        cur.execute("SELECT pg_backend_pid()")
                        if cur.fetchone()[0] == backend:  # the same connection throughout: its CPU is ours
                            report["pg_cpu_s"] = backend_cpu_s(backend) - pg_start
                    report["queries"] = counter["n"] - 2
                    connection.close()
                finally:
                    os.write(write_end, json.dumps(report).encode())
                    os._exit(0)
            os.close(write_end)
            children.append((pid, read_end))
        cpu_s, pg_cpu_s, queries = 0.0, 0.0, 0
        for pid, read_end in children:
            _, _, usage = os.wait4(pid, 0)
            cpu_s += usage.ru_utime + usage.ru_stime
            with os.fdopen(read_end) as f:
                report = json.loads(f.read() or "{}")
            queries += report.get("queries", 0)
            pg_cpu_s = (
                None if pg_cpu_s is None or report.get("pg_cpu_s") is None else pg_cpu_s + report["pg_cpu_s"]
            )
        return time.perf_counter() - begin, cpu_s, pg_cpu_s, queries

    def per_order_ms(seconds, n):
        return None if seconds is None else round(seconds * 1000 / n, 3)

    elapsed, cpu_s, pg_cpu_s, queries = in_processes(run_batch, orders, 100)
    imported_per_s = N_IMPORT / elapsed
    single_elapsed, single_cpu_s, single_pg_cpu_s, single_queries = in_processes(run_one, single, 1)
    single_per_s = N_SINGLE / single_elapsed
    # re-delivery of half of them: must change nothing
    redelivery_s = in_processes(run_batch, orders[: N_IMPORT // 2], 100)[0]
    in_processes(run_one, single[: N_SINGLE // 2], 1)
    duplicates = Order.objects.count() - N_IMPORT - N_SINGLE
    from fulfil.models import OutboxEvent

    pending = OutboxEvent.objects.filter(status="pending").count()
    statuses = dict(
        Order.objects.values_list("status").annotate(
            n=__import__("django.db.models", fromlist=["Count"]).Count("pk")
        )
    )

    # --- fill to a million orders -----------------------------------------------------------------------
    fill = max(0, TOTAL - Order.objects.count())
    t_fill = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS order_search_trgm")
        cur.execute(
            """
            INSERT INTO orders_order (
                merchant_id, number, channel, channel_account, external_id, status, held_from_status,
                customer_name, customer_email, ship_to_name, ship_to_company, ship_to_street1, ship_to_street2,
                ship_to_city, ship_to_state, ship_to_postal_code, ship_to_country, ship_to_phone, ship_to_email,
                bill_to, shipping_service, priority, same_day_cutoff, is_fragile, is_hazmat, is_gift,
                custom_packaging, requires_cold_chain, currency, subtotal, tax_total, discount_total,
                shipping_paid, total, refund_due, tags, note, gift_message, raw, source_hash, search_text,
                routing, is_split, is_international, exception_reason, placed_at, created_at, updated_at
            )
            SELECT %(m)s, '#F' || g, (ARRAY['shopify','woocommerce','amazon','ebay','walmart','api','manual','csv'])[1 + g %% 8],
                   '', 'F' || g,
                   (ARRAY['shipped','shipped','shipped','delivered','delivered','released','picking','packed',
                          'allocated','backordered','on_hold','exception','cancelled','new'])[1 + (g * 7) %% 14],
                   '', 'Customer ' || g, 'c' || g || '@example.com', 'Customer ' || g, '', g || ' Main St', '',
                   'Town', 'NY', '10001', 'US', '', 'c' || g || '@example.com',
                   '{}'::jsonb, (ARRAY['standard','standard','standard','expedited','overnight'])[1 + g %% 5],
                   (g %% 3) * 10, false, false, false, false, false, false, 'USD', 19.99, 0, 0, 0, 19.99, 0,
                   '[]'::jsonb, '', '', '{}'::jsonb, '',
                   lower('#f' || g || ' f' || g || ' customer ' || g || ' c' || g || '@example.com'),
                   '{}'::jsonb, false, false, CASE WHEN (g * 7) %% 14 = 11 THEN 'unknown_sku' ELSE '' END,
                   now() - (g || ' minutes')::interval, now() - ((%(n)s - g) || ' seconds')::interval, now()
            FROM generate_series(1, %(n)s) AS g
            """,
            {"m": merchant.pk, "n": fill},
        )
        cur.execute("CREATE INDEX order_search_trgm ON orders_order USING gin (search_text gin_trgm_ops)")
        cur.execute("ANALYZE orders_order")
    fill_s = time.perf_counter() - t_fill
    total = Order.objects.count()

    # --- time the pages -----------------------------------------------------------------------------------
    client = Client()
    client.force_login(user)
    client.get("/app/orders/")  # warm up

    def timed(url: str, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            response = client.get(url)
            out.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        return out

    list_ms = timed("/app/orders/", 60)
    from orders.selectors import order_list

    cursor = order_list(merchant=merchant, filters={}, limit=50).next_cursor
    page = order_list(merchant=merchant, filters={"status": "released"}, limit=50)
    filtered_urls = [
        "/app/orders/?status=released",
        "/app/orders/?channel=amazon",
        "/app/orders/?status=shipped&channel=shopify",
        "/app/orders/?q=customer+424242",
        "/app/orders/?q=c777777%40example.com",
        "/app/orders/?exception=unknown_sku",
        "/app/orders/?created_after=2020-01-01&status=backordered",
        "/app/orders/?sort=priority&status=allocated",
        f"/app/orders/?cursor={cursor}",
        f"/app/orders/?status=released&cursor={page.next_cursor}",
    ]
    filtered_ms: list[float] = []
    per_filter = {}
    for url in filtered_urls:
        values = timed(url, 15)
        per_filter[url] = round(percentile(values, 95), 1)
        filtered_ms += values
    print(
        json.dumps(
            {
                "detail": {
                    "imported": N_IMPORT,
                    "import_seconds": round(elapsed, 1),
                    "redelivery_seconds": round(redelivery_s, 1),
                    "statuses_after_import": statuses,
                    "fill_rows": fill,
                    "fill_seconds": round(fill_s, 1),
                    "orders_in_table": total,
                    "per_filter_p95_ms": per_filter,
                    "list_p50_ms": round(percentile(list_ms, 50), 1),
                }
            }
        ),
        file=sys.stderr,
    )
    emit(
        {
            "bench": "orders",
            "imported_per_s": round(imported_per_s, 1),
            "imported_one_by_one_per_s": round(single_per_s, 1),
            "cpu_ms_per_order": per_order_ms(cpu_s, N_IMPORT),
            "pg_cpu_ms_per_order": per_order_ms(pg_cpu_s, N_IMPORT),
            "queries_per_order": round(queries / N_IMPORT, 2),
            "single_cpu_ms_per_order": per_order_ms(single_cpu_s, N_SINGLE),
            "single_pg_cpu_ms_per_order": per_order_ms(single_pg_cpu_s, N_SINGLE),
            "single_queries_per_order": round(single_queries / N_SINGLE, 2),
            "imported": N_IMPORT,
            "import_processes": PROCS,
            "orders_in_table": total,
            "list_p95_ms": round(percentile(list_ms, 95), 1),
            "filtered_list_p95_ms": round(percentile(filtered_ms, 95), 1),
            "duplicates": duplicates,
            "outbox_pending": pending,
            "left_unprocessed": statuses.get("new", 0),
            "backordered_share": round(statuses.get("backordered", 0) / max(1, N_IMPORT + N_SINGLE), 3),
            "routing_rates": "live carrier quotes (fake EasyPost, 1 UPS account)"
            if fake is not None
            else "zone table (no carrier accounts)",
            "live_rate_calls": len(fake.calls("POST", "/v2/shipments")) if fake is not None else 0,
        }
    )


if __name__ == "__main__":
    main()
