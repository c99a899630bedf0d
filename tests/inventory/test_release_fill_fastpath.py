"""The one-call release (``inventory_release_fill``) on Postgres: what it returns and emits beyond the units —
the low-stock products it touched, the ``available_changed`` events of the product and of the kits containing
it — exactly as the general path would."""

import pytest

from fulfil import outbox
from fulfil.models import OutboxEvent
from inventory import services
from inventory.models import KitComponent, LowStockAlert, StockLevel
from inventory.reconcile import ledger_drift
from inventory.services import fastpath
from tests.conftest import requires_postgres
from tests.factories import MerchantFactory
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_dispatch(monkeypatch):
    monkeypatch.setattr(outbox, "_enqueue", lambda **kw: None)


def test_release_reports_touched_products_with_a_threshold_and_resolves_the_alert(no_dispatch):
    # given a product with a low-stock threshold of 5, 6 on hand, 3 of them reserved (an open alert)
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="LOWR")
    product = ProductFactory(merchant=merchant, sku="LOWR-1", low_stock_threshold=5)
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=6)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=3, reference="lr:1")
    assert LowStockAlert.objects.filter(product=product, resolved_at__isnull=True).count() == 1
    # when the reference is released through the one call
    result = fastpath.release_fast(merchant_id=merchant.pk, reference="lr:1")
    # then it names the product (the caller re-checks it) and the service path resolves the alert
    assert (result.done, result.freed, result.low_stock_product_ids) == (True, 3, [product.pk])
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=3, reference="lr:2")
    assert services.stock_release(merchant=merchant, reference="lr:2") == 3
    assert not LowStockAlert.objects.filter(product=product, resolved_at__isnull=True).exists()
    assert ledger_drift() == []


def test_release_of_a_product_without_threshold_reports_none(no_dispatch):
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="NOTH")
    product = ProductFactory(merchant=merchant, sku="NOTH-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=4)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=2, reference="nt:1")
    result = fastpath.release_fast(merchant_id=merchant.pk, reference="nt:1")
    assert (result.done, result.freed, result.low_stock_product_ids) == (True, 2, [])
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert (level.on_hand, level.reserved) == (4, 0)


def test_release_emits_available_changed_for_the_product_and_its_kits(no_dispatch):
    # given a component used in a kit, reserved directly (not through the kit), and no event waiting
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="KITR")
    part = ProductFactory(merchant=merchant, sku="KITR-P")
    kit = ProductFactory(merchant=merchant, sku="KITR-K", is_kit=True)
    KitComponent.objects.create(kit=kit, component=part, quantity=2)
    services.stock_receive(merchant=merchant, product=part, warehouse=wh, quantity=5)
    services.stock_reserve(merchant=merchant, product=part, warehouse=wh, quantity=1, reference="kr:1")
    OutboxEvent.objects.all().delete()
    # when the reservation is released through the one call
    result = fastpath.release_fast(merchant_id=merchant.pk, reference="kr:1")
    # then one available_changed each for the component and the kit, in payload order
    assert (result.done, result.freed) == (True, 1)
    events = OutboxEvent.objects.filter(event_type=services.EV_AVAILABLE_CHANGED).order_by("pk")
    assert sorted((e.payload["product_id"], e.payload["warehouse_id"]) for e in events) == sorted(
        [(part.pk, wh.pk), (kit.pk, wh.pk)]
    )


def test_a_simple_release_that_fills_a_backorder_writes_one_available_changed(no_dispatch, monkeypatch):
    # given one unit on hand, reserved by "a", and "b" waiting for one; the waiting event claimed (dispatched)
    merchant = MerchantFactory()
    wh = WarehouseFactory(code="ONE1")
    product = ProductFactory(merchant=merchant, sku="ONE1-1")
    services.stock_receive(merchant=merchant, product=product, warehouse=wh, quantity=1)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="a")
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="b")
    OutboxEvent.objects.all().delete()
    enqueued: list[tuple[int, ...]] = []
    monkeypatch.setattr(outbox, "enqueue_on_commit", lambda ids: enqueued.append(tuple(ids)))
    # when "a" is released (the product is released and filled: one product and warehouse touched, twice)
    assert services.stock_release(merchant=merchant, reference="a") == 1
    # then "b" has the unit, one allocation_changed for it and ONE available_changed, both handed to the outbox
    level = StockLevel.objects.get(product=product, warehouse=wh)
    assert (level.reserved, level.backordered) == (1, 0)
    events = list(OutboxEvent.objects.order_by("pk"))
    assert [(e.event_type, e.payload) for e in events] == [
        (
            services.EV_ALLOCATION_CHANGED,
            {
                "merchant_id": merchant.pk,
                "reference": "b",
                "product_id": product.pk,
                "warehouse_id": wh.pk,
                "requested": 1,
                "allocated": 1,
            },
        ),
        (
            services.EV_AVAILABLE_CHANGED,
            {"merchant_id": merchant.pk, "product_id": product.pk, "warehouse_id": wh.pk},
        ),
    ]
    assert enqueued == [tuple(e.pk for e in events)]
    # and a second release folds into the waiting available_changed (no new row, nothing enqueued)
    services.stock_reserve(merchant=merchant, product=product, warehouse=wh, quantity=1, reference="c")
    enqueued.clear()
    assert services.stock_release(merchant=merchant, reference="b") == 1
    assert OutboxEvent.objects.filter(event_type=services.EV_AVAILABLE_CHANGED).count() == 1
    assert enqueued == [
        (OutboxEvent.objects.filter(event_type=services.EV_ALLOCATION_CHANGED).order_by("pk").last().pk,)
    ]
    assert ledger_drift() == []
