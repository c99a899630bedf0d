"""Webhook intake benchmark: the app under gunicorn on loopback, Celery workers started as production starts
them (one per queue: ``inbox`` — the drain that imports webhook orders —, ``orders`` — their processing —,
and ``celery`` for everything else: outbox handlers, sweepers), and a load generator posting signed Shopify ``orders/create`` webhooks
(10% re-deliveries of an already-sent event) for BENCH_SECONDS (default 30), paced at BENCH_RATE webhooks/s (default
850; 0: unpaced) over BENCH_CLIENTS (4) processes × BENCH_CONNS (8) keep-alive connections. Accepting means the inbox row is
committed in Postgres before the 200; the request never imports (it kicks the drain).

Prints one JSON line: "accepted_per_s", "p99_ms", "orders_created", "duplicates_created", "lost" (accepted but
not stored), "not_yet_in_book" (stored, still queued when we stopped waiting — BENCH_DRAIN_WAIT, 240 s),
"book_complete_after_load_s" (seconds after the load ended until every accepted webhook was an order in the
merchant's book), "processed_after_load_s" (… until every one of them was also validated/allocated, i.e. no
longer 'new'; BENCH_PROCESS_WAIT, 90 s, else null with "unprocessed" left), and CPU figures: from /proc,
"web_cpu_ms_per_webhook" (gunicorn), "<queues>_worker_cpu_ms_per_order" per worker (inbox: import; orders:
processing as far as it got; other: outbox handlers) up to the book being complete; and "cost" — load-independent CPU ms and queries per webhook/order measured
in one quiet process afterwards (bench/_webhook_costs.py; BENCH_COST_N, 1000; 0 skips it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, emit, percentile, setup

SECRET = "bench-shopify-app-secret"
SHOP = "bench-store.myshopify.com"
COST_SHOP = "bench-costs.myshopify.com"
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
CONNECTIONS_PER_CLIENT = int(os.environ.get("BENCH_CONNS", "8"))
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
# Offered load in webhooks/s for the whole generator. The default, 850/s, is the target (800/s) with a
# margin: a paced run shows whether that rate is sustained end to end — accepted, and in the book within
# seconds of the load. 0 posts as fast as the server answers: the intake's ceiling, which offers more than the
# drain can import meanwhile, so there the book completes long after the load by construction.
RATE = float(os.environ.get("BENCH_RATE", "850"))
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def tree_cpu_ms(pid: int) -> float:
    """CPU ms (user + system) of a process and its live children (gunicorn's or Celery's workers)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) * TICK_MS
    return total


def pg_backends_cpu_ms(connection) -> dict[int, float]:
    """CPU ms so far of each Postgres backend connected to the bench database (pid -> ms; same host)."""
    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cur.fetchall()]
    connection.close()
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) * TICK_MS
    return out


def sample_backlog(url: str, out: list[int], stop: threading.Event) -> None:
    """Pending inbox rows (accepted, not yet in the book) every 0.5 s, on a connection of its own."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(0.5):
            out.append(
                conn.execute(
                    "SELECT count(*) FROM integrations_webhookinbox WHERE status = 'pending'"
                ).fetchone()[0]
            )
        out.append(
            conn.execute(
                "SELECT count(*) FROM integrations_webhookinbox WHERE status = 'pending'"
            ).fetchone()[0]
        )


def _tail(log, lines: int = 8) -> list[str]:
    log.seek(0)
    return log.read().decode(errors="replace").splitlines()[-lines:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def order_body(n: int) -> bytes:
    return json.dumps(
        {
            "id": 10_000_000 + n,
            "name": f"#{n}",
            "email": f"buyer{n}@mail.example.com",
            "created_at": "2026-01-10T11:00:00Z",
            "updated_at": "2026-01-10T11:00:00Z",
            "currency": "USD",
            "financial_status": "paid",
            "total_price": "19.99",
            "line_items": [
                {
                    "id": n * 10 + 1,
                    "sku": "BENCH-1",
                    "name": "Bench item",
                    "quantity": 1,
                    "price": "19.99",
                    "requires_shipping": True,
                }
            ],
            "shipping_lines": [{"title": "Standard", "price": "0.00"}],
            "shipping_address": {
                "name": "Bench Buyer",
                "address1": "1 Main St",
                "city": "Louisville",
                "province_code": "KY",
                "zip": "40202",
                "country_code": "US",
            },
        }
    ).encode()


def _request_bytes(port: int, n: int, rng: random.Random) -> bytes:
    body = order_body(n)
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    head = (
        "POST /integrations/shopify/webhooks/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Shopify-Topic: orders/create\r\n"
        f"X-Shopify-Shop-Domain: {SHOP}\r\n"
        f"X-Shopify-Hmac-Sha256: {sig}\r\n"
        f"X-Shopify-Event-Id: evt-{n}\r\n"
        f"X-Shopify-Webhook-Id: wh-{n}-{rng.random()}\r\n"
        "\r\n"
    )
    return head.encode() + body


def _exchange(sock: socket.socket, request: bytes, buf: bytearray) -> int:
    """Send one request on a keep-alive socket and read its whole response; returns the status (0 when the
    connection broke; negative when the server closes the connection after it — ``Connection: close``, as
    gunicorn's sync workers do). A minimal HTTP/1.1 client: the server answers with Content-Length."""
    sock.sendall(request)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return 0
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    status = int(head.split(b" ", 2)[1])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
        elif line.lower() == b"connection: close":
            close = True
    while len(buf) < end + length:
        chunk = sock.recv(65536)
        if not chunk:
            return 0
        buf += chunk
    del buf[: end + length]
    return -status if close else status


def client_proc(port: int, worker: int, ready, go, start_at, out: mp.Queue) -> None:
    """One load process: CONNECTIONS_PER_CLIENT keep-alive connections, one thread each, 10% re-deliveries
    of an event this connection already had accepted. A paced run builds its requests (JSON, HMAC) before the
    load starts — the senders of real webhooks are not on this machine, so the generator should spend as little
    of its two cores as it can during the load — and sends them with a minimal socket client (``http.client``
    parses every response with the email parser); latency is send → whole response read. Reports the CPU it
    spent during the load only."""

    results: list[tuple[int, float, int, bool]] = []  # (event n, latency ms, status, duplicate)
    failures: list[str] = []  # why requests got no answer
    lock = threading.Lock()

    def connect() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    interval = CLIENTS * CONNECTIONS_PER_CLIENT / RATE if RATE > 0 else 0.0
    # per connection, the fresh requests a paced run will send (and a margin); past them, built as it goes
    expected = int(SECONDS / interval * 1.2) + 10 if interval else 0
    prebuilt: list[dict[int, bytes]] = []
    for slot in range(CONNECTIONS_PER_CLIENT):
        rng = random.Random(worker * 100 + slot)
        base = (worker * CONNECTIONS_PER_CLIENT + slot) * 10_000_000
        prebuilt.append({base + k: _request_bytes(port, base + k, rng) for k in range(1, expected + 1)})
    ready.release()
    go.wait()
    deadline = start_at.value + SECONDS
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    def run(slot: int):
        rng = random.Random(worker * 100 + slot + 50)
        built = prebuilt[slot]
        sock = None  # connected lazily, inside the request's timer
        buf = bytearray()
        base = (worker * CONNECTIONS_PER_CLIENT + slot) * 10_000_000
        sent: list[int] = []
        seq = 0
        mine = []
        next_at = time.perf_counter() + rng.random() * interval
        while time.time() < deadline:
            if interval:
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                next_at += interval
            duplicate = bool(sent) and rng.random() < 0.10
            if duplicate:
                n = rng.choice(sent)
            else:
                seq += 1
                n = base + seq
            request = built.get(n) or built.setdefault(n, _request_bytes(port, n, rng))
            t0 = time.perf_counter()
            try:
                if sock is None:
                    sock = connect()
                status = _exchange(sock, request, buf)
            except (OSError, ValueError, IndexError) as exc:
                status = 0
                reason = f"{type(exc).__name__}: {exc}"[:80]
            else:
                reason = "closed by the server before answering"
            if status == 0:
                failures.append(reason)
            if status <= 0:  # broken, or closed by the server after answering: connect for the next one
                if sock is not None:
                    sock.close()
                sock = None
                buf.clear()
                status = -status
            ms = (time.perf_counter() - t0) * 1000
            if status == 200 and not duplicate:
                sent.append(n)
            mine.append((n, ms, status, duplicate))
        if sock is not None:
            sock.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CONNECTIONS_PER_CLIENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms = (usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime) * 1000
    out.put((results, cpu_ms, failures))


def costs(env: dict, n: int) -> dict | None:
    """Load-independent CPU ms and queries per webhook/order, measured in one process after the run."""
    if n <= 0:
        return None
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_webhook_costs.py"), COST_SHOP, str(n)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if os.environ.get("BENCH_PROFILE"):  # the step's cProfile (bench/_webhook_costs.py) goes to stderr
        sys.stderr.write(run.stderr)
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": run.stderr[-500:]}


def main() -> None:
    url = setup("webhooks")
    import redis
    from django.db import connection

    from accounts.models import Merchant
    from integrations.models import ChannelConnection, WebhookInbox
    from orders.models import Order

    redis.Redis.from_url(REDIS).flushdb()
    merchant = Merchant.objects.create(name="Bench Co", slug="bench-co")
    ChannelConnection.objects.create(
        merchant=merchant, platform="shopify", account_id=SHOP, status="active", import_from=None
    )
    other = Merchant.objects.create(name="Bench Costs Co", slug="bench-costs-co")  # for the cost figures
    ChannelConnection.objects.create(
        merchant=other, platform="shopify", account_id=COST_SHOP, status="active", import_from=None
    )
    connection.close()

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS,
        "CELERY_BROKER_URL": REDIS,
        "CELERY_RESULT_BACKEND": REDIS,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SHOPIFY_API_SECRET": SECRET,
        "DEBUG": "0",
        "FULFIL_TESTING": "0",
    }
    port = free_port()
    procs = []
    web_log = tempfile.TemporaryFile()  # noqa: SIM115 - open for the whole run, gone with the process
    try:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "fulfil.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                os.environ.get("BENCH_WEB_WORKERS", "2"),
                "-k",
                os.environ.get("BENCH_WEB_CLASS", "gthread"),
                "--threads",
                os.environ.get("BENCH_WEB_THREADS", "4"),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=web_log,  # gunicorn's warnings (worker timeouts, crashes): reported on errors
        )
        procs.append(web)

        def start_worker(queue: str, concurrency: str, niceness: str):
            # as production runs them (Makefile `worker`, docker-compose): one worker per queue, processing and
            # outbox handlers at a lower CPU priority than the intake (web) and the drain
            worker = subprocess.Popen(
                [
                    *(["nice", "-n", niceness] if niceness not in ("", "0") else []),
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "fulfil",
                    "worker",
                    "-Q",
                    queue,
                    "-l",
                    "warning",
                    "-c",
                    concurrency,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench-{queue.replace(',', '-')}-{port}@%h",
                ],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(worker)
            return worker

        workers: dict[str, subprocess.Popen] = {}

        def start_workers():
            # BENCH_WORKERS: "queues:concurrency[:nice]" per worker, space-separated (default: Makefile's `worker`)
            for spec in os.environ.get("BENCH_WORKERS", "inbox:2 orders:1:10 celery:2:10").split():
                queues, concurrency, niceness = (*spec.split(":"), "", "")[:3]
                workers["other" if queues == "celery" else queues] = start_worker(
                    queues, concurrency or "1", niceness
                )

        intake_only = os.environ.get("BENCH_WORKER_AFTER") == "1"  # measure the accept path alone
        if not intake_only:
            start_workers()
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        # Warm up: every gunicorn worker loads Django lazily after the port opens; wait until answers are quick.
        for _ in range(200):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.perf_counter()
            conn.request("POST", "/integrations/shopify/webhooks/", b"{}", {"X-Shopify-Hmac-Sha256": "x"})
            conn.getresponse().read()
            conn.close()
            if (time.perf_counter() - t0) < 0.02:
                break
        for _ in range(50):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/integrations/shopify/webhooks/", b"{}", {"X-Shopify-Hmac-Sha256": "x"})
            conn.getresponse().read()
            conn.close()

        out: mp.Queue = mp.Queue()
        ready, go, start_at = mp.Semaphore(0), mp.Event(), mp.Value("d", 0.0)
        clients = [
            mp.Process(target=client_proc, args=(port, i, ready, go, start_at, out)) for i in range(CLIENTS)
        ]
        for c in clients:
            c.start()
        for _ in clients:  # every client has built its requests: the load starts now, for all of them
            ready.acquire(timeout=300)
        cpu0 = {name: tree_cpu_ms(p.pid) for name, p in (("web", web), *workers.items())}
        pg0 = pg_backends_cpu_ms(connection)
        started = start_at.value = time.time()
        go.set()
        backlog: list[int] = []  # pending inbox rows, sampled every 0.5 s during the load
        sampling = threading.Event()
        sampler = threading.Thread(target=sample_backlog, args=(url, backlog, sampling), daemon=True)
        sampler.start()
        results = []
        failures: list[str] = []
        loadgen_cpu = 0.0
        for _ in clients:
            got, cpu_ms, failed = out.get()
            results.extend(got)
            failures.extend(failed)
            loadgen_cpu += cpu_ms
        for c in clients:
            c.join()
        load_end = time.time()
        sampling.set()
        sampler.join()
        web_cpu = tree_cpu_ms(web.pid) - cpu0["web"]
        pg_load = pg_backends_cpu_ms(connection)
        pg_load_cpu = sum(ms - pg0.get(pid, 0.0) for pid, ms in pg_load.items())
        if intake_only:
            start_workers()
            cpu0.update({name: tree_cpu_ms(p.pid) for name, p in workers.items()})
        elapsed = load_end - started

        accepted = [r for r in results if r[2] == 200]
        unique = {r[0] for r in accepted}
        latencies = [r[1] for r in results]
        connection.connect()
        mine = Order.objects.filter(merchant=merchant, channel="shopify")
        complete_at = processed_at = None
        cpu_book: dict[str, float] = {}
        while time.time() - load_end < float(os.environ.get("BENCH_DRAIN_WAIT", "240")):
            if mine.count() >= len(unique):
                complete_at = time.time()
                cpu_book = {name: tree_cpu_ms(p.pid) - cpu0[name] for name, p in workers.items()}
                break
            time.sleep(0.1)
        while complete_at and time.time() - load_end < float(os.environ.get("BENCH_PROCESS_WAIT", "90")):
            if not mine.filter(status="new").exists():
                processed_at = time.time()
                break
            time.sleep(0.25)
        unprocessed = mine.filter(status="new").count()
        orders = mine
        for p in procs:  # stop the app and the workers first: the figures below are one consistent snapshot
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(20)
        external_ids = list(orders.values_list("external_id", flat=True))
        created = len(external_ids)
        distinct = len(set(external_ids))
        stored = set(WebhookInbox.objects.values_list("event_id", flat=True))
        in_book = {int(x) - 10_000_000 for x in external_ids}
        emit(
            {
                "bench": "webhooks",
                "mode": (
                    "intake only (worker started after the load)" if intake_only else "intake + processing"
                )
                + (f", offered {RATE:g}/s" if RATE > 0 else ""),
                "seconds": round(elapsed, 1),
                "requests": len(results),
                "accepted_per_s": round(len(accepted) / elapsed, 1),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p99_ms": round(percentile(latencies, 99), 1),
                "errors": len(results) - len(accepted),
                "error_statuses": dict(Counter(r[2] for r in results if r[2] != 200)),
                "no_answer": dict(Counter(failures).most_common(5)),  # status 0: why
                **({"web_log_tail": _tail(web_log)} if len(accepted) < len(results) else {}),
                "duplicate_deliveries": sum(1 for r in accepted if r[3]),
                "inbox_rows": WebhookInbox.objects.count(),
                "orders_created": created,
                "duplicates_created": created - distinct,
                # lost: accepted (200) but not durably stored — no inbox row for the event
                "lost": len({f"evt-{n}" for n in unique} - stored),
                # accepted and stored, but not yet an order when we stopped waiting (still in the queue)
                "not_yet_in_book": len(unique - in_book),
                "book_complete_after_load_s": round(complete_at - load_end, 1) if complete_at else None,
                # webhooks accepted but not yet imported, during the load (every 0.5 s) and when it ended
                "inbox_backlog_max": max(backlog, default=None),
                "inbox_backlog_at_load_end": backlog[-1] if backlog else None,
                "processed_after_load_s": round(processed_at - load_end, 1) if processed_at else None,
                "unprocessed": unprocessed,
                "web_cpu_ms_per_webhook": round(web_cpu / max(len(results), 1), 3),
                # the generator's own processes (all of them: building, signing, sending, reading)
                "loadgen_cpu_ms_per_webhook": round(loadgen_cpu / max(len(results), 1), 3),
                # every Postgres backend on the bench database (web, workers) while the load ran
                "pg_cpu_ms_per_webhook_during_load": round(pg_load_cpu / max(len(results), 1), 3),
                **{
                    f"{name.replace(',', '_')}_worker_cpu_ms_per_order": round(ms / max(created, 1), 3)
                    for name, ms in cpu_book.items()
                },
                "cost": costs(env, int(os.environ.get("BENCH_COST_N", "1000"))),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        for p in procs:
            if p.poll() is not None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
