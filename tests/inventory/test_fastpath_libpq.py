"""The hot path's statements go to libpq directly on Django's own connection: they run inside the caller's
transaction (a rollback undoes them), a conflict leaves that transaction usable, and a new connection prepares
them again."""

import pytest
from django.db import connection, transaction

from inventory import services
from inventory.models import Allocation, StockLevel
from tests.conftest import requires_postgres
from tests.factories import MerchantFactory
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


class Rollback(Exception):
    pass


def _stocked(code: str, quantity: int):
    merchant = MerchantFactory()
    wh = WarehouseFactory(code=code)
    product = ProductFactory(merchant=merchant, sku=f"{code}-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=quantity)
    return merchant, wh, product


def _level(product, wh) -> tuple[int, int]:
    level = StockLevel.objects.get(product=product, warehouse=wh)
    return level.reserved, level.backordered


def test_a_reservation_and_release_in_a_rolled_back_transaction_leave_nothing():
    merchant, wh, product = _stocked("LP1", 5)
    with pytest.raises(Rollback), transaction.atomic():  # noqa: PT012 - the whole transaction is the subject
        alloc = services.stock_reserve(
            merchant=merchant, product=product, warehouse=wh, quantity=3, reference="a"
        )
        assert (alloc.requested, alloc.allocated) == (3, 3)
        assert _level(product, wh) == (3, 0)
        assert services.stock_release(merchant=merchant, reference="a") == 3
        services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=2, reference="b")
        raise Rollback
    assert _level(product, wh) == (0, 0)
    assert Allocation.objects.filter(product=product).count() == 0


def test_a_conflict_inside_a_transaction_leaves_it_usable():
    merchant, wh, product = _stocked("LP2", 5)
    with transaction.atomic():
        services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=2, reference="a")
        # the same reference again: the one-statement INSERT conflicts, the general path adds to the request
        alloc = services.stock_reserve(
            merchant=merchant, product=product, warehouse=wh, quantity=4, reference="a"
        )
        assert (alloc.requested, alloc.allocated) == (6, 5)
    assert _level(product, wh) == (5, 1)
    assert list(Allocation.objects.filter(product=product).values_list("requested", "allocated")) == [(6, 5)]


def test_a_new_connection_prepares_the_statements_again():
    merchant, wh, product = _stocked("LP4", 5)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="a")
    connection.close()
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="b")
    assert services.stock_release(merchant=merchant, reference="a") == 1
    assert _level(product, wh) == (1, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == ["inventory_release_fast", "inventory_reserve_fast"]
