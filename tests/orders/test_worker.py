"""A real Celery worker processes an imported order (validate, route, allocate, release) after commit, and
fills its backorder when stock arrives (inventory.allocation_changed through the outbox)."""

import pytest
from django.db import transaction

from inventory import services as inventory
from orders.models import Order
from orders.services import order_import
from tests.conftest import wait_for
from tests.orders.conftest import canonical

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_worker_processes_order_and_fills_backorder(celery_worker_process, merchant_a, stocked, east):
    with transaction.atomic():
        order, created = order_import(merchant=merchant_a, order=canonical("W-1", lines=(("STOVE", 8),)))
    assert created

    def status():
        return Order.objects.get(pk=order.pk).status

    wait_for(lambda: status() == "backordered", timeout=60)
    line = order.lines.get()
    assert (line.allocated_quantity, line.backordered_quantity) == (5, 3)
    with transaction.atomic():
        inventory.stock_receive(merchant=merchant_a, product=stocked["STOVE"], warehouse=east, quantity=3)
    wait_for(lambda: status() == "released", timeout=60)
    line.refresh_from_db()
    assert (line.allocated_quantity, line.backordered_quantity) == (8, 0)
