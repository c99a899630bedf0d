"""Buying labels through the real client against the fake: never twice, failover, recovery, void, scan forms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfil.models import AuditEntry, OutboxEvent
from integrations.carriers import services
from integrations.carriers.base import ShipOptions
from integrations.carriers.exceptions import LabelPurchaseFailed, NoRateAvailable, ShipmentStateError
from integrations.carriers.models import RateQuote, ScanForm, Shipment

from .conftest import BOX, WAREHOUSE, make_account, make_order

pytestmark = pytest.mark.django_db


def buy(merchant, order, **kw):
    kw.setdefault("parcel", BOX)
    kw.setdefault("from_warehouse", WAREHOUSE)
    return services.shipment_buy_label(merchant=merchant, order=order, **kw)


def test_buy_label_stores_label_tracking_rate_fees_and_reason(
    merchant_a, order_a, four_accounts, fake_easypost, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shipment = buy(merchant_a, order_a)

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PURCHASED
    assert (shipment.carrier, shipment.service) == ("usps", "GroundAdvantage")
    assert shipment.rate == Decimal("6.07")
    assert shipment.price == Decimal("6.07")
    assert shipment.carrier_fees == Decimal("0.00")
    assert shipment.fees == [
        {"type": "LabelFee", "amount": "0.00", "charged": True, "refunded": False},
        {"type": "PostageFee", "amount": "6.07", "charged": True, "refunded": False},
    ]
    assert shipment.tracking_number.startswith("94001")
    assert shipment.provider_tracker_id.startswith("trk_")
    assert shipment.label_format == "PDF"
    assert shipment.label_url.endswith(f"/files/postage_label/{shipment.provider_shipment_id}.pdf")
    assert shipment.label_file.read().startswith(b"%PDF-1.4")
    assert shipment.chosen_reason == "cheapest: USPS GroundAdvantage 6.07 USD, 3 day(s)"
    assert shipment.order_id == order_a.pk
    assert list(order_a.shipments.all()) == [shipment]
    assert RateQuote.objects.get(shipment=shipment, chosen=True).service == "GroundAdvantage"
    event = OutboxEvent.objects.get(event_type="carrier.label_purchased")
    assert event.payload["tracking_number"] == shipment.tracking_number
    assert event.payload["price"] == "6.07"
    assert AuditEntry.objects.filter(object_type="carriers.Shipment", action="label_purchased").count() == 1
    # the request asked EasyPost for a 4x6 PDF label, with the order number as reference
    body = fake_easypost.calls("POST", "/v2/shipments")[0][3]["shipment"]
    assert body["options"]["label_format"] == "PDF"
    assert body["reference"] == "#1001"


def test_a_second_call_never_buys_again(merchant_a, order_a, four_accounts, fake_easypost):
    first = buy(merchant_a, order_a)
    second = buy(merchant_a, order_a)
    assert second.pk == first.pk
    assert second.tracking_number == first.tracking_number
    assert len([c for c in fake_easypost.calls("POST") if c[2].endswith("/buy")]) == 1
    assert Shipment.objects.count() == 1


def test_a_second_parcel_of_the_same_order_is_a_new_label(merchant_a, order_a, four_accounts, fake_easypost):
    first = buy(merchant_a, order_a)
    second = buy(merchant_a, order_a, idempotency_key=f"order:{order_a.pk}:parcel-2")
    assert second.pk != first.pk
    assert order_a.shipments.count() == 2


def test_zpl_account_gets_a_zpl_label(merchant_a, order_a, fake_easypost, django_capture_on_commit_callbacks):
    make_account(fake_easypost, carrier="usps", label_format="ZPL")
    with django_capture_on_commit_callbacks(execute=True):
        shipment = buy(merchant_a, order_a)
    shipment.refresh_from_db()
    assert shipment.label_format == "ZPL"
    assert shipment.label_file.name.endswith(".zpl")
    assert shipment.label_file.read().startswith(b"^XA")


def test_buy_fails_over_to_the_next_account_when_one_errors(merchant_a, order_a, fake_easypost):
    usps = make_account(fake_easypost, carrier="usps")
    make_account(fake_easypost, carrier="fedex")
    fake_easypost.sticky[usps.api_key] = ""  # rating works
    original = fake_easypost.buy

    def usps_broken(shipment_id, body):
        shipment = fake_easypost.shipments[shipment_id]
        if shipment["rates"] and shipment["rates"][0]["carrier"] == "USPS":
            return 402, {"error": {"code": "PAYMENT.REQUIRED", "message": "Insufficient funds", "errors": []}}
        return original(shipment_id, body)

    fake_easypost.buy = usps_broken
    fake_easypost.sticky.clear()
    shipment = buy(merchant_a, order_a)
    assert (shipment.carrier, shipment.service) == ("fedex", "FEDEX_GROUND")
    assert shipment.chosen_reason == (
        "cheapest: USPS GroundAdvantage 6.07 USD, 3 day(s); failed over after: USPS rejected Insufficient funds"
    )


def test_timeout_on_buy_checks_for_the_label_before_buying_elsewhere(merchant_a, order_a, fake_easypost):
    """The buy went through at EasyPost but the answer was lost: we adopt that label, buy nothing else."""
    make_account(fake_easypost, carrier="usps", timeout_seconds=Decimal("0.40"))
    make_account(fake_easypost, carrier="fedex")
    original = fake_easypost.buy

    def slow_buy(shipment_id, body):
        result = original(shipment_id, body)
        import time

        time.sleep(0.8)  # the client times out after buying happened
        return result

    fake_easypost.buy = slow_buy
    shipment = buy(merchant_a, order_a)
    assert shipment.carrier == "usps"
    assert shipment.status == Shipment.Status.PURCHASED
    bought = [s for s in fake_easypost.shipments.values() if s["postage_label"]]
    assert len(bought) == 1
    assert bought[0]["tracking_code"] == shipment.tracking_number


def test_crashed_attempt_is_recovered_from_the_provider(merchant_a, order_a, four_accounts, fake_easypost):
    shipment = buy(merchant_a, order_a)
    # simulate a crash after EasyPost bought but before we recorded: our row still says "buying", long ago
    from django.utils import timezone

    Shipment.objects.filter(pk=shipment.pk).update(
        status=Shipment.Status.BUYING,
        tracking_number="",
        purchased_at=None,
        updated_at=timezone.now() - services.BUYING_STALE_AFTER * 2,
    )
    again = buy(merchant_a, order_a)
    assert again.pk == shipment.pk
    assert again.status == Shipment.Status.PURCHASED
    assert again.tracking_number == shipment.tracking_number
    assert len([c for c in fake_easypost.calls("POST") if c[2].endswith("/buy")]) == 1


def test_purchase_in_progress_is_refused(merchant_a, order_a, four_accounts, fake_easypost):
    shipment = buy(merchant_a, order_a)
    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.BUYING, purchased_at=None)
    with pytest.raises(ShipmentStateError, match="already in progress"):
        buy(merchant_a, order_a)


def test_no_rate_marks_the_shipment_failed_with_the_reasons(merchant_a, order_a, fake_easypost):
    fedex = make_account(fake_easypost, carrier="fedex", timeout_seconds=Decimal("0.30"))
    ups = make_account(fake_easypost, carrier="ups")
    fake_easypost.timeout_sleep = 0.6
    fake_easypost.sticky[fedex.api_key] = "timeout"
    fake_easypost.sticky[ups.api_key] = "422"
    with pytest.raises(NoRateAvailable):
        buy(merchant_a, order_a)
    shipment = Shipment.objects.get()
    assert shipment.status == Shipment.Status.FAILED
    assert sorted(shipment.error.removeprefix("no rate available: ").split(", ")) == [
        "FedEx timeout",
        "UPS rejected dimensions",
    ]
    event = OutboxEvent.objects.get(event_type="carrier.label_failed")
    assert event.payload["order_id"] == order_a.pk


def test_every_candidate_failing_raises_and_keeps_nothing_bought(merchant_a, order_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    fake_easypost.buy = lambda sid, body: (
        422,
        {"error": {"code": "X", "message": "address invalid", "errors": []}},
    )
    with pytest.raises(LabelPurchaseFailed) as exc:
        buy(merchant_a, order_a)
    assert str(exc.value).startswith("label not bought: USPS rejected address invalid")
    assert Shipment.objects.get().status == Shipment.Status.FAILED


def test_insurance_and_signature_reach_easypost_and_the_fees(
    merchant_a, order_a, four_accounts, fake_easypost
):
    shipment = buy(
        merchant_a, order_a, options=ShipOptions(signature="signature", insurance_amount=Decimal("200"))
    )
    assert shipment.rate == Decimal("9.17")  # 6.07 + 3.10 signature
    assert shipment.carrier_fees == Decimal("2.00")  # insurance fee
    assert shipment.insurance_cost == Decimal("2.00")
    buy_body = next(c for c in fake_easypost.calls("POST") if c[2].endswith("/buy"))[3]
    assert buy_body["insurance"] == "200"


def test_void_refunds_the_label_once(merchant_a, order_a, four_accounts, fake_easypost):
    shipment = buy(merchant_a, order_a)
    voided = services.shipment_void(merchant=merchant_a, shipment=shipment)
    assert voided.status == Shipment.Status.VOIDED
    assert voided.refund_status == "submitted"
    assert services.shipment_void(merchant=merchant_a, shipment=shipment).status == Shipment.Status.VOIDED
    assert len(fake_easypost.calls("POST", f"/v2/shipments/{shipment.provider_shipment_id}/refund")) == 1
    assert OutboxEvent.objects.filter(event_type="carrier.label_voided").count() == 1


def test_void_refused_once_in_transit_changes_nothing(merchant_a, order_a, four_accounts, fake_easypost):
    shipment = buy(merchant_a, order_a)
    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.IN_TRANSIT)
    with pytest.raises(ShipmentStateError, match="in transit cannot be voided"):
        services.shipment_void(merchant=merchant_a, shipment=shipment)
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.IN_TRANSIT
    assert fake_easypost.calls("POST", f"/v2/shipments/{shipment.provider_shipment_id}/refund") == []


def test_void_of_another_merchants_shipment_is_not_found(merchant_a, merchant_b, order_a, four_accounts):
    shipment = buy(merchant_a, order_a)
    with pytest.raises(Shipment.DoesNotExist):
        services.shipment_void(merchant=merchant_b, shipment=shipment)
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.PURCHASED


def test_end_of_day_scan_form_per_account(merchant_a, four_accounts, fake_easypost):
    orders = [make_order(merchant_a, external_id=str(n)) for n in range(3)]
    shipments = [buy(merchant_a, o) for o in orders]
    services.shipment_void(merchant=merchant_a, shipment=shipments[2])
    forms = services.scanforms_end_of_day()
    assert len(forms) == 1
    form = forms[0]
    assert form.account == four_accounts["usps"]
    assert form.form_url.endswith(".pdf")
    assert sorted(form.tracking_numbers) == sorted(s.tracking_number for s in shipments[:2])
    assert set(Shipment.objects.filter(scan_form=form).values_list("pk", flat=True)) == {
        s.pk for s in shipments[:2]
    }
    with pytest.raises(ShipmentStateError, match="no labels waiting"):
        services.scanform_create(account=four_accounts["usps"])
    assert ScanForm.objects.count() == 1


def test_return_label_goes_from_the_customer_to_the_warehouse(
    merchant_a, order_a, four_accounts, fake_easypost
):
    from inventory.models import Warehouse

    warehouse = Warehouse.objects.create(
        code="RET",
        name="Returns",
        street1="179 N Harbor Dr",
        city="Redondo Beach",
        state="CA",
        postal_code="90277",
    )
    shipment = services.shipment_buy_label(
        merchant=merchant_a, order=order_a, parcel=None, return_to_warehouse=warehouse
    )
    assert shipment.status == Shipment.Status.PURCHASED
    assert shipment.idempotency_key == f"return:{order_a.pk}:parcel-1"
    body = fake_easypost.calls("POST", "/v2/shipments")[0][3]["shipment"]
    assert body["to_address"]["street1"] == "179 N Harbor Dr"
    assert body["from_address"]["street1"] == "388 Townsend St"
    assert body["parcel"]["weight"] == 17.6  # 500 g default when the products have no weight
