"""Pick routes: Ratliff–Rosenthal is optimal, heuristics are valid, constraints are honoured."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.routing import (
    RANK_LAST,
    RANK_NORMAL,
    RANK_PRIORITY,
    Layout,
    Point,
    Stop,
    combined,
    largest_gap,
    optimal_length,
    plan_route,
    rr_route,
    s_shape,
    sequence_length,
)


@st.composite
def single_block(draw):
    aisles = draw(st.integers(1, 6))
    bays = draw(st.integers(1, 12))
    layout = Layout.grid(aisles=aisles, bays=bays, depot_aisle=draw(st.integers(0, aisles - 1)))
    if draw(st.booleans()):  # a depot between (or beside) the aisles
        layout = Layout(
            aisle_x=layout.aisle_x,
            cross_y=layout.cross_y,
            depot_x=draw(st.floats(-3, layout.aisle_x[-1] + 3, allow_nan=False)),
        )
    n = draw(st.integers(1, 8))
    stops = [
        Stop(
            i,
            layout.bay_point(
                aisle=draw(st.integers(0, aisles - 1)), block=0, bay=draw(st.integers(0, bays - 1)), bays=bays
            ),
        )
        for i in range(n)
    ]
    return layout, stops


@st.composite
def multi_block(draw):
    aisles = draw(st.integers(1, 6))
    bays = draw(st.integers(1, 8))
    blocks = draw(st.integers(2, 3))
    layout = Layout.grid(
        aisles=aisles, bays=bays, blocks=blocks, depot_aisle=draw(st.integers(0, aisles - 1))
    )
    n = draw(st.integers(1, 9))
    stops = [
        Stop(
            i,
            layout.bay_point(
                aisle=draw(st.integers(0, aisles - 1)),
                block=draw(st.integers(0, blocks - 1)),
                bay=draw(st.integers(0, bays - 1)),
                bays=bays,
            ),
            rank=draw(st.sampled_from([RANK_NORMAL, RANK_NORMAL, RANK_PRIORITY, RANK_LAST])),
        )
        for i in range(n)
    ]
    return layout, stops


@settings(max_examples=150, deadline=None)
@given(single_block())
def test_ratliff_rosenthal_equals_held_karp(case):
    layout, stops = case
    route = rr_route(layout, stops)
    optimum = optimal_length(layout, stops)
    assert sorted(route.order) == list(range(len(stops)))
    assert route.length == pytest.approx(optimum, abs=1e-6)
    # the order it returns walks exactly that length with shortest legs
    assert sequence_length(layout, stops, route.order) == pytest.approx(optimum, abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(single_block())
def test_optimal_route_is_never_longer_than_a_heuristic(case):
    layout, stops = case
    best = plan_route(layout, stops).length
    for heuristic in (s_shape, largest_gap, combined):
        walk = heuristic(layout, stops)
        assert sorted(walk.order) == list(range(len(stops)))
        # the literal walk is never shorter than its visiting order with shortest legs
        assert walk.length >= sequence_length(layout, stops, walk.order) - 1e-6
        assert best <= walk.length + 1e-6


@settings(max_examples=80, deadline=None)
@given(multi_block())
def test_multi_block_routes_visit_every_stop_in_precedence_order(case):
    layout, stops = case
    route = plan_route(layout, stops)
    assert sorted(route.order) == list(range(len(stops)))
    ranks = [stops[k].rank for k in route.order]
    assert ranks == sorted(ranks)
    assert route.length == pytest.approx(sequence_length(layout, stops, route.order), abs=1e-6)
    if len({s.rank for s in stops}) == 1:
        assert route.length <= optimal_length(layout, stops) * 1.01 + 1e-6


def test_single_block_example_walks_the_known_optimum():
    # Given 3 aisles 3 m apart, 10 m long between cross aisles, the depot at the front of aisle 0
    layout = Layout(aisle_x=(0.0, 3.0, 6.0), cross_y=(0.0, 10.0), depot_x=0.0)
    stops = [Stop("a", Point(0, 9.0)), Stop("b", Point(2, 1.0)), Stop("c", Point(2, 2.0))]
    # When we route
    route = plan_route(layout, stops)
    # Then the best tour traverses aisle 0 and aisle 2 once each (10 + 10) and both cross aisles (6 + 6)
    assert route.length == pytest.approx(32.0)
    assert route.method == "ratliff-rosenthal"
    assert set(route.order) == {"a", "b", "c"}


def test_fragile_items_are_picked_last_and_priority_first():
    layout = Layout.grid(aisles=4, bays=10)
    near = layout.bay_point(aisle=0, block=0, bay=0, bays=10)
    far = layout.bay_point(aisle=3, block=0, bay=9, bays=10)
    mid = layout.bay_point(aisle=1, block=0, bay=5, bays=10)
    stops = [
        Stop("glass", near, rank=RANK_LAST),
        Stop("rush", far, rank=RANK_PRIORITY),
        Stop("socks", mid),
    ]
    route = plan_route(layout, stops)
    assert route.order == ["rush", "socks", "glass"]


def test_snap_maps_floor_coordinates_to_the_nearest_aisle():
    layout = Layout(aisle_x=(0.0, 3.0, 6.0), cross_y=(0.0, 10.0))
    assert layout.snap(1.4, 4.0) == Point(0, 4.0)
    assert layout.snap(1.6, 4.0) == Point(1, 4.0)
    assert layout.snap(9.0, 12.0) == Point(2, 10.0)


def test_optimal_beats_s_shape_on_a_sparse_list():
    layout = Layout.grid(aisles=10, bays=30)
    stops = [Stop(i, layout.bay_point(aisle=a, block=0, bay=1, bays=30)) for i, a in enumerate((1, 4, 7))]
    best = plan_route(layout, stops).length
    s = s_shape(layout, stops).length
    assert best < s * 0.5


@settings(max_examples=60, deadline=None)
@given(multi_block())
def test_multi_block_heuristics_are_valid_walks(case):
    layout, stops = case
    best = plan_route(layout, [Stop(s.key, s.point) for s in stops]).length
    for heuristic in (s_shape, largest_gap, combined):
        walk = heuristic(layout, stops)
        assert sorted(walk.order) == list(range(len(stops)))
        assert walk.length >= sequence_length(layout, stops, walk.order) - 1e-6
        assert best <= walk.length + 1e-6


def test_cross_aisle_table_is_computed_once_per_layout_and_matches_the_direct_walk():
    import random

    from warehouse.routing import Distances, Layout, Point, _cross_table

    a = Layout.grid(aisles=6, bays=10, blocks=3)
    assert _cross_table(a) is _cross_table(Layout.grid(aisles=6, bays=10, blocks=3))  # equal layouts share it
    d = Distances(a)
    rnd = random.Random(7)
    pts = [None] + [Point(rnd.randrange(6), rnd.uniform(a.cross_y[0], a.cross_y[-1])) for _ in range(40)]

    def direct(p, q):  # every exit pair through the aisle grid, no table
        if p is not None and q is not None and p.aisle == q.aisle and a.block_of(p.y) == a.block_of(q.y):
            return abs(p.y - q.y)
        return min(
            d1 + d2 + d._grid(x1, c1, x2, c2) for c1, x1, d1 in d._exits(p) for c2, x2, d2 in d._exits(q)
        )

    m = d.matrix(pts)
    for i, p in enumerate(pts):
        for j, q in enumerate(pts):
            assert abs(m[i][j] - direct(p, q)) < 1e-9
