"""Box selection: items truly fit (inside, no overlap, supported), cheapest total cost, splits."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.packing import (
    BoxType,
    Item,
    billable_weight_g,
    parcel_svg,
    place_items,
    rate_card_cost,
    recommend_boxes,
)

CATALOG = [
    BoxType("MAILER-S", 250, 180, 40, 1000, Decimal("0.30"), kind="mailer"),
    BoxType("BAG-M", 350, 250, 80, 2000, Decimal("0.15"), kind="poly_bag"),
    BoxType("B-S", 200, 150, 100, 10000, Decimal("0.45")),
    BoxType("B-M", 300, 250, 200, 20000, Decimal("0.80")),
    BoxType("B-L", 450, 350, 300, 25000, Decimal("1.30")),
    BoxType("B-XL", 600, 400, 400, 30000, Decimal("2.10")),
]


def overlaps(a, b) -> bool:
    return (
        a.x < b.x + b.dx
        and b.x < a.x + a.dx
        and a.y < b.y + b.dy
        and b.y < a.y + a.dy
        and a.z < b.z + b.dz
        and b.z < a.z + a.dz
    )


item_st = st.builds(
    Item,
    key=st.uuids().map(str),
    length=st.integers(20, 420),
    width=st.integers(20, 300),
    height=st.integers(5, 250),
    weight_g=st.integers(10, 4000),
    this_side_up=st.booleans(),
    no_bag=st.booleans(),
    fragile=st.just(False),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(item_st, min_size=1, max_size=9, unique_by=lambda i: i.key))
def test_recommendation_places_every_item_inside_without_overlap(items):
    plan = recommend_boxes(items, CATALOG)
    by_key = {i.key: i for i in items}
    seen = [p.key for parcel in plan.parcels for p in parcel.placements]
    assert sorted(seen) == sorted(by_key)
    for parcel in plan.parcels:
        if parcel.box is None:
            continue
        box = parcel.box
        assert parcel.weight_g <= box.max_weight_g
        if any(by_key[p.key].no_bag for p in parcel.placements):
            assert box.kind not in {"poly_bag", "mailer"}
        for p in parcel.placements:
            it = by_key[p.key]
            assert p.x >= 0
            assert p.y >= 0
            assert p.z >= 0
            assert p.x + p.dx <= box.length
            assert p.y + p.dy <= box.width
            assert p.z + p.dz <= box.height
            assert sorted((p.dx, p.dy, p.dz)) == sorted((it.length, it.width, it.height))
            if it.this_side_up:
                assert p.dz == it.height
        for i, a in enumerate(parcel.placements):
            for b in parcel.placements[i + 1 :]:
                assert not overlaps(a, b)


def test_dimensional_weight_is_billed_when_the_box_is_light_and_big():
    assert billable_weight_g(500, (600, 400, 400)) == 19200
    assert billable_weight_g(30000, (600, 400, 400)) == 30000


def test_the_cheapest_total_wins_over_the_cheapest_box():
    # A flat light item: the poly bag (0.15) is cheapest and its dim weight (350*250*80/5000 = 1400 g)
    # costs 9.40 to ship; the mailer (0.30) bills 360 g → 5.10. Total: mailer.
    flat = Item("tee", 240, 170, 30, 200)
    plan = recommend_boxes([flat], CATALOG)
    assert [p.box.code for p in plan.parcels] == ["MAILER-S"]
    assert plan.cost == Decimal("0.30") + rate_card_cost(360, (250, 180, 40))


def test_fragile_items_never_go_in_a_bag_and_own_container_ships_alone():
    mug = Item("mug", 120, 120, 95, 400, fragile=True)
    tv = Item("tv", 900, 600, 120, 9000, own_container=True)
    plan = recommend_boxes([mug, tv], CATALOG)
    kinds = {tuple(parcel.keys): (parcel.box.code if parcel.box else None) for parcel in plan.parcels}
    assert kinds == {("tv",): None, ("mug",): "B-S"}


def test_an_order_too_big_for_one_box_is_split():
    items = [Item(f"crate{i}", 550, 380, 380, 8000) for i in range(3)]
    plan = recommend_boxes(items, CATALOG)
    assert [p.box.code for p in plan.parcels] == ["B-XL", "B-XL", "B-XL"]


def test_this_side_up_blocks_the_rotation_that_would_fit():
    tall = Item("plant", 100, 100, 180, 500, this_side_up=True)
    low = BoxType("LOW", 200, 200, 120, 5000, Decimal("0.10"))
    assert place_items([tall], low) is None
    assert place_items([Item("lamp", 100, 100, 180, 500)], low) is not None


def test_eight_cubes_fill_a_box_exactly():
    box = BoxType("CUBE", 200, 200, 200, 10000, Decimal("1"))
    cubes = [Item(i, 100, 100, 100, 100) for i in range(8)]
    placed, left = place_items(cubes, box)
    assert left == []
    assert len(placed) == 8


def test_svg_diagram_draws_every_item():
    plan = recommend_boxes([Item("a", 100, 80, 60, 300), Item("b", 90, 90, 90, 300)], CATALOG)
    svg = parcel_svg(plan.parcels[0], labels={"a": "Mug", "b": "Tea"})
    assert svg.startswith("<svg")
    assert svg.count("<title>") == 2
    assert "Mug" in svg
