"""Issues 5 + 4: the carrier layer's events reach the order book — a label that cannot be bought is an
exception on the order with the carriers' own message; delivered and delivery exceptions email the customer
per the merchant's switches (once per event)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fulfil import outbox
from fulfil.models import OutboxEvent
from integrations.carriers import services as carriers
from integrations.carriers.base import TrackingDetail, TrackingInfo
from integrations.carriers.exceptions import NoRateAvailable
from orders.models import CARRIER_LABEL, DELIVERY_EXCEPTION, OrderException, OrderSettings, OrderStatus
from tests.carriers.conftest import BOX, WAREHOUSE, make_account

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 20, 19, 27, tzinfo=UTC)


def buy(merchant, order):
    return carriers.shipment_buy_label(merchant=merchant, order=order, parcel=BOX, from_warehouse=WAREHOUSE)


def track(shipment, status, message="update"):
    return carriers.tracking_apply(
        shipment=shipment,
        info=TrackingInfo(
            tracking_number=shipment.tracking_number,
            status=status,
            details=(TrackingDetail(status=status, message=message, occurred_at=AT),),
        ),
    )


def test_no_rate_puts_the_carriers_message_on_the_order_and_in_the_queue(
    merchant_a, order_a, fake_easypost, client_a, django_capture_on_commit_callbacks
):
    fedex = make_account(fake_easypost, carrier="fedex", timeout_seconds=Decimal("0.30"))
    ups = make_account(fake_easypost, carrier="ups")
    fake_easypost.timeout_sleep = 0.6
    fake_easypost.sticky[fedex.api_key] = "timeout"
    fake_easypost.sticky[ups.api_key] = "422"
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NoRateAvailable) as raised:
        buy(merchant_a, order_a)
    message = str(raised.value)
    assert sorted(message.removeprefix("no rate available: ").split(", ")) == [
        "FedEx timeout",
        "UPS rejected dimensions",
    ]
    exc = OrderException.objects.get(order=order_a)
    assert (exc.reason, exc.detail, exc.blocking, exc.resolved_at) == (CARRIER_LABEL, message, False, None)
    order_a.refresh_from_db()
    assert order_a.status == OrderStatus.PACKED  # the order stays where it is; a person decides
    page = client_a.get("/app/orders/exceptions/").content.decode()
    assert "No shipping label" in page
    assert "FedEx timeout" in page
    assert "UPS rejected dimensions" in page
    detail = client_a.get(f"/app/orders/{order_a.pk}/").content.decode()
    assert "FedEx timeout" in detail

    # the same event handled again (a re-dispatch) changes nothing
    event = OutboxEvent.objects.get(event_type="carrier.label_failed")
    from orders.handlers import on_label_failed

    on_label_failed(event)
    assert OrderException.objects.filter(order=order_a).count() == 1
    from fulfil.audit import audit_list

    assert [e.action for e in audit_list(obj_type="order", obj_id=order_a.pk)] == ["order.label_failed"]

    # a later purchase resolves it
    fake_easypost.sticky.clear()
    make_account(fake_easypost, carrier="usps")
    with django_capture_on_commit_callbacks(execute=True):
        carriers.shipment_buy_label(
            merchant=merchant_a,
            order=order_a,
            parcel=BOX,
            from_warehouse=WAREHOUSE,
            idempotency_key="retry-1",
        )
    exc.refresh_from_db()
    assert exc.resolved_at is not None
    assert exc.resolution.startswith("label bought: usps 94001")


def test_delivered_emails_the_customer_once(
    merchant_a, order_a, four_accounts, fake_easypost, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shipment = buy(merchant_a, order_a)
        track(shipment, "in_transit", "Picked up")
    assert [m.subject for m in mailoutbox] == ["Your order #1001 has shipped"]
    with django_capture_on_commit_callbacks(execute=True):
        track(shipment, "delivered", "Delivered, front door")
    order_a.refresh_from_db()
    assert order_a.status == OrderStatus.DELIVERED
    assert [m.subject for m in mailoutbox] == [
        "Your order #1001 has shipped",
        "Your order #1001 was delivered",
    ]
    body = mailoutbox[-1].body
    assert "was delivered" in body
    assert shipment.tracking_number in body
    assert mailoutbox[-1].to == [order_a.ship_to_email]
    # re-running the event (a retried dispatch) sends nothing more
    event = OutboxEvent.objects.get(event_type="carrier.tracking_updated", payload__to="delivered")
    with django_capture_on_commit_callbacks(execute=True):
        from orders.handlers import on_tracking_updated

        on_tracking_updated(event)
    assert len(mailoutbox) == 2


def test_delivery_exception_raises_an_exception_and_emails(
    merchant_a, order_a, four_accounts, fake_easypost, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shipment = buy(merchant_a, order_a)
        track(shipment, "in_transit")
        track(shipment, "exception", "Address not found")
    assert mailoutbox[-1].subject == "A problem with the delivery of your order #1001"
    exc = OrderException.objects.get(order=order_a, reason=DELIVERY_EXCEPTION)
    assert exc.detail == f"The carrier reported a delivery exception for {shipment.tracking_number}."
    assert exc.resolved_at is None
    with django_capture_on_commit_callbacks(execute=True):
        track(shipment, "delivered")
    exc.refresh_from_db()
    assert exc.resolution == f"{shipment.tracking_number} delivered"
    assert mailoutbox[-1].subject == "Your order #1001 was delivered"


def test_switches_off_send_nothing(merchant_a, order_a, mailoutbox, django_capture_on_commit_callbacks):
    OrderSettings.objects.create(merchant=merchant_a, notify_delivered=False, notify_delivery_exception=False)
    for to in ("exception", "delivered"):
        with django_capture_on_commit_callbacks(execute=True):
            outbox.emit(
                "carrier.tracking_updated",
                {"shipment_id": 1, "order_id": order_a.pk, "merchant_id": merchant_a.pk, "from": "in_transit",
                 "to": to, "tracking_number": "9400X", "public_url": ""},
                merchant_id=merchant_a.pk,
            )  # fmt: skip
    assert mailoutbox == []
    assert OrderException.objects.get(order=order_a).resolution == "9400X delivered"


def test_a_foreign_merchants_event_is_ignored(
    merchant_a, merchant_b, order_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outbox.emit(
            "carrier.label_failed",
            {"shipment_id": 1, "order_id": order_a.pk, "merchant_id": merchant_b.pk, "message": "no rate"},
            merchant_id=merchant_b.pk,
        )
    assert not OrderException.objects.filter(order=order_a).exists()
