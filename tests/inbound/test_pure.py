"""ABC classification, count scheduling and putaway ranking (pure functions)."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from warehouse.inbound import abc, putaway
from warehouse.inbound.abc import CountPolicy, SkuStats
from warehouse.inbound.putaway import ProductNeeds, Slot


def test_classify_by_velocity_times_value():
    stats = [
        SkuStats(1, 1000, Decimal("10")),  # 10000, starts at 0 %
        SkuStats(2, 100, Decimal("20")),  # 2000, starts at 76.9 % (< 80 %)
        SkuStats(3, 50, Decimal("10")),  # 500, starts at 92.3 % (< 95 %)
        SkuStats(4, 10, Decimal("50")),  # 500, starts at 96.2 %
        SkuStats(5, 0, Decimal("999")),  # never moved
    ]
    assert abc.classify(stats) == {1: "A", 2: "A", 3: "B", 4: "C", 5: "C"}


def test_classify_configurable_shares():
    stats = [SkuStats(1, 10, Decimal("1")), SkuStats(2, 10, Decimal("1"))]
    assert abc.classify(stats, policy=CountPolicy(a_share=0.5, b_share=0.9)) == {1: "A", 2: "B"}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.decimals(0, 1000, places=2)), min_size=1, max_size=40))
def test_classification_is_monotone_in_score(rows):
    stats = [SkuStats(i, u, v) for i, (u, v) in enumerate(rows)]
    classes = abc.classify(stats)
    assert set(classes) == {s.product_id for s in stats}
    order = {"A": 0, "B": 1, "C": 2}
    for s in stats:
        for t in stats:
            if abc.score(s) > abc.score(t):
                assert order[classes[s.product_id]] <= order[classes[t.product_id]]


def test_schedule_intervals_and_due():
    today = dt.date(2026, 6, 30)
    classes = {1: "A", 2: "B", 3: "C", 4: "C"}
    last = {1: dt.date(2026, 5, 30), 2: dt.date(2026, 5, 1), 3: dt.date(2026, 1, 1), 4: None}
    assert abc.due_products(classes, last, today=today) == [1, 4]
    monthly_c = CountPolicy(c_days=30)
    assert abc.due_products(classes, last, today=today, policy=monthly_c) == [1, 3, 4]


def test_priorities_triggered_first_then_value_and_velocity():
    short = abc.count_priority(reason="short_pick", abc_class="C")
    sched_a = abc.count_priority(
        reason="scheduled", abc_class="A", unit_value=Decimal("500"), units_moved=900
    )
    sched_a_cheap = abc.count_priority(reason="scheduled", abc_class="A", unit_value=Decimal("1"))
    assert short > sched_a > sched_a_cheap


def test_recount_and_approval_thresholds():
    assert not abc.needs_recount(expected=100, counted=100)
    assert not abc.needs_recount(expected=100, counted=98)  # 2 units, 2 %
    assert abc.needs_recount(expected=100, counted=90)
    assert abc.needs_recount(expected=0, counted=3)
    assert not abc.needs_approval(variance=-5, unit_value=Decimal("20.00"))  # 100.00 is not over
    assert abc.needs_approval(variance=-6, unit_value=Decimal("20.00"))


def _slot(i, **kw):
    base = {"location_id": i, "code": f"L{i}", "type": "pick", "x": float(i), "y": 0.0}
    return Slot(**{**base, **kw})


def test_putaway_prefers_location_holding_sku_then_nearest_empty():
    slots = [
        _slot(1, units=5, capacity=100),  # holds another SKU
        _slot(2),
        _slot(3),
        _slot(9, units=10, holds_product=True, capacity=50),
    ]
    reason, slot = putaway.suggest(slots, needs=ProductNeeds(), quantity=20, origin=(0, 0))
    assert (reason, slot.location_id) == ("holds SKU", 9)
    reason, slot = putaway.suggest(slots, needs=ProductNeeds(), quantity=45, origin=(0, 0))
    assert (reason, slot.location_id) == ("empty", 2)  # slot 9 is too full, slot 1 is not empty


def test_putaway_respects_capabilities_and_size():
    slots = [
        _slot(1, cold=True),
        _slot(2, hazmat=True),
        _slot(3, max_length_mm=100, max_width_mm=100, max_height_mm=100),
        _slot(4, type="reserve"),
        _slot(5, type="quarantine"),
    ]
    assert (
        putaway.suggest(slots, needs=ProductNeeds(cold=True), quantity=1, origin=(0, 0))[1].location_id == 1
    )
    assert (
        putaway.suggest(slots, needs=ProductNeeds(hazmat=True), quantity=1, origin=(0, 0))[1].location_id == 2
    )
    big = ProductNeeds(length_mm=300, width_mm=50, height_mm=50)
    assert putaway.suggest(slots, needs=big, quantity=1, origin=(0, 0))[1].location_id == 4
    assert putaway.suggest(slots, needs=ProductNeeds(), quantity=1, origin=(0, 0))[1].location_id == 3
    assert (
        putaway.suggest([_slot(5, type="quarantine")], needs=ProductNeeds(), quantity=1, origin=(0, 0))
        is None
    )
