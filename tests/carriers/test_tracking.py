"""Tracking: the signed webhook (401 on a bad signature, idempotent on the event id), order status through
the orders workflow, and the poll for trackers that went quiet."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from fulfil.models import OutboxEvent
from integrations.carriers import selectors, services, tasks
from integrations.carriers.easypost import webhooks
from integrations.carriers.models import Shipment, TrackingEvent, WebhookEvent

from .conftest import BOX, WAREHOUSE

pytestmark = pytest.mark.django_db
URL = "/integrations/carriers/easypost/webhooks/"
SECRET = "sécret"


@pytest.fixture
def shipment(merchant_a, order_a, four_accounts, fake_easypost, settings):
    settings.EASYPOST_WEBHOOK_SECRET = SECRET
    return services.shipment_buy_label(
        merchant=merchant_a, order=order_a, parcel=BOX, from_warehouse=WAREHOUSE
    )


def tracker_event(shipment, *, event_id="evt_1", status="in_transit", details=None) -> dict:
    """An EasyPost ``tracker.updated`` Event, the shape of the documented webhook body."""
    details = details or [
        {
            "object": "TrackingDetail",
            "message": "Picked up",
            "description": "Picked up",
            "status": "in_transit",
            "status_detail": "arrived_at_facility",
            "datetime": "2026-11-20T19:27:00Z",
            "source": "USPS",
            "carrier_code": "PU",
            "tracking_location": {
                "object": "TrackingLocation",
                "city": "ORLANDO",
                "state": "FL",
                "country": "US",
                "zip": "32809",
            },
        }
    ]
    return {
        "description": "tracker.updated",
        "mode": "test",
        "previous_attributes": {"status": "pre_transit"},
        "created_at": "2026-11-20T19:30:00.000Z",
        "pending_urls": ["https://fulfil.example/integrations/carriers/easypost/webhooks/"],
        "completed_urls": [],
        "updated_at": "2026-11-20T19:30:00.000Z",
        "id": event_id,
        "user_id": "user_1",
        "status": "pending",
        "object": "Event",
        "result": {
            "id": shipment.provider_tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": shipment.tracking_number,
            "status": status,
            "status_detail": "arrived_at_facility",
            "created_at": "2026-11-19T14:45:27Z",
            "updated_at": "2026-11-20T19:26:51Z",
            "signed_by": None,
            "weight": 15.4,
            "est_delivery_date": "2026-11-23T00:00:00Z",
            "shipment_id": shipment.provider_shipment_id,
            "carrier": "USPS",
            "tracking_details": details,
            "carrier_detail": None,
            "finalized": status == "delivered",
            "is_return": False,
            "public_url": "https://track.easypost.com/abc",
        },
    }


def post(client, body: bytes, signature: str | None):
    headers = {"HTTP_X_HMAC_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, body, content_type="application/json", **headers)


def test_known_answer_signature():
    """EasyPost's published known answer: HMAC-SHA256 over the body with the NFKD-normalised secret."""
    body = b'{"id":"evt_1"}'
    assert webhooks.signature(body, SECRET) == webhooks.signature(body, "se\u0301cret")  # NFKD
    assert webhooks.verify(body, webhooks.signature(body, SECRET), ["other", SECRET])
    assert not webhooks.verify(body, webhooks.signature(body, "wrong"), [SECRET])
    assert not webhooks.verify(body, None, [SECRET])
    assert not webhooks.verify(body, "sha1=abc", [SECRET])


def test_signed_webhook_updates_tracking_and_ships_the_order(
    client, shipment, order_a, django_capture_on_commit_callbacks
):
    body = json.dumps(tracker_event(shipment)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, webhooks.signature(body, SECRET))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "event": "evt_1"}

    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT
    assert shipment.shipped_at.isoformat() == "2026-11-20T19:27:00+00:00"
    event = TrackingEvent.objects.get(shipment=shipment)
    assert (event.status, event.message, event.location) == (
        "in_transit",
        "Picked up",
        "ORLANDO, FL, 32809, US",
    )
    order_a.refresh_from_db()
    assert order_a.status == "shipped"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    updated = OutboxEvent.objects.get(event_type="carrier.tracking_updated")
    assert updated.payload == {
        "shipment_id": shipment.pk,
        "order_id": order_a.pk,
        "merchant_id": order_a.merchant_id,
        "from": "purchased",
        "to": "in_transit",
        "tracking_number": shipment.tracking_number,
        "public_url": "https://track.easypost.com/abc",
    }


def test_same_event_twice_changes_nothing_the_second_time(
    client, shipment, django_capture_on_commit_callbacks
):
    body = json.dumps(tracker_event(shipment)).encode()
    signature = webhooks.signature(body, SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, signature)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, body, signature)
    assert response.json()["duplicate"] is True
    assert callbacks == []
    assert WebhookEvent.objects.count() == 1
    assert TrackingEvent.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type="carrier.tracking_updated").count() == 1


def test_bad_or_missing_signature_is_401_and_changes_nothing(client, shipment, order_a):
    body = json.dumps(tracker_event(shipment)).encode()
    for signature in (None, webhooks.signature(body, "not the secret"), "hmac-sha256-hex=00", ""):
        assert post(client, body, signature).status_code == 401
    tampered = body.replace(b"in_transit", b"delivered")
    assert post(client, tampered, webhooks.signature(body, SECRET)).status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert TrackingEvent.objects.count() == 0
    shipment.refresh_from_db()
    order_a.refresh_from_db()
    assert (shipment.status, order_a.status) == ("purchased", "packed")


def test_signed_garbage_is_400(client, shipment):
    for body in (b"not json", b'{"object": "Shipment"}', b"[]"):
        assert post(client, body, webhooks.signature(body, SECRET)).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_account_webhook_secret_also_verifies(client, shipment, settings, django_capture_on_commit_callbacks):
    settings.EASYPOST_WEBHOOK_SECRET = ""
    services.carrier_account_update(account=shipment.account, webhook_secret="merchant-secret")
    body = json.dumps(tracker_event(shipment)).encode()
    assert post(client, body, webhooks.signature(body, SECRET)).status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, webhooks.signature(body, "merchant-secret")).status_code == 200


def test_delivery_then_out_of_order_in_transit_does_not_regress(
    client, shipment, order_a, django_capture_on_commit_callbacks
):
    delivered_details = [
        {
            "object": "TrackingDetail",
            "message": "Picked up",
            "status": "in_transit",
            "datetime": "2026-11-20T10:00:00Z",
            "tracking_location": {},
        },
        {
            "object": "TrackingDetail",
            "message": "Out for delivery",
            "status": "out_for_delivery",
            "datetime": "2026-11-22T08:00:00Z",
            "tracking_location": {},
        },
        {
            "object": "TrackingDetail",
            "message": "Delivered, front door",
            "status": "delivered",
            "datetime": "2026-11-22T14:05:00Z",
            "tracking_location": {},
        },
    ]
    for event_id, status, details in (
        ("evt_d", "delivered", delivered_details),
        ("evt_late", "in_transit", None),
    ):
        body = json.dumps(tracker_event(shipment, event_id=event_id, status=status, details=details)).encode()
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, body, webhooks.signature(body, SECRET)).status_code == 200
    shipment.refresh_from_db()
    order_a.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    assert shipment.delivered_at.isoformat() == "2026-11-22T14:05:00+00:00"
    assert shipment.shipped_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert order_a.status == "delivered"
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 4
    perf = selectors.shipping_performance(merchant=order_a.merchant)
    assert perf == {"labels": 1, "delivered": 1, "on_time": 1, "on_time_rate": 1.0, "exceptions": 0}


def test_exception_status_is_recorded_and_emitted(client, shipment, django_capture_on_commit_callbacks):
    details = [
        {
            "object": "TrackingDetail",
            "message": "Address not found",
            "status": "failure",
            "datetime": "2026-11-21T10:00:00Z",
            "tracking_location": {},
        }
    ]
    body = json.dumps(tracker_event(shipment, status="failure", details=details)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, body, webhooks.signature(body, SECRET))
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.EXCEPTION
    assert OutboxEvent.objects.get(event_type="carrier.tracking_updated").payload["to"] == "exception"


def test_event_for_an_unknown_tracker_is_ignored(client, shipment, django_capture_on_commit_callbacks):
    payload = tracker_event(shipment)
    payload["result"].update(id="trk_other", tracking_code="1Z999", shipment_id="shp_other")
    body = json.dumps(payload).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, webhooks.signature(body, SECRET)).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert event.error == "no shipment for tracking number 1Z999"


def test_poll_for_quiet_trackers(shipment, fake_easypost, order_a):
    fake_easypost.tracker_status[shipment.tracking_number] = "in_transit"
    Shipment.objects.filter(pk=shipment.pk).update(purchased_at=timezone.now() - timedelta(days=2))
    assert tasks.poll_quiet_trackers() == 1
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT
    assert shipment.last_tracking_at is not None
    assert fake_easypost.calls("GET", f"/v2/trackers/{shipment.provider_tracker_id}")
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    # now fresh: not polled again
    assert tasks.poll_quiet_trackers() == 0
