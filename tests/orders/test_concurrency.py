"""The same order delivered 5 times at once, from 5 threads with their own connections: ONE order."""

import threading

import pytest
from django.db import connection

from inventory.models import Allocation, StockLevel
from orders.models import Order, OrderLine
from orders.services import order_import
from tests.conftest import requires_postgres
from tests.orders.conftest import canonical


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_make_one_order(merchant_a, stocked, east):
    barrier = threading.Barrier(5)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait()
            order, created = order_import(
                merchant=merchant_a, order=canonical("RACE-1", lines=(("TENT", 2),))
            )
            results.append((order.pk, created))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 5
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Order.objects.filter(external_id="RACE-1").count() == 1
    order = Order.objects.get(external_id="RACE-1")
    assert OrderLine.objects.filter(order=order).count() == 1
    assert order.status == "released"
    assert Allocation.objects.get(reference=f"order_line:{order.lines.get().pk}").requested == 2
    assert StockLevel.objects.get(product=stocked["TENT"], warehouse=east).reserved == 2
