"""The drain gathers a stream into batches: after a batch that was not full the next starts GATHER_SECONDS after
it began; a full batch (a backlog) is followed at once by a larger one; a run-through never waits."""

from __future__ import annotations

import pytest

from integrations import inbox


@pytest.fixture
def drain(monkeypatch):
    batches: list[int] = []
    sleeps: list[float] = []
    script: list[int] = []

    def process_many(*, limit):
        batches.append(limit)
        return (min(script.pop(0), limit) if script else 0), []

    monkeypatch.setattr(inbox, "inbox_process_many", process_many)
    monkeypatch.setattr(inbox, "_flag_client", lambda: None)
    monkeypatch.setattr(inbox.time, "sleep", sleeps.append)
    return script, batches, sleeps


def test_a_stream_is_gathered_a_backlog_is_not(drain):
    script, batches, sleeps = drain
    script.extend([100, 400, 7, 3])  # a backlog (full, fuller), then a stream

    done = inbox.inbox_drain(idle_seconds=0.3)

    assert done == 310  # 100 + 200 (full: the next is doubled) + 7 + 3
    assert batches[:4] == [100, 200, 400, 100]
    gathers = [s for s in sleeps if s != inbox.IDLE_POLL_SECONDS]
    assert len(gathers) == 2  # after the 7 and the 3, none after the full batches
    assert all(0 < s <= inbox.GATHER_SECONDS for s in gathers)
    assert min(gathers) > inbox.GATHER_SECONDS - 0.05


def test_a_run_through_does_not_wait(drain):
    script, _, sleeps = drain
    script.extend([7])

    assert inbox.inbox_drain(idle_seconds=0) == 7
    assert sleeps == []
