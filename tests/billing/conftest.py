"""Billing fixtures: a real ``localstripe`` server on 127.0.0.1 (the real ``stripe`` client talks to it)."""

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
    exe = Path(sys.executable).with_name("localstripe")
    if not exe.exists():
        pytest.skip("localstripe is not installed (pip install localstripe)")
    port = _free_port()
    proc = subprocess.Popen(
        [str(exe), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
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
    return settings


@pytest.fixture
def standard_card(db):
    from billing import services

    return services.standard_card_ensure()
