"""Kits built ahead under real concurrency (threads on Postgres): builds, kit reservations (built kits first,
then components) and component reservations race; nothing is oversold and the ledger agrees."""

import contextlib
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from inventory import services
from inventory.exceptions import InsufficientStock
from inventory.models import Allocation, Location, StockLevel
from inventory.reconcile import ledger_drift
from tests.conftest import requires_postgres
from tests.factories import MerchantFactory
from tests.inventory.factories import LocationFactory, ProductFactory, WarehouseFactory


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_builds_and_kit_and_component_reservations_race_without_overselling():
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="KRACE")
    shelf = LocationFactory(warehouse=wh, code="A-01-01-1-A", type=Location.Type.PICK)
    cup = ProductFactory(merchant=merchant, sku="R-CUP")
    lid = ProductFactory(merchant=merchant, sku="R-LID")
    kit = services.product_create(merchant=merchant, sku="R-SET", name="Set", components=[(cup, 2), (lid, 1)])
    services.stock_receive(merchant=merchant, product=cup, warehouse=wh, quantity=60, location=shelf)
    services.stock_receive(merchant=merchant, product=lid, warehouse=wh, quantity=30, location=shelf)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(8):
                ref = f"k{n}:{i}"
                if n % 4 == 0:
                    # components already promised: a refused build changes nothing
                    with contextlib.suppress(InsufficientStock):
                        services.kit_build(
                            merchant=merchant, kit=kit, warehouse=wh, quantity=2, location=shelf
                        )
                elif n % 4 == 1:
                    services.stock_reserve(
                        merchant=merchant, product=cup, warehouse=wh, quantity=1, reference=ref
                    )
                else:
                    services.stock_reserve(
                        merchant=merchant, product=kit, warehouse=wh, quantity=1, reference=ref
                    )
                    if i % 3 == 2:
                        services.stock_release(merchant=merchant, reference=ref)
        except BaseException as exc:  # any escaping error (deadlock, integrity) fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)

    assert errors == []
    for level in StockLevel.objects.filter(warehouse=wh):
        assert level.reserved <= level.on_hand, level
    # every unit is either on a shelf or promised at most once: kits reserved from built stock + components
    parents = list(Allocation.objects.filter(product=kit, parent__isnull=True))
    built = StockLevel.objects.get(product=kit, warehouse=wh)
    assert built.reserved == sum(p.prebuilt for p in parents if p.status == "open")
    for p in parents:
        for child in p.children.all():
            assert child.allocated == (p.allocated - p.prebuilt) * child.per_kit
    assert ledger_drift() == []
    call_command("check_inventory")
