"""Load-independent costs of the webhook path, for bench/webhooks.py (run as a subprocess of it, with the
same environment as the app: Redis broker, not eager).

In one process, nothing else of ours running: N signed Shopify ``orders/create`` webhooks (plus 10%
re-deliveries) through the deployed WSGI application in-process (``fulfil.wsgi``: the webhook intake in front of
Django; without gunicorn's HTTP
parsing), then the inbox drain (import only: orders into the book), then batch processing (validate, route,
allocate, release), then (BENCH_COST_OUTBOX=1, on a database of its own) the outbox events those wrote
(billing estimates). For each step: CPU ms of this
process and of its Postgres backend (from /proc), and SQL queries, per webhook or per order. CPU time, unlike
throughput, hardly depends on what else runs on the machine.

Prints one JSON object. Usage (bench/webhooks.py does this): ``python bench/_webhook_costs.py SHOP N``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _proc_cpu_ms(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_MS  # utime + stime


class Meter:
    """CPU of this process and of the connection's Postgres backend, and the queries run, over a block."""

    def __init__(self, intake=None):
        from django.db import connection

        self.connection = connection
        self.queries = 0
        self.intake = intake  # the WSGI intake's own connection (its INSERTs): counted too
        self.intake_inserts = 0

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self.connection.ensure_connection()
        self.pg_pid = self.connection.connection.info.backend_pid
        self.wrapper = self.connection.execute_wrapper(self._count)
        self.wrapper.__enter__()
        self.intake_pid = self._intake_pid()
        self.intake0 = _proc_cpu_ms(self.intake_pid) if self.intake_pid else 0.0
        self.cpu0, self.pg0, self.t0 = time.process_time(), _proc_cpu_ms(self.pg_pid), time.perf_counter()
        return self

    def _intake_pid(self):
        conn = self.intake._local.conn if self.intake is not None else None
        return conn.info.backend_pid if conn is not None and not conn.closed else None

    def __exit__(self, *exc):
        self.cpu_ms = (time.process_time() - self.cpu0) * 1000
        self.wall_ms = (time.perf_counter() - self.t0) * 1000
        self.wrapper.__exit__(*exc)
        pid = self.connection.connection.info.backend_pid if self.connection.connection else self.pg_pid
        # a reconnect mid-way would lose the old backend's CPU: report it as unknown rather than wrong
        self.pg_ms = _proc_cpu_ms(self.pg_pid) - self.pg0 if pid == self.pg_pid else float("nan")
        if self.intake_pid:
            if self._intake_pid() != self.intake_pid:
                self.pg_ms = float("nan")
            else:
                self.pg_ms += _proc_cpu_ms(self.intake_pid) - self.intake0
                self.queries += self.intake_inserts

    def per(self, n: int, prefix: str) -> dict:
        n = max(n, 1)
        return {
            f"{prefix}_cpu_ms": round(self.cpu_ms / n, 3),
            f"{prefix}_pg_cpu_ms": round(self.pg_ms / n, 3),
            f"{prefix}_queries": round(self.queries / n, 2),
            f"{prefix}_wall_ms": round(self.wall_ms / n, 3),
        }


def _environ(body: bytes, headers: dict) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/integrations/shopify/webhooks/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _profile(step: str):
    """BENCH_PROFILE=<step> (request, import): a cProfile of that step, printed to stderr (development aid)."""
    import contextlib

    if os.environ.get("BENCH_PROFILE") != step:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def run():
        import cProfile
        import pstats

        prof = cProfile.Profile(time.process_time)
        prof.enable()
        try:
            yield
        finally:
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats(
                os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            ).print_stats(60)

    return run()


def main() -> None:
    shop, n = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")
    import django

    django.setup()
    from webhooks import SECRET, order_body

    from fulfil.audit import Actor, audit_context
    from fulfil.outbox import drain as outbox_drain
    from fulfil.wsgi import application as app  # as deployed: the webhook intake in front of Django
    from integrations import services
    from orders.models import Order
    from orders.services.batch import orders_process_batch

    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def post(k: int, event: str) -> None:
        body = order_body(k)
        sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Hmac-Sha256": sig,
            "X-Shopify-Event-Id": event,
            "X-Shopify-Webhook-Id": f"wh-{event}",
        }
        b"".join(app(_environ(body, headers), start_response))

    base = 50_000_000
    for k in range(20):  # warm-up (imports, first queries), not measured, not counted
        post(base + k, f"costs-warm-{k}")
    services.inbox_drain(idle_seconds=0)
    out: dict = {"n": n}
    requests = [(base + 100 + k, f"costs-{k}") for k in range(n)]
    requests += [requests[k * 10] for k in range(n // 10)]  # 10% re-deliveries
    statuses.clear()
    with Meter(intake=app) as m, _profile("request"):
        m.intake_inserts = len(requests)  # one INSERT each, on the intake's connection (not Django's)
        for k, event in requests:
            post(k, event)
    assert all(s.startswith("200") for s in statuses), set(statuses)
    out.update(m.per(len(requests), "request"))

    mine = Order.objects.filter(channel_account=shop)
    new = set(mine.filter(status="new").values_list("pk", flat=True))
    with Meter() as m, _profile("import"):
        services.inbox_drain(idle_seconds=0)
    imported = list(mine.filter(status="new").exclude(pk__in=new).values_list("pk", flat=True))
    out["imported"] = len(imported)
    out.update(m.per(len(imported), "import"))

    with Meter() as m, audit_context(Actor(label="order processing", source="worker")):
        for start in range(0, len(imported), 100):
            orders_process_batch(order_ids=imported[start : start + 100])
    out.update(m.per(len(imported), "process"))

    if os.environ.get("BENCH_COST_OUTBOX") != "1":  # the outbox holds the load run's events too
        print(json.dumps(out), flush=True)
        return
    with Meter() as m:
        events = 0
        while True:
            done = outbox_drain()
            events += done
            if not done:
                break
    out["outbox_events"] = events
    out.update(m.per(len(imported), "outbox"))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
