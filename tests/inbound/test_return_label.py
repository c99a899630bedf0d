"""Return labels through the carriers layer, against the fake EasyPost server with the real ``easypost``
client: bought, stored on the return, shown; a carrier failure gives a clear message and creates nothing."""

from decimal import Decimal

import pytest

from fulfil.models import OutboxEvent
from integrations.carriers.models import Shipment
from orders.models import OrderException
from warehouse.inbound import services
from warehouse.inbound.models import ReturnAuthorization, ReturnLine

from .conftest import make_shipped_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(merchant_a, products, return_wh):
    return make_shipped_order(merchant_a, [(products["mug"], 2, Decimal("12.00"))])


@pytest.fixture
def labels_on(merchant_a, portal_a):
    return services.return_portal_update(
        merchant=merchant_a, enabled=True, window_days=30, allowed_reasons=[], prepaid_labels=True
    )


def open_on_portal(client, portal, products, key="k1"):
    client.post(f"/returns/{portal.token}/", {"number": "1001", "proof": "jack@example.com"})
    return client.post(
        f"/returns/{portal.token}/order/",
        {f"qty_{products['mug'].pk}": "1", "reason": "damaged", "request_key": key},
    )


def test_portal_buys_the_label_stores_and_shows_it(
    client, client_a, labels_on, products, order, return_wh, usps_account, fake_easypost
):
    response = open_on_portal(client, labels_on, products)
    assert response.status_code == 302
    rma = ReturnAuthorization.objects.get()
    shipment = Shipment.objects.get(pk=rma.label_shipment_id)
    assert shipment.status == Shipment.Status.PURCHASED
    assert shipment.order_id == order.pk
    assert shipment.idempotency_key == f"return:{order.pk}:portal:{order.pk}:k1"
    assert (rma.label_tracking, rma.label_url) == (shipment.tracking_number, shipment.label_url)
    assert rma.label_tracking
    assert rma.label_url.startswith("http")
    body = fake_easypost.calls("POST", "/v2/shipments")[0][3]["shipment"]
    assert body["from_address"]["street1"] == "388 Townsend St"  # from the customer
    assert body["to_address"]["street1"] == "179 N Harbor Dr"  # to the warehouse
    done = client.get(response["Location"]).content.decode()
    assert f'id="label-link" href="{rma.label_url}"' in done
    assert rma.label_tracking in done
    detail = client_a.get(f"/app/warehouse/inbound/returns/{rma.pk}/").content.decode()
    assert f'<span id="label-tracking">{rma.label_tracking}</span>' in detail
    assert "Buy a prepaid return label" not in detail


@pytest.mark.parametrize("fault", ["503", "422"])
def test_carrier_failure_is_a_clear_message_and_creates_nothing(
    client, labels_on, products, order, usps_account, fake_easypost, fault, django_capture_on_commit_callbacks
):
    fake_easypost.sticky[usps_account.api_key] = fault
    with django_capture_on_commit_callbacks(execute=True):
        response = open_on_portal(client, labels_on, products)
    assert response.status_code == 409
    # the failure is the return's, shown to the customer; the shipped order gets no label exception
    assert not OrderException.objects.filter(order=order).exists()
    event = OutboxEvent.objects.get(event_type="carrier.label_failed")
    assert event.payload["return_label"] is True
    assert event.dispatched_at is not None  # the orders handler ran and declined
    page = response.content.decode()
    assert "The return label could not be bought" in page
    assert "Nothing was created; try again." in page
    assert not ReturnAuthorization.objects.exists()
    assert not ReturnLine.objects.exists()

    del fake_easypost.sticky[usps_account.api_key]  # the carrier is back: the customer tries again
    again = client.post(
        f"/returns/{labels_on.token}/order/",
        {f"qty_{products['mug'].pk}": "1", "reason": "damaged", "request_key": "k1"},
    )
    assert again.status_code == 302
    rma = ReturnAuthorization.objects.get()
    assert rma.label_tracking
    assert Shipment.objects.filter(status=Shipment.Status.PURCHASED).count() == 1
    assert len(fake_easypost.calls("POST", "/v2/shipments/")) == 1  # one purchase (…/buy), never two


def test_merchant_buys_a_label_for_an_open_return(
    client_a, merchant_a, products, order, usps_account, fake_easypost
):
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="damaged", lines=[(products["mug"], 1)]
    )
    fake_easypost.sticky[usps_account.api_key] = "503"
    response = client_a.post(f"/app/warehouse/inbound/returns/{rma.pk}/label/", follow=True)
    assert "The return label could not be bought" in response.content.decode()
    rma.refresh_from_db()
    assert (rma.label_shipment_id, rma.label_tracking, rma.label_url) == (None, "", "")

    del fake_easypost.sticky[usps_account.api_key]
    response = client_a.post(f"/app/warehouse/inbound/returns/{rma.pk}/label/", follow=True)
    assert "Return label bought." in response.content.decode()
    rma.refresh_from_db()
    assert rma.label_tracking
    assert rma.label_url
    client_a.post(f"/app/warehouse/inbound/returns/{rma.pk}/label/")  # again: keeps the one label
    assert Shipment.objects.filter(status=Shipment.Status.PURCHASED).count() == 1


def test_api_return_with_label_failure_is_409_and_creates_nothing(
    api_a, merchant_a, products, order, usps_account, fake_easypost
):
    fake_easypost.sticky[usps_account.api_key] = "422"
    response = api_a.post(
        "/api/v1/returns/",
        {
            "order": order.pk,
            "reason": "damaged",
            "lines": [{"sku": "MUG", "quantity": 1}],
            "buy_label": True,
        },
        format="json",
    )
    assert response.status_code == 409
    assert "The return label could not be bought" in response.json()["detail"]
    assert not ReturnAuthorization.objects.exists()
