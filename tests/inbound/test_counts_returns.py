"""Blind cycle counts (recount, approval, adjustment) and returns (open, grade, process)."""

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfil.models import OutboxEvent
from inventory import services as inv
from inventory.models import StockLevel, StockMovement, StockQuant
from inventory.reconcile import ledger_drift
from orders.models import Order, OrderLine
from warehouse.inbound import services
from warehouse.inbound.models import CycleCount, ReturnAuthorization
from warehouse.inbound.services import FloorError

from .conftest import loc, make_product

pytestmark = pytest.mark.django_db


def stock(merchant, wh, product, code, qty, lot=""):
    inv.stock_receive(
        merchant=merchant, product=product, warehouse=wh, quantity=qty, location=loc(wh, code), lot=lot
    )


def test_small_variance_adjusts_at_once_with_reason(merchant_a, wh, products, associate):
    stock(merchant_a, wh, products["mug"], "A-01-01-1-A", 50)
    count, _ = services.count_create(location=loc(wh, "A-01-01-1-A"), product=products["mug"])
    count = services.count_submit(count=count, quantity=49, user=associate)
    assert count.status == CycleCount.Status.DONE
    assert (count.expected, count.variance) == (50, -1)
    mv = StockMovement.objects.get(reference=f"count:{count.pk}")
    assert mv.type == "count"
    assert "counted 49, system 50" in mv.reason
    assert StockQuant.objects.get(product=products["mug"], location=loc(wh, "A-01-01-1-A")).quantity == 49


def test_recount_then_manager_approval(merchant_a, wh, products, associate, manager):
    lamp = products["lamp"]  # 40.00 each
    stock(merchant_a, wh, lamp, "A-01-02-1-A", 20)
    count, _ = services.count_create(location=loc(wh, "A-01-02-1-A"), product=lamp)
    count = services.count_submit(count=count, quantity=12, user=associate)
    assert count.status == CycleCount.Status.RECOUNT
    assert StockQuant.objects.get(product=lamp, location=loc(wh, "A-01-02-1-A")).quantity == 20
    count = services.count_submit(count=count, quantity=14, user=associate)
    assert count.status == CycleCount.Status.APPROVAL
    assert count.variance_value == Decimal("240.00")
    with pytest.raises(PermissionDenied):
        services.count_approve(count=count, user=associate)
    assert StockQuant.objects.get(product=lamp, location=loc(wh, "A-01-02-1-A")).quantity == 20
    count = services.count_approve(count=count, user=manager)
    assert count.status == CycleCount.Status.DONE
    assert StockQuant.objects.get(product=lamp, location=loc(wh, "A-01-02-1-A")).quantity == 14
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_short_pick_event_opens_one_prioritised_count(merchant_a, wh, products):
    from warehouse.inbound.handlers import count_on_short_pick

    location = loc(wh, "A-01-03-1-A")
    for pk in (1, 2):
        event = OutboxEvent(
            pk=pk,
            event_type="warehouse.short_pick",
            payload={"location_id": location.pk, "product_id": products["mug"].pk},
        )
        count_on_short_pick(event)
    count = CycleCount.objects.get()
    assert count.reason == "short_pick"
    scheduled, _ = services.count_create(
        location=loc(wh, "A-01-04-1-A"), product=products["mug"], reason="scheduled"
    )
    assert count.priority > scheduled.priority


def test_schedule_classifies_and_opens_due_counts(merchant_a, wh, products):
    stock(merchant_a, wh, products["mug"], "A-01-01-1-A", 10)
    stock(merchant_a, wh, products["lamp"], "A-01-02-1-A", 10)
    counts = services.count_schedule_run(warehouse=wh)
    assert {c.product.sku for c in counts} == {"MUG", "LAMP"}
    assert services.count_schedule_run(warehouse=wh) == counts  # open counts are reused, not duplicated
    assert CycleCount.objects.count() == 2


def shipped_order(merchant, product, qty=2, price="15.00"):
    order = Order.objects.create(merchant=merchant, external_id="X1", number="1001", status="shipped")
    OrderLine.objects.create(
        order=order,
        product=product,
        sku=product.sku,
        quantity=qty,
        shipped_quantity=qty,
        unit_price=Decimal(price),
    )
    return order


def test_return_open_grade_and_process(merchant_a, wh, products, associate):
    mug = products["mug"]
    order = shipped_order(merchant_a, mug, qty=3)
    with pytest.raises(Exception, match="at most 3"):
        services.return_open(
            merchant=merchant_a, order=order, reason="damaged", lines=[(mug, 4)], warehouse=wh
        )
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="damaged", lines=[(mug, 3)], warehouse=wh
    )
    assert rma.number == "RMA-00001"
    services.return_receive_unit(rma=rma, client_scan_id="u1", product=mug, grade="restock", user=associate)
    services.return_receive_unit(rma=rma, client_scan_id="u1", product=mug, grade="restock")  # resent
    services.return_receive_unit(rma=rma, client_scan_id="u2", product=mug, grade="quarantine")
    services.return_receive_unit(rma=rma, client_scan_id="u3", product=mug, grade="dispose")
    with pytest.raises(FloorError):
        services.return_receive_unit(rma=rma, client_scan_id="u4", product=mug, grade="restock")
    level = StockLevel.objects.get(product=mug, warehouse=wh)
    assert (level.on_hand, level.quarantined) == (1, 1)
    rma = services.return_complete(rma=rma)
    assert rma.status == ReturnAuthorization.Status.PROCESSED
    assert rma.refund_amount == Decimal("45.00")
    event = OutboxEvent.objects.get(event_type="return.processed")
    assert event.payload["refund_amount"] == "45.00"
    assert sorted(u["grade"] for u in event.payload["units"]) == ["dispose", "quarantine", "restock"]
    assert ledger_drift(merchant_id=merchant_a.pk) == []


def test_unshipped_order_cannot_be_returned(merchant_a, wh, products):
    order = Order.objects.create(merchant=merchant_a, external_id="N1", number="1002", status="new")
    OrderLine.objects.create(order=order, product=products["mug"], sku="MUG", quantity=1)
    with pytest.raises(FloorError):
        services.return_open(
            merchant=merchant_a, order=order, reason="other", lines=[(products["mug"], 1)], warehouse=wh
        )
    assert not ReturnAuthorization.objects.exists()


# ------------------------------------------------------------------ the ledger never drifts

OPS = st.lists(
    st.tuples(
        st.sampled_from(["receive", "receive_damaged", "putaway", "count", "return"]),
        st.integers(min_value=0, max_value=12),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_no_sequence_of_floor_operations_breaks_the_ledger(ops, merchant_a, wh, manager):
    # Every example runs in the same test transaction, so each needs a SKU of its own.
    product = make_product(merchant_a, f"P-{uuid.uuid4().hex[:12]}")
    shipment = inv.inbound_create(merchant=merchant_a, warehouse=wh, lines=[(product, 5)])
    session = services.receiving_start(shipment=shipment)
    order = Order.objects.create(
        merchant=merchant_a, external_id=f"O{product.pk}", number=f"N{product.pk}", status="shipped"
    )
    OrderLine.objects.create(order=order, product=product, sku=product.sku, quantity=50, shipped_quantity=50)
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="other", lines=[(product, 50)], warehouse=wh
    )
    for i, (op, n) in enumerate(ops):
        qty = max(1, n)
        try:
            if op == "receive":
                services.receipt_record(
                    session=session, client_scan_id=f"r{i}", product=product, quantity=qty
                )
            elif op == "receive_damaged":
                services.receipt_record(
                    session=session,
                    client_scan_id=f"d{i}",
                    product=product,
                    quantity=qty,
                    damaged=True,
                    damage_note="x",
                )
            elif op == "putaway":
                task = (
                    session.receipts.last().putaways.filter(status="open").first()
                    if session.receipts.exists()
                    else None
                )
                if task and task.suggested_location:
                    services.putaway_confirm(task=task, location=task.suggested_location)
            elif op == "count":
                quant = StockQuant.objects.filter(
                    product=product, quantity__gt=0, location__type="pick"
                ).first()
                if quant:
                    count, _ = services.count_create(location=quant.location, product=product)
                    count = services.count_submit(count=count, quantity=n)
                    if count.status == "recount":
                        count = services.count_submit(count=count, quantity=n)
                    if count.status == "approval":
                        services.count_approve(count=count, user=manager, approve=n % 2 == 0)
            elif op == "return":
                services.return_receive_unit(
                    rma=rma,
                    client_scan_id=f"u{i}",
                    product=product,
                    grade=["restock", "refurbish", "quarantine", "dispose"][n % 4],
                    quantity=min(qty, 3),
                )
        except FloorError:
            pass
        assert ledger_drift(merchant_id=merchant_a.pk) == []
        level = StockLevel.objects.get(product=product, warehouse=wh)
        assert level.on_hand >= level.reserved >= 0
