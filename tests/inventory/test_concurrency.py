"""No overselling under real concurrency: threads on Postgres, each with its own connection."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from inventory import services
from inventory.models import Allocation, StockLevel
from inventory.reconcile import ledger_drift
from tests.conftest import requires_postgres
from tests.factories import MerchantFactory
from tests.inventory.factories import ProductFactory, WarehouseFactory


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_32_threads_never_oversell_a_hot_sku():
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="HOT")
    product = ProductFactory(merchant=merchant, sku="HOT-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=100)

    errors: list[BaseException] = []
    start = threading.Barrier(32)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                services.stock_reserve(
                    merchant=merchant, product=product, warehouse=wh, quantity=1, reference=f"t{n}:{i}"
                )
        except BaseException as exc:  # any escaping error (deadlock, integrity) fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert errors == []
    allocs = list(Allocation.objects.filter(product=product))
    assert len(allocs) == 320
    assert sum(a.allocated for a in allocs) == 100
    assert sum(a.backordered for a in allocs) == 220
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert (level.on_hand, level.reserved, level.backordered, level.available) == (100, 100, 220, 0)
    assert ledger_drift() == []
    call_command("check_inventory")  # raises (exit 1) on drift


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reserve_release_and_receive_keep_ledger_and_counters_agreeing():
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="MIX")
    products = [ProductFactory(merchant=merchant, sku=f"MIX-{i}") for i in range(3)]
    for p in products:
        services.stock_receive(merchant=merchant, product=p, warehouse=wh, quantity=20)
    kit = services.product_create(
        merchant=merchant, sku="MIX-KIT", name="Kit", components=[(products[0], 1), (products[1], 2)]
    )
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                p = kit if (n + i) % 4 == 0 else products[(n + i) % 3]
                ref = f"w{n}:{i}"
                services.stock_reserve(
                    merchant=merchant, product=p, warehouse=wh, quantity=1 + i % 3, reference=ref
                )
                if i % 2:
                    services.stock_release(merchant=merchant, reference=ref)
                if n == 0 and i % 5 == 0:
                    services.stock_receive(
                        merchant=merchant, product=products[i % 3], warehouse=wh, quantity=4
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert ledger_drift() == []
    for level in StockLevel.objects.filter(warehouse=wh):
        assert 0 <= level.reserved <= level.on_hand


@pytest.mark.django_db
def test_reservation_hot_path_is_a_handful_of_queries(merchant_a):
    wh = WarehouseFactory(code="QRY")
    product = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=product, warehouse=wh, quantity=50)
    with CaptureQueriesContext(connection) as ctx:
        services.stock_reserve(
            merchant=merchant_a, product=product, warehouse=wh, quantity=2, reference="q:1"
        )
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # conditional UPDATE of the level, allocation lookup + INSERT, one outbox event
    assert len(statements) <= 4, statements
    with CaptureQueriesContext(connection) as ctx:
        services.stock_release(merchant=merchant_a, reference="q:1")
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) <= 7, statements


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_16_threads_releasing_into_waiting_backorders_never_overgrant():
    # Given one hot SKU with 5 units and far more demand than stock, so almost every release hands its unit to
    # a waiting backorder through the one-call release-and-fill (inventory_release_fill),
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="REL")
    product = ProductFactory(merchant=merchant, sku="REL-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=5)
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def worker(n: int) -> None:
        try:
            start.wait()
            held: list[str] = []
            for i in range(20):
                ref = f"r{n}:{i}"
                services.stock_reserve(
                    merchant=merchant, product=product, warehouse=wh, quantity=1, reference=ref
                )
                held.append(ref)
                if len(held) > 2:
                    services.stock_release(merchant=merchant, reference=held.pop(0))
        except BaseException as exc:  # a check-constraint violation or deadlock escaping fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)

    # then nothing escaped, the counters equal the open allocations, all 5 units are granted, and the ledger
    # agrees.
    assert errors == []
    open_allocs = list(Allocation.objects.filter(product=product, status="open"))
    assert len(open_allocs) == 32
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert level.reserved == sum(a.allocated for a in open_allocs) == 5
    assert level.backordered == sum(a.backordered for a in open_allocs) == 27
    assert ledger_drift() == []
