"""Shared set-up for benchmarks: each runs on a Postgres database of its own, freshly migrated.

Usage at the top of bench/<name>.py:

    from _common import setup, emit, percentile
    setup("allocation")          # creates/migrates database fulfil_bench_allocation, django.setup()
    ...
    emit({"bench": "allocation", "reservations_per_s": 1234.5, ...})
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(name: str, *, fresh: bool = True) -> str:
    """Point Django at ``fulfil_bench_<name>`` on the Postgres server of DATABASE_URL (recreated when
    ``fresh``), migrate it, and return its URL."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fulfil_bench")
    if not base.startswith("postgres"):
        raise SystemExit("benchmarks need a Postgres DATABASE_URL")
    server = base.rsplit("/", 1)[0]
    db = f"fulfil_bench_{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')
    url = f"{server}/{db}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfil.settings")
    os.environ.setdefault("DEBUG", "0")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    checkpoint(url)
    return url


def checkpoint(url: str) -> None:
    """Write out the server's dirty pages now (``CHECKPOINT``; needs a superuser, else skipped), so the
    previous benchmark's writes — a million-row fill, say — are not flushed in the middle of this one's
    timing, where they show up as a few slow commits in its p99."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def emit(figures: dict) -> None:
    print(json.dumps(figures), flush=True)
