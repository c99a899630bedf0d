"""Waiting for stock uses real arrival dates (open ASNs, after the backorders already in line; else the
merchant's default lead time; else not offered), and the what-if simulator re-routes each order on the stock of
the moment it arrived, reconstructed from the ledger (inventory.history)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import services as inventory
from inventory.history import StockTimeline, inbound_arrivals, on_hand_as_of
from inventory.models import StockLevel, StockMovement
from inventory.selectors import stock_available
from orders import reports, routing
from orders.models import OrderSettings
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db


# --- pure routing: waiting on dated arrivals -----------------------------------------------------------

MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
EAST = routing.WarehouseInfo(id=1, code="EAST", postal_code="07001")
LAMP = routing.LineNeed(line_id=11, product_id=7, sku="LAMP", quantity=1, weight_g=500)


def plan_east(*, inbound=None, ahead=None, **settings):
    return routing.plan(
        lines=[LAMP],
        warehouses=[EAST],
        stock={},
        inbound=inbound,
        waiting_ahead=ahead,
        dest_postal="02110",
        dest_country="US",
        service="standard",
        settings=routing.RoutingSettings(allow_split=False, **settings),
        now=MONDAY,
    )


def test_wait_for_the_earliest_asn_that_covers_the_shortfall():
    arrivals = {
        (7, 1): [
            routing.Arrival(date(2026, 12, 4), 10, "ASN 8"),
            routing.Arrival(date(2026, 12, 2), 4, "ASN 7 (PO-1)"),
            routing.Arrival(None, 50, "ASN 9"),
        ]
    }
    p = plan_east(inbound=arrivals, max_wait_days=5)
    assert p.kind == "wait"
    assert p.explanation["options"][0]["wait_days"] == 2
    # ships on arrival (Wed Dec 2), zone 3 is 2 business days → Fri Dec 4; $6.65 parcel + 2 days × $2.00
    assert p.promised == date(2026, 12, 4)
    assert p.cost == Decimal("10.65")
    assert p.explanation["reason"] == (
        "EAST: wait 2 day(s) for inbound stock (LAMP: 1 missing, ASN 7 (PO-1) expected Wed Dec 2 covers it), "
        "then zone 3, $6.65 (zone 3 table estimate), $10.65 including waiting, arrives Fri Dec 4"
    )


def test_backorders_already_waiting_are_filled_first():
    arrivals = {
        (7, 1): [
            routing.Arrival(date(2026, 12, 2), 4, "ASN 7"),
            routing.Arrival(date(2026, 12, 4), 10, "ASN 8"),
        ]
    }
    p = plan_east(inbound=arrivals, ahead={(7, 1): 4}, max_wait_days=5)
    assert p.kind == "wait"
    assert p.explanation["options"][0]["wait_days"] == 4
    assert (
        "LAMP: 1 missing after 4 already backordered, ASN 8 expected Fri Dec 4 covers it"
        in p.explanation["reason"]
    )


def test_no_known_inbound_means_no_waiting_and_the_explanation_says_so():
    p = plan_east(max_wait_days=5)
    assert p.kind == "backorder"
    assert p.explanation["reason"].endswith(
        "Waiting not offered: EAST (LAMP: 1 missing and no inbound shipment covers it)"
    )
    assert p.explanation["candidates"][0]["waiting"] == (
        "waiting not offered: LAMP: 1 missing and no inbound shipment covers it"
    )


def test_default_lead_time_when_no_asn_covers_it():
    p = plan_east(inbound={(7, 1): [routing.Arrival(None, 5, "ASN 9")]}, max_wait_days=5, default_lead_days=3)
    assert p.kind == "wait"
    assert p.explanation["options"][0]["wait_days"] == 3
    assert (
        "LAMP: 1 missing, no inbound shipment covers it — assuming the default lead time of 3 day(s)"
        in p.explanation["reason"]
    )


def test_arrival_later_than_allowed_is_not_a_wait():
    arrivals = {(7, 1): [routing.Arrival(date(2026, 12, 4), 10, "ASN 8")]}
    p = plan_east(inbound=arrivals, max_wait_days=3)
    assert p.kind == "backorder"
    assert p.explanation["candidates"][0]["waiting"].startswith("stock in 4 day(s), more than the 3 allowed")


# --- end to end: ASNs through order processing ----------------------------------------------------------


@pytest.fixture
def no_split(merchant_a):
    return OrderSettings.objects.create(merchant=merchant_a, allow_split=False, max_wait_days=5)


def test_order_waits_for_the_asn_at_the_near_warehouse(merchant_a, stocked, east, no_split, run_import):
    today = timezone.now().date()
    asn = inventory.inbound_create(
        merchant=merchant_a,
        warehouse=east,
        lines=[(stocked["LAMP"], 4)],
        reference="PO-1",
        expected_at=today + timedelta(days=2),
    )

    order = run_import(merchant_a, canonical(lines=(("STOVE", 1), ("LAMP", 1))))

    assert order.routing["strategy"] == "wait"
    assert order.routing["winner"] == "EAST"
    assert (
        f"LAMP: 1 missing, ASN {asn.pk} (PO-1) expected {routing._weekday(today + timedelta(days=2))} covers it"
        in order.routing["reason"]
    )
    assert order.status == "backordered"
    lamp = order.lines.get(sku="LAMP")
    assert (lamp.allocated_quantity, lamp.backordered_quantity) == (0, 1)
    assert [(a.warehouse_code, a.requested) for a in lamp.allocations.all()] == [("EAST", 1)]


def test_asn_arrivals_read(merchant_a, stocked, east, west):
    today = timezone.now().date()
    late = inventory.inbound_create(
        merchant=merchant_a,
        warehouse=east,
        lines=[(stocked["LAMP"], 6)],
        expected_at=today + timedelta(days=9),
    )
    soon = inventory.inbound_create(
        merchant=merchant_a,
        warehouse=east,
        lines=[(stocked["LAMP"], 4)],
        expected_at=today + timedelta(days=1),
    )
    inventory.inbound_create(merchant=merchant_a, warehouse=west, lines=[(stocked["LAMP"], 3)])
    found = inbound_arrivals(
        merchant_id=merchant_a.pk, product_ids=[stocked["LAMP"].pk], warehouse_ids=[east.pk, west.pk]
    )
    assert [(a.shipment_id, a.quantity) for a in found[(stocked["LAMP"].pk, east.pk)]] == [
        (soon.pk, 4),
        (late.pk, 6),
    ]
    assert [(a.expected, a.quantity) for a in found[(stocked["LAMP"].pk, west.pk)]] == [(None, 3)]


def test_no_inbound_no_wait_end_to_end(merchant_a, stocked, no_split, run_import):
    order = run_import(merchant_a, canonical(lines=(("STOVE", 1), ("LAMP", 1))))
    assert order.routing["strategy"] == "backorder"
    assert (
        "Waiting not offered: EAST (LAMP: 1 missing and no inbound shipment covers it)"
        in order.routing["reason"]
    )


def test_default_lead_time_end_to_end(merchant_a, stocked, no_split, run_import, client_a):
    response = client_a.post(
        "/app/orders/settings/",
        {
            "allow_split": "",
            "max_wait_days": "5",
            "split_penalty": "3.00",
            "wait_cost_per_day": "2.00",
            "default_lead_time_days": "3",
            "auto_release": "on",
        },
    )
    assert response.status_code == 302
    assert OrderSettings.objects.get(merchant=merchant_a).default_lead_time_days == 3

    order = run_import(merchant_a, canonical(lines=(("STOVE", 1), ("LAMP", 1))))

    assert order.routing["strategy"] == "wait"
    assert order.routing["default_lead_days"] == 3
    assert "assuming the default lead time of 3 day(s)" in order.routing["reason"]


# --- stock as it was --------------------------------------------------------------------------------------


def test_timeline_reconstructs_each_moment(merchant_a, products, east):
    tent = products["TENT"]
    received = inventory.stock_receive(merchant=merchant_a, product=tent, warehouse=east, quantity=10)
    alloc = inventory.stock_reserve(
        merchant=merchant_a, product=tent, warehouse=east, quantity=3, reference="order_line:901"
    )
    hold = inventory.stock_hold(merchant=merchant_a, product=tent, warehouse=east, quantity=2, reason="QC")
    assert inventory.stock_ship(merchant=merchant_a, reference="order_line:901") == 3
    shipped = StockMovement.objects.get(type="ship", reference="order_line:901")
    inventory.stock_hold_release(merchant=merchant_a, hold=hold)
    hold.refresh_from_db()

    pair = (tent.pk, east.pk)
    tl = StockTimeline(
        merchant_id=merchant_a.pk,
        product_ids=[tent.pk],
        warehouse_ids=[east.pk],
        since=received.created_at - timedelta(seconds=1),
        until=timezone.now(),
    )

    def at(moment):
        return (
            tl.on_hand(pair, moment),
            tl.reserved(pair, moment),
            tl.held(pair, moment),
            tl.available(pair, moment),
        )

    assert at(received.created_at - timedelta(microseconds=1)) == (0, 0, 0, 0)
    assert at(received.created_at) == (10, 0, 0, 10)
    assert at(alloc.created_at) == (10, 3, 0, 7)
    assert at(hold.created_at) == (10, 3, 2, 5)
    assert at(shipped.created_at) == (7, 0, 2, 5)
    assert at(hold.released_at) == (7, 0, 0, 7)
    level = StockLevel.objects.get(product=tent, warehouse=east)
    assert at(timezone.now()) == (level.on_hand, level.reserved, level.held, level.available)
    assert on_hand_as_of(merchant_id=merchant_a.pk, at=timezone.now()) == {pair: 7}
    assert on_hand_as_of(merchant_id=merchant_a.pk, at=alloc.created_at) == {pair: 10}


def test_simulator_routes_on_the_stock_of_the_moment(merchant_a, stocked, east, run_import, client_a):
    first = run_import(merchant_a, canonical("S-1", lines=(("TENT", 1),)))
    assert first.routing["winner"] == "EAST"
    # later, East's remaining TENTs go on hold: today East has none free
    inventory.stock_hold(
        merchant=merchant_a, product=stocked["TENT"], warehouse=east, quantity=9, reason="recall"
    )
    second = run_import(merchant_a, canonical("S-2", lines=(("TENT", 1),)))
    assert second.routing["winner"] == "WEST"

    same = routing.RoutingSettings()
    result = reports.simulate(merchant=merchant_a, proposed=same)

    # against today's stock both would have gone West; as they were, S-1 went East
    assert result.orders == 2
    assert result.current["share"] == [("EAST", 1, 50.0), ("WEST", 1, 50.0)]
    assert result.proposed["share"] == [("EAST", 1, 50.0), ("WEST", 1, 50.0)]
    assert result.changed == 0
    assert result.rate_sources == {"zone": 4}

    never_split_prefer_west = routing.RoutingSettings(preferred=("WEST",), split_penalty=Decimal("0"))
    assert reports.simulate(merchant=merchant_a, proposed=never_split_prefer_west).proposed["share"] == [
        ("EAST", 1, 50.0),
        ("WEST", 1, 50.0),
    ]

    page = client_a.get(
        "/app/orders/routing/?simulate=1&allow_split=on&max_wait_days=0&split_penalty=3&wait_cost_per_day=2"
    ).content.decode()
    assert "2 orders re-routed on the stock and inbound shipments of the moment each arrived" in page
    assert "How the past is reconstructed" in page
    assert "on hand from the stock ledger (exact)" in page


# --- property: the ledger rebuilds every past moment ------------------------------------------------------

_examples = itertools.count()


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["receive", "reserve", "ship", "hold", "unhold", "damaged"]),
            st.integers(min_value=1, max_value=6),
        ),
        min_size=2,
        max_size=14,
    )
)
def test_timeline_matches_every_recorded_moment(steps):
    """Receipts, damaged receipts, reservations (with backorders), shipments and holds in any order: at
    every moment the timeline's on hand, held, reserved and available equal the level as it was then
    (no releases and no safety stock: those are the documented estimates)."""
    from tests.factories import MerchantFactory
    from tests.inventory.factories import ProductFactory, WarehouseFactory

    n = next(_examples)
    merchant = MerchantFactory()
    wh = WarehouseFactory(code=f"TL{n}")
    product = ProductFactory(merchant=merchant, sku=f"TL{n}")
    start = timezone.now()
    moments, holds, refs = [], [], []
    for i, (op, q) in enumerate(steps):
        if op == "receive":
            inventory.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=q)
        elif op == "damaged":
            inventory.stock_receive(
                merchant=merchant, product=product, warehouse=wh, quantity=q, damaged=True
            )
        elif op == "reserve":
            ref = f"order_line:{n}-{i}"
            inventory.stock_reserve(
                merchant=merchant, product=product, warehouse=wh, quantity=q, reference=ref
            )
            refs.append(ref)
        elif op == "ship" and refs:
            inventory.stock_ship(merchant=merchant, reference=refs.pop(0))
        elif op == "hold":
            free = stock_available(merchant=merchant, product=product, warehouse=wh)
            if free:
                holds.append(
                    inventory.stock_hold(
                        merchant=merchant, product=product, warehouse=wh, quantity=min(q, free), reason="t"
                    )
                )
        elif op == "unhold" and holds:
            inventory.stock_hold_release(merchant=merchant, hold=holds.pop(0))
        level = StockLevel.objects.filter(product=product, warehouse=wh).first()
        snap = (level.on_hand, level.held, level.reserved, level.available) if level else (0, 0, 0, 0)
        moments.append((timezone.now(), snap))
    tl = StockTimeline(
        merchant_id=merchant.pk,
        product_ids=[product.pk],
        warehouse_ids=[wh.pk],
        since=start,
        until=timezone.now(),
    )
    pair = (product.pk, wh.pk)
    for moment, snap in moments:
        got = (
            tl.on_hand(pair, moment),
            tl.held(pair, moment),
            tl.reserved(pair, moment),
            tl.available(pair, moment),
        )
        assert got == snap, (steps, moment)
