"""The scan input never loses a character: it sits outside the swapped panel, scans typed while a request is
in flight wait in a queue (each with its own client scan id) and go out in order; a dropped request is sent
again with the same id and counted once."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.warehouse.test_browser import login, settled
from warehouse import services
from warehouse.models import PickTask, ScanEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLOW_FIRST_POST = """
(() => {
  const orig = window.fetch;
  window.__flights = 0; window.__maxFlights = 0; window.__firstDone = null; window.__submits = [];
  let n = 0;
  document.addEventListener("submit", () => window.__submits.push(performance.now()), true);
  window.fetch = function (...args) {
    const first = n++ === 0;
    window.__flights++; window.__maxFlights = Math.max(window.__maxFlights, window.__flights);
    const go = () => orig.apply(this, args).finally(() => {
      window.__flights--;
      if (first) window.__firstDone = performance.now();
    });
    return first ? new Promise((r) => setTimeout(r, 800)).then(go) : go();
  };
})();
"""


def _cart(wh, released, associate):
    released(("CAP", 2))
    batch = services.wave_create(warehouse=wh, user=associate).batches.get()
    return batch, PickTask.objects.get(batch=batch)


def test_two_scans_typed_fast_both_count_in_order(tablet_page, wh, released, associate):
    batch, task = _cart(wh, released, associate)
    page = tablet_page
    page.add_init_script(SLOW_FIRST_POST)
    login(page, associate, "pw-associate-123")
    page.goto(f"/app/warehouse/batches/{batch.pk}/pick/")
    page.evaluate("document.getElementById('scan').dataset.mark = 'same'")
    assert page.evaluate("document.activeElement.id") == "scan"

    # the scanner types the location and, while that request is still out, the item
    page.keyboard.type(f"{task.location.code}\n", delay=5)
    page.keyboard.type("CAP\n", delay=5)
    assert page.input_value("#scan") == ""  # cleared at once, nothing half-typed left behind
    settled(page)

    assert page.evaluate("window.__submits.length") == 2
    assert page.evaluate("window.__submits[1] < window.__firstDone")  # typed during the first request
    assert page.evaluate("window.__maxFlights") == 1  # one at a time, in order
    events = list(ScanEvent.objects.order_by("created_at", "pk"))
    assert [e.code for e in events] == [task.location.code, "CAP"]
    assert all(e.ok for e in events)
    assert len({e.scan_id for e in events}) == 2
    task.refresh_from_db()
    assert (task.location_confirmed, task.picked_quantity) == (True, 1)
    # the input is the same element, still focused; only the panel was replaced
    assert page.evaluate("document.getElementById('scan').dataset.mark") == "same"
    assert page.evaluate("document.activeElement.id") == "scan"
    assert "1 of 2 CAP" in page.inner_text("#task .scan-msg.ok")


def test_a_dropped_request_is_resent_with_the_same_scan_id(tablet_page, wh, released, associate):
    batch, task = _cart(wh, released, associate)
    page = tablet_page
    login(page, associate, "pw-associate-123")
    page.goto(f"/app/warehouse/batches/{batch.pk}/pick/")
    bodies = []

    def flaky(route):
        bodies.append(route.request.post_data)
        if len(bodies) == 1:
            route.abort("connectionreset")  # the Wi-Fi drops this one
        else:
            route.continue_()

    page.route("**/pick/scan/", flaky)
    page.keyboard.type(f"{task.location.code}\n")
    page.keyboard.type("CAP\n")
    settled(page)

    sent = [parse_qs(b) for b in bodies]
    assert [s["code"] for s in sent] == [[task.location.code], [task.location.code], ["CAP"]]
    assert sent[0]["scan_id"] == sent[1]["scan_id"] != sent[2]["scan_id"]  # the retry is the same scan
    assert ScanEvent.objects.count() == 2
    task.refresh_from_db()
    assert (task.location_confirmed, task.picked_quantity) == (True, 1)
