"""Shared fixtures. Tenancy: ``merchant_a``/``merchant_b`` are two tenants with an owner each;
``client_a`` is a browser session and ``api_a`` an API client with a Bearer key for merchant A."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from tests.factories import MembershipFactory

FIXTURES_DIR = Path(
    os.environ.get("FULFIL_VENDOR_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs Postgres (set DATABASE_URL)"
)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def vendor_fixtures() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"vendor fixtures not found at {FIXTURES_DIR} (set FULFIL_VENDOR_FIXTURES)")
    return FIXTURES_DIR


@pytest.fixture
def membership_a(db):
    return MembershipFactory(merchant__name="Merchant A", merchant__slug="merchant-a")


@pytest.fixture
def membership_b(db):
    return MembershipFactory(merchant__name="Merchant B", merchant__slug="merchant-b")


@pytest.fixture
def merchant_a(membership_a):
    return membership_a.merchant


@pytest.fixture
def merchant_b(membership_b):
    return membership_b.merchant


@pytest.fixture
def user_a(membership_a):
    return membership_a.user


@pytest.fixture
def client_a(client, membership_a):
    client.force_login(membership_a.user)
    return client


def api_client_for(user, membership=None) -> APIClient:
    _, raw = account_services.api_key_create(user=user, membership=membership)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


@pytest.fixture
def api_a(membership_a) -> APIClient:
    return api_client_for(membership_a.user, membership_a)


@pytest.fixture
def api_b(membership_b) -> APIClient:
    return api_client_for(membership_b.user, membership_b)


@pytest.fixture
def associate(db) -> User:
    return User.objects.create_user(
        "picker@fulfil.example", "pw-associate-123", operator_role=User.OperatorRole.ASSOCIATE, is_staff=True
    )


@pytest.fixture
def manager(db) -> User:
    return User.objects.create_user(
        "boss@fulfil.example", "pw-manager-123", operator_role=User.OperatorRole.MANAGER, is_staff=True
    )


@pytest.fixture
def api_staff(associate) -> APIClient:
    return api_client_for(associate, None)


# --- Browsers (Playwright driving Debian's Chromium; never a downloaded browser) -------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A desktop page against the live server. Counts page loads and form submissions in ``page.stats``."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def tablet_page(browser, live_server):
    """A 10-inch tablet in landscape with touch, as the warehouse screens are used."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, has_touch=True
    )
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def browser_login(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


# --- A real Celery worker against the real Redis and the test database -----------------------------------


@pytest.fixture
def celery_worker_process(transactional_db, settings, request):
    """Starts ``celery worker`` in a subprocess on the test database and a Redis database of its own, and
    switches this process's Celery app to send tasks there (not eager). Tests using it must commit their
    data (``transactional_db``). Yields a handle with ``.kill()`` (SIGKILL, to simulate a crash) and
    ``.start()``. A test module may list extra modules for the worker to import (e.g. test-only outbox
    handlers) in ``CELERY_WORKER_INCLUDE``."""
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    from fulfil.celery import app

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith("redis://") or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs REDIS_URL and a Postgres DATABASE_URL")
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    db_index = 8 + int("".join(c for c in worker_id if c.isdigit()) or 0)
    broker = redis_url.rsplit("/", 1)[0] + f"/{db_index}"
    import redis as redis_lib

    redis_lib.Redis.from_url(broker).flushdb()
    name = connection.settings_dict["NAME"]
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{name}",
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "FULFIL_TESTING": "0",
    }
    old = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    app.conf.result_backend = broker
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _reset_celery_connections(app)
    root = Path(__file__).resolve().parents[1]
    include = list(getattr(request.module, "CELERY_WORKER_INCLUDE", ()))

    class Worker:
        proc: subprocess.Popen | None = None

        def start(self):
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "fulfil",
                    "worker",
                    "-P",
                    "solo",
                    "-l",
                    "warning",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"test-{worker_id}@%h",
                    *(["--include", ",".join(include)] if include else []),
                ],
                cwd=root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if app.control.ping(timeout=0.5, destination=None):
                        return self
                except Exception:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        "worker died: " + (self.proc.stdout.read().decode() if self.proc.stdout else "")
                    )
            return self

        def kill(self):
            if self.proc and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

        def stop(self):
            if self.proc and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill()

    worker = Worker().start()
    yield worker
    worker.stop()
    app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = old
    _reset_celery_connections(app)


def _reset_celery_connections(app) -> None:
    from kombu import pools

    # app._pool is kombu's process-wide pool for the broker URL: clear kombu's registry too, or the next
    # worker test in this process gets the closed pool back ("Acquire on closed pool").
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.__dict__.pop("backend", None)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Polls ``predicate`` until it returns a truthy value; fails the test on timeout."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {getattr(predicate, '__name__', predicate)}")
