"""Kitting is billed from the inventory engineer's ``inventory.kits_built`` event: the rate card's kitting fee per
kit, linked to the build-kit task, once per event (a task built in parts bills each part)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from billing.models import ChargeLine
from fulfil import outbox
from fulfil.models import OutboxEvent
from inventory import services as inv
from inventory.models import Location
from tests.inventory.factories import LocationFactory, ProductFactory, WarehouseFactory
from warehouse import kitting

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit_setup(merchant_a):
    wh = WarehouseFactory(code="WHK")
    shelf = LocationFactory(warehouse=wh, code="A-01-01-1-A", type=Location.Type.PICK)
    cup = ProductFactory(merchant=merchant_a, sku="CUP")
    lid = ProductFactory(merchant=merchant_a, sku="LID")
    kit = inv.product_create(
        merchant=merchant_a, sku="SET", name="Set", barcode="", components=[(cup, 2), (lid, 1)]
    )
    inv.stock_receive(merchant=merchant_a, product=cup, warehouse=wh, quantity=10, location=shelf)
    inv.stock_receive(merchant=merchant_a, product=lid, warehouse=wh, quantity=6, location=shelf)
    return wh, kit


def dispatch_all() -> list[str]:
    return [outbox.dispatch(pk) for pk in OutboxEvent.objects.filter(event_type="inventory.kits_built")
            .order_by("pk").values_list("pk", flat=True)]  # fmt: skip


def test_kits_built_in_parts_bill_the_kitting_fee_per_kit_linked_to_the_task(
    merchant_a, kit_setup, standard_card
):
    wh, kit = kit_setup
    task = kitting.kit_task_create(merchant=merchant_a, kit=kit, warehouse=wh, quantity=5)
    inv.kit_build(merchant=merchant_a, kit=kit, warehouse=wh, quantity=2, task_id=task.pk)
    inv.kit_build(merchant=merchant_a, kit=kit, warehouse=wh, quantity=1, task_id=task.pk)
    assert dispatch_all() == ["done", "done"]
    lines = list(ChargeLine.objects.for_merchant(merchant_a).filter(kind="kitting.kit").order_by("pk"))
    assert [(x.quantity, x.unit_price, x.amount) for x in lines] == [(D(2), D("1.00"), D("2.00")),
                                                                      (D(1), D("1.00"), D("1.00"))]  # fmt: skip
    assert [x.description for x in lines] == ["Kitting — 2 × SET at WHK", "Kitting — 1 × SET at WHK"]
    assert all(x.source == task and x.source_label == f"Kit build task {task.pk}" for x in lines)
    assert [x.event_id for x in lines] == list(
        OutboxEvent.objects.filter(event_type="inventory.kits_built")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # an event handled again (a retried delivery) bills nothing more
    from billing.handlers import bill_kits_built

    for ev in OutboxEvent.objects.filter(event_type="inventory.kits_built"):
        bill_kits_built(ev)
    assert ChargeLine.objects.filter(kind="kitting.kit").count() == 2


def test_kits_built_outside_a_task_link_to_the_kit(merchant_a, kit_setup, standard_card):
    wh, kit = kit_setup
    inv.kit_build(merchant=merchant_a, kit=kit, warehouse=wh, quantity=3)
    assert dispatch_all() == ["done"]
    line = ChargeLine.objects.get(kind="kitting.kit")
    assert (line.quantity, line.amount, line.source, line.source_label) == (
        D(3),
        D("3.00"),
        kit,
        "Kits built SET",
    )
