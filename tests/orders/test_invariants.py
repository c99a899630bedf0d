"""Property: whatever happens to orders (new orders, cancels, partial cancels, holds, quantity changes,
address changes, stock arriving), the stock inventory reserves and keeps waiting equals what the open
orders need — line by line, and per product × warehouse."""

from collections import defaultdict
from contextlib import suppress

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inventory import services as inventory
from inventory.models import Allocation, StockLevel
from orders.exceptions import OrderError
from orders.models import Order
from orders.services import (
    order_cancel,
    order_change_address,
    order_change_lines,
    order_hold,
    order_import,
    order_unhold,
)
from tests.orders.conftest import LA, canonical

pytestmark = pytest.mark.django_db

SKUS = ("TENT", "STOVE", "LAMP")
op = st.one_of(
    st.tuples(
        st.just("new"),
        st.lists(
            st.tuples(st.sampled_from(SKUS), st.integers(1, 6)),
            min_size=1,
            max_size=3,
            unique_by=lambda t: t[0],
        ),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("cancel_one"), st.integers(0, 20)),
    st.tuples(st.just("hold"), st.integers(0, 20)),
    st.tuples(st.just("unhold"), st.integers(0, 20)),
    st.tuples(st.just("qty"), st.tuples(st.integers(0, 20), st.integers(1, 6))),
    st.tuples(st.just("move"), st.integers(0, 20)),
    st.tuples(
        st.just("receive"),
        st.tuples(st.sampled_from(SKUS), st.sampled_from(("EAST", "WEST")), st.integers(1, 6)),
    ),
)


class Rollback(Exception):
    pass


RESERVING = {"allocated", "backordered", "released"}


def check_invariant(merchant):
    per_level = defaultdict(lambda: [0, 0])  # (product, wh) -> [allocated, backordered] as orders see it
    for order in Order.objects.filter(merchant=merchant).prefetch_related("lines__allocations"):
        for line in order.lines.all():
            allocs = list(
                Allocation.objects.filter(reference=line.reference, status="open", parent__isnull=True)
            )
            requested = sum(a.requested - a.shipped for a in allocs)
            allocated = sum(a.allocated for a in allocs)
            holds_stock = order.status in RESERVING or (
                order.status == "on_hold" and order.held_from_status in RESERVING
            )
            if holds_stock and line.product_id:
                assert requested == line.open_quantity, (
                    order.status,
                    line.sku,
                    requested,
                    line.open_quantity,
                )
                assert allocated == line.allocated_quantity
                assert line.backordered_quantity == line.open_quantity - line.allocated_quantity
                for a in line.allocations.all():
                    per_level[(line.product_id, a.warehouse_id)][0] += a.allocated
                    per_level[(line.product_id, a.warehouse_id)][1] += a.requested - a.allocated
            else:  # new, exception, cancelled: nothing reserved or waiting
                assert requested == 0, (order.status, line.sku, requested)
    for lvl in StockLevel.objects.filter(merchant=merchant):
        need = per_level.get((lvl.product_id, lvl.warehouse_id), [0, 0])
        assert (lvl.reserved, lvl.backordered) == tuple(need), (lvl.product_id, lvl.warehouse_id)
        assert lvl.reserved <= lvl.on_hand


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=12))
@example(  # a re-opened line moves the order to another warehouse: every line's mirror must follow
    ops=[
        ("new", [("STOVE", 1), ("TENT", 4), ("LAMP", 1)]),
        ("new", [("TENT", 1)]),
        ("new", [("TENT", 1)]),
        ("cancel_one", 0),
        ("new", [("TENT", 1)]),
        ("qty", (0, 1)),
    ]
)
def test_reservations_equal_what_open_orders_need(
    merchant_a, stocked, east, west, django_capture_on_commit_callbacks, ops
):
    warehouses = {"EAST": east, "WEST": west}
    with suppress(Rollback), transaction.atomic():
        counter = 0
        for kind, arg in ops:
            orders = list(Order.objects.filter(merchant=merchant_a).order_by("pk"))
            pick = orders[arg % len(orders)] if orders and isinstance(arg, int) else None
            with django_capture_on_commit_callbacks(execute=True), suppress(OrderError):
                if kind == "new":
                    counter += 1
                    order_import(merchant=merchant_a, order=canonical(f"P-{counter}", lines=tuple(arg)))
                elif kind == "cancel" and pick:
                    order_cancel(order=pick)
                elif kind == "cancel_one" and pick:
                    line = next((ln for ln in pick.lines.all() if ln.open_quantity), None)
                    if line:
                        order_cancel(order=pick, lines=[{"id": line.pk, "quantity": 1}])
                elif kind == "hold" and pick:
                    order_hold(order=pick)
                elif kind == "unhold" and pick:
                    order_unhold(order=pick)
                elif kind == "qty" and orders:
                    target = orders[arg[0] % len(orders)]
                    line = target.lines.order_by("pk").first()
                    order_change_lines(order=target, changes=[{"id": line.pk, "quantity": arg[1]}])
                elif kind == "move" and pick:
                    order_change_address(
                        order=pick,
                        address={"city": LA.city, "state": LA.state, "postal_code": LA.postal_code},
                    )
                elif kind == "receive":
                    sku, wh, qty = arg
                    inventory.stock_receive(
                        merchant=merchant_a, product=stocked[sku], warehouse=warehouses[wh], quantity=qty
                    )
            check_invariant(merchant_a)
        raise Rollback
