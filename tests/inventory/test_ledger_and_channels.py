import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fulfil.models import OutboxEvent
from inventory import selectors, services
from inventory.exceptions import AppendOnlyError
from inventory.models import ChannelAllocationRule, Location, StockMovement, StockQuant
from tests.inventory.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def test_ledger_is_append_only(merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a)
    m = services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=3)
    m.quantity = 30
    with pytest.raises(AppendOnlyError):
        m.save()
    with pytest.raises(AppendOnlyError):
        m.delete()
    with pytest.raises(AppendOnlyError):
        StockMovement.objects.filter(pk=m.pk).update(quantity=30)
    with pytest.raises(AppendOnlyError):
        StockMovement.objects.filter(pk=m.pk).delete()
    assert StockMovement.objects.get(pk=m.pk).quantity == 3


def test_check_inventory_reports_drift(merchant_a, capsys):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=5)
    call_command("check_inventory")
    assert "No drift" in capsys.readouterr().out
    StockQuant.objects.filter(product=p).update(
        quantity=4
    )  # someone edited a quantity behind the ledger's back
    with pytest.raises(CommandError) as exc:
        call_command("check_inventory")
    assert exc.value.returncode == 1
    assert "ledger says 5, stored 4" in capsys.readouterr().out


def test_available_to_sell_applies_buffer_rule_and_threshold(merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=50)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=10, reference="o1")
    assert selectors.available_to_sell(merchant=merchant_a, product=p, channel="shopify") == 40
    ChannelAllocationRule.objects.create(
        merchant=merchant_a, channel="amazon", rule="share", share_percent=50, buffer=4
    )
    assert (
        selectors.available_to_sell(merchant=merchant_a, product=p, channel="amazon") == 18
    )  # (40 − 4) × 50 %
    ChannelAllocationRule.objects.create(merchant=merchant_a, channel="ebay", rule="cap", cap=5)
    assert selectors.available_to_sell(merchant=merchant_a, product=p, channel="ebay") == 5
    ChannelAllocationRule.objects.create(merchant=merchant_a, channel="etsy", product=p, show_zero_below=41)
    assert selectors.available_to_sell(merchant=merchant_a, product=p, channel="etsy") == 0


def test_changes_emit_available_and_allocation_events(merchant_a):
    wh = WarehouseFactory(code="WH1")
    a = ProductFactory(merchant=merchant_a, sku="A")
    kit = services.product_create(merchant=merchant_a, sku="KIT", name="Kit", components=[(a, 2)])
    services.stock_reserve(
        merchant=merchant_a, product=a, warehouse=wh, quantity=2, reference="order_line:5", priority=1
    )
    OutboxEvent.objects.all().delete()
    services.stock_receive(merchant=merchant_a, product=a, warehouse=wh, quantity=5)
    events = list(OutboxEvent.objects.order_by("pk").values_list("event_type", "payload"))
    assert (
        "inventory.available_changed",
        {"merchant_id": merchant_a.pk, "product_id": a.pk, "warehouse_id": wh.pk},
    ) in events
    assert (
        "inventory.available_changed",
        {"merchant_id": merchant_a.pk, "product_id": kit.pk, "warehouse_id": wh.pk},
    ) in events
    assert (
        "inventory.allocation_changed",
        {
            "merchant_id": merchant_a.pk,
            "reference": "order_line:5",
            "product_id": a.pk,
            "warehouse_id": wh.pk,
            "requested": 2,
            "allocated": 2,
        },
    ) in events


def test_damaged_units_go_to_quarantine_and_are_never_available(merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=4, damaged=True)
    assert selectors.stock_available(merchant=merchant_a, product=p) == 0
    q = StockQuant.objects.get(product=p)
    assert q.location.type == Location.Type.QUARANTINE
    a = services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=1, reference="x")
    assert a.allocated == 0


def test_pick_candidates_pick_face_first_and_fefo_for_lots(merchant_a):
    import datetime as dt

    wh = WarehouseFactory(code="WH1")
    face = Location.objects.create(warehouse=wh, code="A-01-01-1-A", type="pick")
    bulk = Location.objects.create(warehouse=wh, code="A-01-01-2-A", type="reserve")
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=5, location=bulk)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=2, location=face)
    got = selectors.pick_candidates(merchant=merchant_a, product=p, warehouse=wh, quantity=4)
    assert [(c.location.code, c.quantity) for c in got] == [("A-01-01-1-A", 2), ("A-01-01-2-A", 2)]
    lots = ProductFactory(merchant=merchant_a, requires_lot_tracking=True)
    services.stock_receive(
        merchant=merchant_a,
        product=lots,
        warehouse=wh,
        quantity=3,
        location=face,
        lot="L2",
        expires_on=dt.date(2031, 1, 1),
    )
    services.stock_receive(
        merchant=merchant_a,
        product=lots,
        warehouse=wh,
        quantity=3,
        location=bulk,
        lot="L1",
        expires_on=dt.date(2030, 1, 1),
    )
    got = selectors.pick_candidates(merchant=merchant_a, product=lots, warehouse=wh, quantity=4)
    assert [(c.lot, c.quantity) for c in got] == [("L1", 3), ("L2", 1)]


def test_generate_layout_command(capsys):
    WarehouseFactory(code="WH9")
    call_command("generate_layout", "WH9", "3", "4", "2")
    assert (
        "29 locations created" in capsys.readouterr().out
    )  # 3×4×2 racks + dock, QC, returns, staging, packing
    loc = Location.objects.get(warehouse__code="WH9", code="A-02-03-1-A")
    assert (loc.type, loc.aisle, loc.bay, loc.level, loc.x, loc.y) == ("pick", 2, 3, 1, 4.5, 9.0)
    call_command("generate_layout", "WH9", "3", "4", "2")
    assert "0 locations created, 29 already there" in capsys.readouterr().out


def test_release_hands_freed_units_to_backorders_in_priority_order_with_events(merchant_a):
    wh = WarehouseFactory(code="WH1")
    p = ProductFactory(merchant=merchant_a)
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=3)
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=3, reference="first")
    services.stock_reserve(merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="old")
    services.stock_reserve(
        merchant=merchant_a, product=p, warehouse=wh, quantity=2, reference="vip", priority=9
    )
    OutboxEvent.objects.all().delete()
    assert services.stock_release(merchant=merchant_a, reference="first") == 3
    from inventory.models import Allocation, StockLevel

    got = {a.reference: (a.allocated, a.status) for a in Allocation.objects.filter(product=p)}
    assert got == {"first": (0, "closed"), "vip": (2, "open"), "old": (1, "open")}
    lv = StockLevel.objects.get(product=p, warehouse=wh)
    assert (lv.on_hand, lv.reserved, lv.backordered) == (3, 3, 1)
    changed = sorted(
        (e["reference"], e["allocated"])
        for e in OutboxEvent.objects.filter(event_type="inventory.allocation_changed").values_list(
            "payload", flat=True
        )
    )
    assert changed == [("old", 1), ("vip", 2)]
