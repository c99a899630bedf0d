"""Billing fixtures: a real ``localstripe`` server on 127.0.0.1 (the real ``stripe`` client talks to it), run
through ``localstripe_ext.py`` (localstripe's own app plus US bank accounts, microdeposits and ACH debits)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WEBHOOK_SECRET = "whsec_test_fulfil_billing"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url():
    pytest.importorskip("localstripe", reason="localstripe is not installed (pip install localstripe)")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("localstripe_ext.py")), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "LOCALSTRIPE_ACH_SETTLE_SECONDS": "0.3"},
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("localstripe did not start")
    yield f"http://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


@pytest.fixture
def stripe_settings(settings, localstripe_url):
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_SECRET_KEY = "sk_test_fulfil"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fulfil"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    return settings


@pytest.fixture
def standard_card(db):
    from billing import services

    return services.standard_card_ensure()
