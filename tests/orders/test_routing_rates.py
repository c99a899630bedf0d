"""Routing prices candidate warehouses with the carriers' live rates when the merchant (or the operator) has
carrier accounts — the real ``easypost`` client against the fake EasyPost — and falls back to the zone table
when there is no account, the carrier fails, or its circuit is open. Quotes are cached per route."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.carriers import breaker
from integrations.carriers import routing as carrier_routing
from orders import rates, zones
from tests.carriers.conftest import make_account
from tests.carriers.fake_easypost import FakeEasyPost
from tests.orders.conftest import LA, canonical

pytestmark = pytest.mark.django_db

# the fake's UPS table: Ground 9.21 + 0.60/lb after the first, 4 days; the parcel is one 500 g TENT = 2 lb
UPS_GROUND_2LB = Decimal("9.81")


@pytest.fixture
def fake_easypost(settings):
    fake = FakeEasyPost().start()
    settings.EASYPOST_API_BASE = fake.api_base
    settings.CARRIER_BREAKER_THRESHOLD = 3
    settings.CARRIER_BREAKER_COOLDOWN = 30
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fresh_memory():
    carrier_routing.forget_accounts()
    yield
    carrier_routing.forget_accounts()


def shipments_posted(fake) -> int:
    return len(fake.calls("POST", "/v2/shipments"))


def test_carriers_register_a_rate_provider():
    assert "carriers" in rates.rate_providers()


def test_live_rate_prices_every_candidate_and_says_so(
    merchant_a, stocked, run_import, fake_easypost, client_a
):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")

    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))

    rows = {c["warehouse"]: c for c in order.routing["candidates"]}
    for code in ("EAST", "WEST"):
        assert rows[code]["rate"] == str(UPS_GROUND_2LB)
        assert rows[code]["rate_source"] == "live"
        assert rows[code]["rate_label"] == "UPS Ground $9.81 (live rate)"
        assert rows[code]["transit_days"] == 4  # the carrier's, not the zone table's
    assert order.routing["winner"] == "EAST"
    assert order.routing["reason"].startswith(
        "EAST: all lines in stock, zone 3, UPS Ground $9.81 (live rate), arrives"
    )
    assert order.routing["rate_sources"] == ["live"]
    assert order.estimated_shipping == UPS_GROUND_2LB
    assert shipments_posted(fake_easypost) == 2  # one rate shop per candidate warehouse
    page = client_a.get(f"/app/orders/{order.pk}/").content.decode()
    assert page.count("UPS Ground $9.81 (live rate)") >= 3  # the reason and both candidate rows
    assert "Rates: live carrier quotes." in page


def test_quotes_are_cached_per_route(merchant_a, stocked, run_import, fake_easypost):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    run_import(merchant_a, canonical("R-1", lines=(("TENT", 1),)))
    assert shipments_posted(fake_easypost) == 2

    # same origin/destination ZIP3, same pound bucket, same service: no carrier call
    second = run_import(merchant_a, canonical("R-2", lines=(("TENT", 1),)))
    assert shipments_posted(fake_easypost) == 2
    east = next(c for c in second.routing["candidates"] if c["warehouse"] == "EAST")
    assert east["rate_label"] == "UPS Ground $9.81 (cached live rate)"
    assert east["rate_source"] == "cached"

    # another destination ZIP3 is another route
    run_import(merchant_a, canonical("R-3", lines=(("TENT", 1),), ship_to=LA))
    assert shipments_posted(fake_easypost) == 4


def test_routes_past_the_time_budget_use_the_zone_table_and_are_warmed_for_next_time(
    merchant_a, stocked, run_import, fake_easypost, settings, monkeypatch
):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    settings.CARRIER_ROUTING_BUDGET = 0  # the order row is locked while routing: never past the budget
    warmed = []
    monkeypatch.setattr(carrier_routing, "warm", lambda requests: warmed.extend(requests))

    order = run_import(merchant_a, canonical("B-1", lines=(("TENT", 1),)))

    assert shipments_posted(fake_easypost) == 0
    assert {c["rate_source"] for c in order.routing["candidates"]} == {"zone"}
    assert len({r.warehouse_id for r in warmed}) == len(order.routing["candidates"]) == 2


def test_offline_block_asks_no_carrier_and_warms_nothing(
    merchant_a, stocked, run_import, fake_easypost, monkeypatch
):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    warmed = []
    monkeypatch.setattr(carrier_routing, "warm", lambda requests: warmed.extend(requests))
    with rates.offline():
        order = run_import(merchant_a, canonical("O-1", lines=(("TENT", 1),)))
    assert shipments_posted(fake_easypost) == 0
    assert {c["rate_source"] for c in order.routing["candidates"]} == {"zone"}
    assert warmed == []
    # outside the block the carriers are asked again
    run_import(merchant_a, canonical("O-2", lines=(("TENT", 1),)))
    assert shipments_posted(fake_easypost) == 2


def test_no_carrier_account_uses_the_zone_table(merchant_a, stocked, run_import, fake_easypost):
    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))

    east = next(c for c in order.routing["candidates"] if c["warehouse"] == "EAST")
    z = east["zone"]
    expected = zones.rate(zone_=z, weight_g=500, service="standard")
    assert east["rate"] == str(expected)
    assert east["rate_source"] == "zone"
    assert east["rate_label"] == f"${expected} (zone {z} table estimate)"
    assert order.routing["reason"].startswith(
        f"EAST: all lines in stock, zone {z}, ${expected} (zone {z} table"
    )
    assert shipments_posted(fake_easypost) == 0


def test_carrier_failure_falls_back_to_the_zone_table(merchant_a, stocked, run_import, fake_easypost):
    account = make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    fake_easypost.sticky[account.api_key] = "503"

    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))

    assert order.status == "released"
    assert {c["rate_source"] for c in order.routing["candidates"]} == {"zone"}
    assert "zone 3 table estimate" in order.routing["reason"]


def test_open_circuit_is_not_called_and_falls_back(merchant_a, stocked, run_import, fake_easypost):
    account = make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    for _ in range(3):
        breaker.record_failure(account.pk)
    assert breaker.state(account.pk) == breaker.OPEN

    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))

    assert shipments_posted(fake_easypost) == 0
    assert {c["rate_source"] for c in order.routing["candidates"]} == {"zone"}


def test_operator_account_serves_merchants_without_their_own(merchant_a, stocked, run_import, fake_easypost):
    make_account(fake_easypost, carrier="ups")  # the operator's (no merchant)

    order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))

    assert {c["rate_label"] for c in order.routing["candidates"]} == {"UPS Ground $9.81 (live rate)"}


def test_cached_only_asks_no_carrier(merchant_a, fake_easypost):
    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    request = rates.RateRequest(
        merchant_id=merchant_a.pk,
        warehouse_id=1,
        origin_postal="07001",
        origin_country="US",
        dest_postal="02110",
        dest_country="US",
        weight_g=500,
        service="standard",
    )
    assert rates.quote([request], live=False) == {}
    assert shipments_posted(fake_easypost) == 0


def test_a_failing_provider_never_breaks_routing(merchant_a, stocked, run_import):
    def broken(requests, *, live):
        raise RuntimeError("boom")

    rates.register_rate_provider(broken, key="test-broken")
    try:
        order = run_import(merchant_a, canonical(lines=(("TENT", 1),)))
    finally:
        rates.unregister_rate_provider("test-broken")
    assert order.status == "released"
    assert {c["rate_source"] for c in order.routing["candidates"]} == {"zone"}


def test_first_provider_wins_and_the_rest_fill_gaps():
    calls = []

    def first(requests, *, live):
        calls.append(("first", len(requests)))
        return {requests[0]: rates.Quote(Decimal("5.00"), "USD", "A", "x", 2)}

    def second(requests, *, live):
        calls.append(("second", len(requests)))
        return {r: rates.Quote(Decimal("6.00"), "USD", "B", "y", 3) for r in requests}

    def req(wh):
        return rates.RateRequest(1, wh, "07001", "US", "02110", "US", 500, "standard")

    saved = list(rates._providers)
    rates._providers[:] = []
    try:
        rates.register_rate_provider(first, key="first")
        rates.register_rate_provider(second, key="second")
        got = rates.quote([req(1), req(2)])
    finally:
        rates._providers[:] = saved
    assert {r.warehouse_id: (q.carrier, q.amount) for r, q in got.items()} == {
        1: ("A", Decimal("5.00")),
        2: ("B", Decimal("6.00")),
    }
    assert calls == [("first", 2), ("second", 1)]


def test_batch_path_uses_cached_quotes_and_warms_the_rest_after_commit(
    merchant_a, stocked, fake_easypost, django_capture_on_commit_callbacks
):
    from orders.models import Order
    from orders.services import order_import_many

    make_account(fake_easypost, merchant=merchant_a, carrier="ups")
    with django_capture_on_commit_callbacks(execute=True):
        order_import_many(merchant=merchant_a, orders=[canonical("W-1", lines=(("TENT", 1),))])
    first = Order.objects.get(external_id="W-1")
    # no carrier call while the batch held its stock locks: zone table for this one…
    assert {c["rate_source"] for c in first.routing["candidates"]} == {"zone"}
    # …and the routes were priced after commit, for the next orders
    assert shipments_posted(fake_easypost) == 2
    with django_capture_on_commit_callbacks(execute=True):
        order_import_many(merchant=merchant_a, orders=[canonical("W-2", lines=(("TENT", 1),))])
    second = Order.objects.get(external_id="W-2")
    assert {c["rate_label"] for c in second.routing["candidates"]} == {"UPS Ground $9.81 (cached live rate)"}
    assert shipments_posted(fake_easypost) == 2


def test_while_demo_data_loads_providers_are_asked_cached_only():
    from fulfil import demo

    asked = []

    def provider(requests, *, live):
        asked.append(live)
        return {}

    rates.register_rate_provider(provider, key="test-demo")
    try:
        request = rates.RateRequest(
            merchant_id=1, warehouse_id=1, origin_postal="18101", origin_country="US", dest_postal="10001",
            dest_country="US", weight_g=500, service="standard",
        )  # fmt: skip
        with demo.loading():
            rates.quote([request], live=True)
        rates.quote([request], live=True)
    finally:
        rates.unregister_rate_provider("test-demo")
    assert asked == [False, True]
