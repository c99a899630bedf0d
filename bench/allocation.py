"""Allocation benchmark: 16 concurrent worker processes reserve (and release) stock over 1,000 SKUs with a
Zipf-skewed hot set, through ``inventory.services.stock_reserve`` / ``stock_release`` — the real service path
(conditional UPDATE, allocation row, outbox event, commit), not raw SQL.

Each worker keeps at most 8 open reservations; past that it releases its oldest, so every reservation is
eventually released (releases are timed separately). Hot SKUs run short, so some reservations become
backorders and releases fill them — the slow path is exercised too. At the end: oversold units (reserved
beyond on hand, per SKU) and ledger drift (``check_inventory``'s recomputation) must both be 0.

Celery's broker is a real local Redis (BENCH_BROKER_URL, default redis://127.0.0.1:6379/13, flushed at the
start and the end; ``memory://`` gives the old in-process transport). No worker runs during the timing, so
an outbox event costs its INSERT plus what ``outbox._enqueue`` does after commit — with a Redis broker one
``SET NX`` of the drain flag (one ``outbox_drain`` publish per batch), otherwise one publish per event.
``available_changed`` is coalesced (one waiting row per product and warehouse; a change folds into it with a
row lock and no insert, no Redis call), so with nobody draining, only the first change of each SKU inserts one:
with a drain running, a hot SKU inserts one per drain cycle instead (still far fewer than one per change).
Dispatching the events (the handlers) is the workers' cost and is not in these figures; ``outbox_pending``
reports how many events the run left for them.

Env: BENCH_SECONDS (default 20), BENCH_WORKERS (16), BENCH_SKUS (1000), BENCH_HOT_STOCK (20: the five
hottest SKUs run short; set it high to measure without backorders), BENCH_COMMIT_DELAY_US (0: Postgres's
``commit_delay`` for the workers' sessions — group commit, every commit still waits for its WAL flush; needs a
superuser connection; a figure for the deployment's postgresql.conf, not the default measurement).

Figures: reservations/s and p99 of ``stock_reserve``; releases/s and p99; ``worker_cpu_ms_per_res`` and
``pg_cpu_ms_per_res`` (CPU of the worker processes and of their Postgres backends per reservation, which
includes one release — less moved by other load than the rates); oversold units and ledger drift (0 and 0);
``outbox_pending``: events left for the outbox workers (``available_changed`` is coalesced: one waiting per
product and warehouse).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ["CELERY_BROKER_URL"] = BROKER
os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
os.environ.setdefault("CONN_MAX_AGE", "600")

from _common import emit, percentile, setup  # noqa: E402 - the environment above comes first

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "16"))
SKUS = int(os.environ.get("BENCH_SKUS", "1000"))
HOLD = 8
HOT_STOCK = int(os.environ.get("BENCH_HOT_STOCK", "20"))  # units of each of the 5 hottest SKUs
ZIPF_S = 1.1
SHELF = "A-01-01-1-A"
COMMIT_DELAY_US = int(os.environ.get("BENCH_COMMIT_DELAY_US", "0"))


def zipf_cdf(n: int, s: float) -> list[float]:
    weights = [1 / (k**s) for k in range(1, n + 1)]
    total = sum(weights)
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def worker(
    n: int, product_ids: list[int], merchant_id: int, warehouse_id: int, stock: dict[int, int], ready, go, q
) -> None:
    import bisect

    import django
    from django.db import connections

    django.setup()
    from inventory.models import Location, Product, Warehouse
    from inventory.services import stock_receive, stock_release, stock_reserve

    products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids)}
    warehouse = Warehouse.objects.get(pk=warehouse_id)
    # the set-up, shared out: this worker receives every WORKERS-th SKU (the hottest SKUs run short so
    # backorders and fills happen; the tail has plenty)
    shelf = Location.objects.get(warehouse=warehouse, code=SHELF)
    for pid in product_ids[n::WORKERS]:
        stock_receive(
            merchant=merchant_id,
            product=products[pid],
            warehouse=warehouse,
            quantity=stock[pid],
            location=shelf,
        )
    cdf = zipf_cdf(len(product_ids), ZIPF_S)
    rng = random.Random(n)
    held: list[str] = []
    reserve_ms: list[float] = []
    release_ms: list[float] = []
    i = 0
    backend = _backend_pid()
    if COMMIT_DELAY_US:
        from django.db import connection

        with connection.cursor() as cursor:  # a server setting (superuser per session); see the docstring
            cursor.execute(f"SET commit_delay = {COMMIT_DELAY_US}")
    ready.release()
    go.wait()
    cpu0, pg0 = time.process_time(), _proc_cpu(backend)
    deadline = time.time() + SECONDS
    while time.time() < deadline:
        pid = product_ids[min(bisect.bisect_left(cdf, rng.random()), len(product_ids) - 1)]
        ref = f"bench:{n}:{i}"
        i += 1
        t0 = time.perf_counter()
        stock_reserve(
            merchant=merchant_id, product=products[pid], warehouse=warehouse, quantity=1, reference=ref
        )
        reserve_ms.append((time.perf_counter() - t0) * 1000)
        held.append(ref)
        if len(held) > HOLD:
            t0 = time.perf_counter()
            stock_release(merchant=merchant_id, reference=held.pop(0))
            release_ms.append((time.perf_counter() - t0) * 1000)
    cpu, pg = time.process_time() - cpu0, _proc_cpu(backend) - pg0
    connections.close_all()
    from inventory.locks import RETRIES

    q.put((reserve_ms, release_ms, RETRIES["n"], cpu, pg))


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a local process — the worker's Postgres backend; NaN when Postgres is not
    on this machine (or /proc is not readable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _flush_broker() -> None:
    if BROKER.startswith("redis"):
        import redis

        redis.Redis.from_url(BROKER).flushdb()


def main() -> None:
    setup("allocation")
    _flush_broker()
    from django.db import connections
    from django.db.models import Sum

    from accounts.models import Merchant
    from inventory.models import Allocation, Location, Product, StockLevel
    from inventory.reconcile import ledger_drift
    from inventory.services import warehouse_create

    merchant = Merchant.objects.create(name="Bench", slug="bench")
    wh = warehouse_create(code="BENCH", name="Bench warehouse")
    Location.objects.create(warehouse=wh, code=SHELF, type=Location.Type.PICK)
    Product.objects.bulk_create(
        [
            Product(merchant=merchant, sku=f"B-{k:04d}", name=f"Bench {k}", status="active")
            for k in range(SKUS)
        ]
    )
    products = list(Product.objects.filter(merchant=merchant).order_by("pk"))
    stock = {p.pk: HOT_STOCK if rank < 5 else 200 for rank, p in enumerate(products)}
    ids = [p.pk for p in products]
    connections.close_all()

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    procs = [
        ctx.Process(target=worker, args=(n, ids, merchant.pk, wh.pk, stock, ready, go, q))
        for n in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every worker has set up Django and its connection: start the clock together
        ready.acquire(timeout=300)
    start = time.time()
    go.set()
    results = [q.get(timeout=SECONDS + 120) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = max(time.time() - start, SECONDS) if results else SECONDS
    elapsed = SECONDS  # every worker ran exactly SECONDS after the common start
    reserve_ms = [x for r, *_ in results for x in r]
    release_ms = [x for _, r, *_ in results for x in r]
    retries = sum(r[2] for r in results)
    worker_cpu = sum(r[3] for r in results)
    pg_cpu = sum(r[4] for r in results)

    oversold = 0
    allocated = {
        (row["product_id"]): row["n"]
        for row in Allocation.objects.filter(status="open", product__is_kit=False)
        .values("product_id")
        .annotate(n=Sum("allocated"))
    }
    for level in StockLevel.objects.filter(warehouse=wh):
        oversold += max(0, level.reserved + level.held - level.on_hand)
        oversold += max(0, allocated.get(level.product_id, 0) - level.on_hand)
    drift = len(ledger_drift())
    from fulfil.models import OutboxEvent

    pending = OutboxEvent.objects.filter(status="pending").count()
    _flush_broker()
    emit(
        {
            "bench": "allocation",
            "reservations_per_s": round(len(reserve_ms) / elapsed, 1),
            "p99_ms": round(percentile(reserve_ms, 99), 2),
            "p50_ms": round(percentile(reserve_ms, 50), 2),
            "releases_per_s": round(len(release_ms) / elapsed, 1),
            "release_p99_ms": round(percentile(release_ms, 99), 2),
            "reservations": len(reserve_ms),
            "workers": WORKERS,
            "skus": SKUS,
            "seconds": round(elapsed, 1),
            # load-independent figures: CPU per reservation (its reserve plus the release of one held earlier)
            # in the 16 worker processes and in their Postgres backends
            "worker_cpu_ms_per_res": round(worker_cpu * 1000 / max(1, len(reserve_ms)), 3),
            "pg_cpu_ms_per_res": round(pg_cpu * 1000 / max(1, len(reserve_ms)), 3),
            "deadlock_retries": retries,
            "oversold_units": oversold,
            "drift": drift,
            "outbox_pending": pending,
            "broker": BROKER.split("://")[0],
        }
    )


if __name__ == "__main__":
    main()
