"""Order batching: every order in exactly one batch, carts never overfilled, travel never worse."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.batching import Cart, OrderPicks, batch_orders
from warehouse.routing import Layout, Stop, plan_route

LAYOUT = Layout.grid(aisles=6, bays=12)


def make_orders(seed: int, count: int, alone_every: int = 0) -> list[OrderPicks]:
    rnd = random.Random(seed)
    orders = []
    for o in range(count):
        stops = tuple(
            Stop((o, i), LAYOUT.bay_point(aisle=rnd.randrange(6), block=0, bay=rnd.randrange(12), bays=12))
            for i in range(rnd.randint(1, 3))
        )
        alone = bool(alone_every) and o % alone_every == 0
        orders.append(OrderPicks(key=o, stops=stops, volume=rnd.uniform(1000, 9000), alone=alone))
    return orders


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 24), st.integers(1, 6), st.integers(0, 4))
def test_batches_partition_orders_within_capacity(seed, count, totes, alone_every):
    orders = make_orders(seed, count, alone_every)
    cart = Cart(totes=totes, volume=20_000)
    plan = batch_orders(LAYOUT, orders, cart)
    placed = [k for b in plan.batches for k in b.orders]
    assert sorted(placed) == list(range(count))
    by_key = {o.key: o for o in orders}
    for b in plan.batches:
        assert b.totes <= totes
        assert b.volume <= 20_000 + 1e-6
        if len(b.orders) > 1:
            assert not any(by_key[k].alone for k in b.orders)
        assert sorted(b.route.order) == sorted(s.key for s in b.stops)
    assert plan.length <= plan.single_order_length + 1e-6


def test_batching_cuts_travel_per_order_by_more_than_a_third():
    orders = make_orders(7, 40)
    plan = batch_orders(LAYOUT, orders, Cart(totes=8, volume=1_000_000))
    single = sum(plan_route(LAYOUT, o.stops).length for o in orders)
    assert plan.single_order_length == single
    assert plan.saving_pct > 35
    assert len(plan.batches) == 5  # 40 orders, 8 totes a cart


def test_expedited_orders_are_picked_alone():
    orders = make_orders(3, 6)
    orders[2] = OrderPicks(key=2, stops=orders[2].stops, volume=orders[2].volume, alone=True)
    plan = batch_orders(LAYOUT, orders, Cart(totes=8))
    assert [2] in [b.orders for b in plan.batches]
