"""``lock_levels``: exactly the pairs asked for are locked (missing levels created empty first), whatever the
number of pairs; and ``stock_reserve_many`` writes its allocations as the rows they are."""

import threading

import pytest
from django.db import OperationalError, connections, transaction

from inventory import services
from inventory.locks import lock_levels
from inventory.models import Allocation, StockLevel
from inventory.services import ReserveRequest, stock_reserve_many
from tests.conftest import requires_postgres
from tests.inventory.factories import ProductFactory, WarehouseFactory


def _locked_elsewhere(level_ids: list[int]) -> dict[int, bool]:
    """For each level, whether another connection finds it locked (``FOR UPDATE NOWAIT`` fails)."""
    found: dict[int, bool] = {}

    def probe() -> None:
        try:
            for pk in level_ids:
                try:
                    with transaction.atomic():
                        list(StockLevel.objects.select_for_update(nowait=True).filter(pk=pk))
                    found[pk] = False
                except OperationalError:
                    found[pk] = True
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(30)
    return found


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_locks_exactly_the_pairs_asked_for_and_creates_missing_levels(merchant_a):
    east, west = WarehouseFactory(code="LK-E"), WarehouseFactory(code="LK-W")
    products = [ProductFactory(merchant=merchant_a) for _ in range(60)]
    for p in products:
        services.stock_receive(merchant=merchant_a, product=p, warehouse=east, quantity=3)
        services.stock_receive(merchant=merchant_a, product=p, warehouse=west, quantity=4)
    never_stocked = ProductFactory(merchant=merchant_a)
    pairs = [(p.pk, east.pk) for p in products[:50]] + [(never_stocked.pk, west.pk)]

    with transaction.atomic():
        levels = lock_levels(merchant_id=merchant_a.pk, pairs=[*pairs, pairs[0]])  # a repeat is one pair
        assert sorted(levels) == sorted(pairs)
        assert {(lv.product_id, lv.warehouse_id) for lv in levels.values()} == set(pairs)
        assert levels[(products[0].pk, east.pk)].on_hand == 3
        created = levels[(never_stocked.pk, west.pk)]
        assert (created.on_hand, created.reserved) == (0, 0)
        others = [
            StockLevel.objects.get(product=products[0], warehouse=west).pk,  # same product, other warehouse
            StockLevel.objects.get(product=products[55], warehouse=east).pk,  # same warehouse, other product
        ]
        # (the created level is this transaction's own insert: no one else sees it before commit)
        asked = [levels[(products[0].pk, east.pk)].pk, levels[(products[49].pk, east.pk)].pk]
        assert _locked_elsewhere(asked + others) == {
            asked[0]: True,
            asked[1]: True,
            others[0]: False,
            others[1]: False,
        }
    assert _locked_elsewhere(asked) == dict.fromkeys(asked, False)  # released at commit
    assert StockLevel.objects.filter(pk=created.pk, product=never_stocked, warehouse=west).exists()


@pytest.mark.django_db
def test_reserve_many_returns_the_allocations_as_stored(merchant_a):
    wh = WarehouseFactory(code="LK-R")
    a = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=a, warehouse=wh, quantity=2)
    with transaction.atomic():
        got = stock_reserve_many(
            merchant=merchant_a,
            requests=[
                ReserveRequest(product=a, warehouse=wh, quantity=1, reference="lk:1", priority=7),
                ReserveRequest(product=a, warehouse=wh, quantity=3, reference="lk:2"),
            ],
        )
    for reserved in got:
        stored = Allocation.objects.get(pk=reserved.allocation.pk)
        fields = [f.attname for f in Allocation._meta.concrete_fields]
        assert {f: getattr(reserved.allocation, f) for f in fields} == {f: getattr(stored, f) for f in fields}
        assert reserved.allocation._state.adding is False
    assert [(r.granted, r.allocation.allocated, r.allocation.requested) for r in got] == [
        (1, 1, 1),
        (1, 1, 3),
    ]
    assert got[0].allocation.priority == 7
