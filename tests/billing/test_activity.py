"""Billing from the other apps' real data and events: an order's estimate and actual cost, the costs API,
receiving, returns, storage-days, carrier invoice reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from billing import services
from billing.models import CarrierAdjustment, ChargeLine, OrderCost
from fulfil import outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def warehouse(db):
    from inventory.models import Warehouse

    return Warehouse.objects.create(code="COL1", name="Columbus", postal_code="43004", state="OH")


@pytest.fixture
def product(merchant_a):
    from inventory.models import Product

    return Product.objects.create(merchant=merchant_a, sku="MUG-1", name="Mug", weight_g=400, length_mm=120,
                                  width_mm=100, height_mm=100, status="active", fragile=True)  # fmt: skip


def make_order(merchant, product, *, qty=2, postal="94105", number="1001"):
    from orders.models import Order, OrderLine

    order = Order.objects.create(merchant=merchant, external_id=f"ext-{number}", number=number,
                                 ship_to_postal_code=postal, ship_to_country="US", shipping_service="standard")  # fmt: skip
    OrderLine.objects.create(order=order, product=product, sku=product.sku, quantity=qty)
    return order


def make_shipment(merchant, order, *, rate="11.20", tracking="9400TEST1"):
    from integrations.carriers.models import Shipment

    return Shipment.objects.create(merchant=merchant, order=order, carrier="usps", service="GroundAdvantage",
                                   status="purchased", idempotency_key=f"k-{tracking}", tracking_number=tracking,
                                   rate=D(rate), length_mm=203, width_mm=152, height_mm=102, weight_g=940)  # fmt: skip


def test_order_estimate_then_actual_cost_through_outbox_events(merchant_a, product, warehouse, standard_card):
    order = make_order(merchant_a, product)
    with transaction.atomic():
        ev = outbox.emit(
            "order.created", {"order_id": order.pk, "merchant_id": merchant_a.pk}, merchant_id=merchant_a.pk
        )
    assert outbox.dispatch(ev.pk) == "done"
    cost = OrderCost.objects.get(order_id=order.pk)
    est = cost.estimated
    assert (est["box"], est["zone"], est["service"]) == ("small_box", 8, "USPS Ground Advantage")
    # 3.25 + 0.75 (2nd unit) + 0.50 (2 picks) + 0.65 box + 0.75 fragile + 0.10 label + carrier + 5%
    carrier = D(next(ln["unit_price"] for ln in est["lines"] if ln["kind"] == "shipping"))
    assert carrier == D("10.5800")  # USPS GA zone 8, 3 lb (800 g + 140 g box = 2.07 lb, rounded up)
    assert cost.estimated_total == D("6.00") + D("10.58") + D("0.53")

    shipment = make_shipment(merchant_a, order)
    with transaction.atomic():
        ev = outbox.emit("order.shipped", {"order_id": order.pk, "merchant_id": merchant_a.pk,
                                           "shipment_id": shipment.pk}, merchant_id=merchant_a.pk)  # fmt: skip
    assert outbox.dispatch(ev.pk) == "done"
    lines = ChargeLine.objects.for_merchant(merchant_a)
    assert lines.count() == 8
    ship = lines.get(kind="shipping")
    assert ship.amount == D("11.20")
    assert ship.source == shipment  # opens down to the label
    assert lines.get(kind="pick.unit").source_id == str(order.pk)
    assert lines.get(kind="pick.unit").source_type == ContentType.objects.get_for_model(order)
    cost.refresh_from_db()
    assert cost.actual_total == D("6.00") + D("11.20") + D("0.56")
    assert cost.difference == cost.actual_total - cost.estimated_total
    # a replayed event bills nothing twice
    services.order_charge_shipped(merchant_id=merchant_a.pk, order_id=order.pk, shipment_id=shipment.pk)
    assert ChargeLine.objects.for_merchant(merchant_a).count() == 8


def test_costs_api_estimated_then_actual_and_404_for_foreign(api_a, api_b, merchant_a, product, warehouse,
                                                             standard_card):  # fmt: skip
    order = make_order(merchant_a, product, qty=1)
    r = api_a.get(f"/api/v1/orders/{order.pk}/costs/")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "estimated"
    assert body["actual"] is None
    assert body["estimated"]["fulfillment"] == "3.50"  # 3.25 + one pick 0.25
    assert body["estimated"]["surcharges"] == "0.75"
    assert body["currency"] == "USD"
    assert api_b.get(f"/api/v1/orders/{order.pk}/costs/").status_code == 404
    assert api_a.get("/api/v1/orders/999999/costs/").status_code == 404
    shipment = make_shipment(merchant_a, order, rate="9.00")
    services.order_charge_shipped(merchant_id=merchant_a.pk, order_id=order.pk, shipment_id=shipment.pk)
    body = api_a.get(f"/api/v1/orders/{order.pk}/costs/").json()
    assert body["status"] == "actual"
    assert body["actual"]["shipping"] == "9.55"  # 9.00 + 0.45 markup + 0.10 label
    assert body["difference"] is not None


def test_byo_carrier_account_shipping_is_pass_through(merchant_a, product, warehouse, standard_card):
    from integrations.carriers.models import CarrierAccount

    order = make_order(merchant_a, product, qty=1)
    shipment = make_shipment(merchant_a, order)
    acct = CarrierAccount.objects.create(merchant=merchant_a, name="My UPS", carrier="ups")
    type(shipment).objects.filter(pk=shipment.pk).update(account=acct)
    services.order_charge_shipped(merchant_id=merchant_a.pk, order_id=order.pk, shipment_id=shipment.pk)
    ship = ChargeLine.objects.get(kind="shipping")
    assert ship.amount == D("0.00")
    assert not ChargeLine.objects.filter(kind="shipping.markup").exists()


def test_receiving_bills_only_new_units(merchant_a, product, warehouse, standard_card):
    from inventory.models import InboundShipment, InboundShipmentLine

    asn = InboundShipment.objects.create(merchant=merchant_a, warehouse=warehouse, reference="ASN-7")
    line = InboundShipmentLine.objects.create(shipment=asn, product=product, quantity_expected=100,
                                              quantity_received=40)  # fmt: skip
    assert services.inbound_charge_received(merchant_id=merchant_a.pk, inbound_shipment_id=asn.pk) == 1
    assert services.inbound_charge_received(merchant_id=merchant_a.pk, inbound_shipment_id=asn.pk) == 0
    line.quantity_received, line.quantity_damaged = 95, 5
    line.save()
    assert services.inbound_charge_received(merchant_id=merchant_a.pk, inbound_shipment_id=asn.pk) == 1
    amounts = sorted(ChargeLine.objects.filter(kind="receiving.unit").values_list("amount", flat=True))
    assert amounts == [D("8.00"), D("12.00")]  # 40 then 60 units at 0.20
    assert ChargeLine.objects.filter(kind="receiving.unit").first().source == asn


def test_return_processed_event(merchant_a, standard_card):
    payload = {"merchant_id": merchant_a.pk, "rma_id": 77, "rma_number": "RMA-77", "reason": "damaged",
               "units": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]}  # fmt: skip
    assert services.return_charge_processed(merchant_id=merchant_a.pk, payload=payload) == 2
    assert services.return_charge_processed(merchant_id=merchant_a.pk, payload=payload) == 0
    assert sorted(ChargeLine.objects.values_list("amount", flat=True)) == [D("1.00"), D("3.00")]


def test_storage_day_per_location_with_long_term_surcharge(merchant_a, product, warehouse, standard_card):
    from inventory.models import Location, StockQuant

    reserve = Location.objects.create(warehouse=warehouse, code="R-01-01-1", type="reserve")
    pick = Location.objects.create(warehouse=warehouse, code="A-01-01-1-A", type="pick", bin="A")
    dock = Location.objects.create(warehouse=warehouse, code="DOCK", type="receiving")
    day = date(2025, 6, 1)
    old = datetime(2024, 1, 1, tzinfo=UTC)  # 517 days before the storage day
    StockQuant.objects.create(merchant=merchant_a, product=product, warehouse=warehouse, location=reserve,
                              quantity=100, received_at=old)  # fmt: skip
    StockQuant.objects.create(
        merchant=merchant_a, product=product, warehouse=warehouse, location=pick, quantity=5
    )
    StockQuant.objects.create(
        merchant=merchant_a, product=product, warehouse=warehouse, location=dock, quantity=9
    )
    assert services.storage_charge_day(day=day) == 3  # pallet, its long-term surcharge, bin; dock is free
    assert services.storage_charge_day(day=day) == 0  # idempotent per (day, location)
    lines = {ln.kind: ln for ln in ChargeLine.objects.all()}
    assert lines["storage.pallet"].amount == D("0.83")  # 25.00 / 30
    assert lines["storage.bin"].amount == D("0.13")  # 4.00 / 30
    assert lines["storage.pallet"].source == reserve
    assert "R-01-01-1 on 2025-06-01" in lines["storage.pallet"].description
    # the reserve stock is over 180 days old: 100 × 1.2 L = 4.2378 ft³ × 1.50 / 30
    assert lines["storage.long_term_cubic_foot"].amount == D("0.21")


def test_carrier_invoice_reweigh_passed_on_with_evidence(
    merchant_a, product, warehouse, standard_card, client_a
):
    order = make_order(merchant_a, product, qty=1)
    shipment = make_shipment(merchant_a, order, rate="9.00", tracking="1ZREWEIGH")
    services.order_charge_shipped(merchant_id=merchant_a.pk, order_id=order.pk, shipment_id=shipment.pk)
    csv_text = ("tracking_number,billed_amount,reason,billed_weight_oz,declared_weight_oz\n"
                "1ZREWEIGH,12.40,reweigh,48,33\n1ZUNKNOWN,5.00,,,\n")  # fmt: skip
    result = services.carrier_invoice_import(content=csv_text, import_ref="UPS-INV-1")
    assert result == {"matched": 1, "adjusted": 1, "unmatched": ["1ZUNKNOWN"], "unchanged": 0}
    again = services.carrier_invoice_import(content=csv_text, import_ref="UPS-INV-1")
    assert again["adjusted"] == 0
    adj = CarrierAdjustment.objects.get()
    assert adj.evidence["billed_weight_oz"] == "48"
    line = adj.charge_line
    assert line.amount == D("3.40")
    assert line.source == shipment
    page = client_a.get(f"/app/billing/lines/{line.pk}/").content.decode()
    assert "billed_weight_oz: 48" in page
    assert "matches" in page
