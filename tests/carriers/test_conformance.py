"""Conformance: the real recorded EasyPost responses (vendor fixtures) through our client, mapper and webhook
receiver, and the fake's bodies compared key for key with the recordings. Skips without the fixtures."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml

from integrations.carriers.base import Address, Parcel, ShipOptions
from integrations.carriers.easypost import mapper, webhooks
from integrations.carriers.easypost.client import EasyPostCarrier
from integrations.carriers.exceptions import RejectedProviderError
from integrations.carriers.models import Shipment, TrackingEvent, WebhookEvent

from .conftest import make_account, make_order

pytestmark = [pytest.mark.conformance]

SHIP_FROM = Address(
    name="Jack Sparrow",
    street1="388 Townsend St",
    street2="Apt 20",
    city="San Francisco",
    state="CA",
    postal_code="94107",
)
SHIP_TO = Address(
    name="Elizabeth Swan", street1="179 N Harbor Dr", city="Redondo Beach", state="CA", postal_code="90277"
)


def cassette(vendor_fixtures, name):
    with open(vendor_fixtures / "easypost" / "cassettes" / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["interactions"]


def body(interaction):
    return json.loads(interaction["response"]["body"]["string"])


def carrier_for(fake, **kw):
    return EasyPostCarrier(api_key="EZTK-replay", api_base=fake.api_base, timeout=5, **kw)


def test_webhook_known_answer_hmac(vendor_fixtures):
    lib = json.loads((vendor_fixtures / "easypost" / "fixtures" / "client-library-fixtures.json").read_text())
    raw = (vendor_fixtures / "easypost" / "fixtures" / "event-body.json").read_bytes().rstrip(b"\n")
    expected = lib["webhooks"]["hmac_signature"]
    assert webhooks.signature(raw, lib["webhooks"]["secret"]) == expected
    assert webhooks.verify(raw, expected, [lib["webhooks"]["secret"]])
    assert not webhooks.verify(raw + b" ", expected, [lib["webhooks"]["secret"]])


@pytest.mark.django_db
def test_real_event_body_through_the_receiver(
    vendor_fixtures, client, settings, merchant_a, django_capture_on_commit_callbacks
):
    lib = json.loads((vendor_fixtures / "easypost" / "fixtures" / "client-library-fixtures.json").read_text())
    raw = (vendor_fixtures / "easypost" / "fixtures" / "event-body.json").read_bytes().rstrip(b"\n")
    settings.EASYPOST_WEBHOOK_SECRET = lib["webhooks"]["secret"]
    order = make_order(merchant_a)
    shipment = Shipment.objects.create(
        merchant=merchant_a,
        order=order,
        idempotency_key="k",
        carrier="fedex",
        service="FEDEX_GROUND",
        status=Shipment.Status.PURCHASED,
        tracking_number="1",
        provider_tracker_id="trk_1",
    )
    url = "/integrations/carriers/easypost/webhooks/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, raw, content_type="application/json", HTTP_X_HMAC_SIGNATURE=lib["webhooks"]["hmac_signature"]
        )
    assert response.status_code == 200
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.IN_TRANSIT
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 7
    assert shipment.est_delivery_at.isoformat() == "2024-08-05T00:00:00+00:00"
    assert WebhookEvent.objects.get().event_id == "evt_1"
    order.refresh_from_db()
    assert order.status == "shipped"
    # the same recorded body with a wrong signature is refused
    response = client.post(
        url, raw, content_type="application/json", HTTP_X_HMAC_SIGNATURE="hmac-sha256-hex=00"
    )
    assert response.status_code == 401


@pytest.mark.parametrize("name", ["tracking-webhook.json", "tracking_webhook_response.json"])
def test_documented_tracker_events_parse(vendor_fixtures, name):
    payload = json.loads((vendor_fixtures / "easypost" / "guides" / name).read_text())
    notice = webhooks.parse(payload)
    assert notice.kind == "tracking"
    assert notice.tracking.status == "delivered"
    assert notice.tracking.tracking_number == "EZ4000000004"
    assert notice.tracking.carrier == "ups"
    assert notice.tracking.details[-1].status == "delivered"


def test_replayed_shipment_create_and_buy_through_the_real_client(vendor_fixtures, fake_easypost):
    fake_easypost.replay(vendor_fixtures / "easypost" / "cassettes" / "test_shipment_buy.yaml")
    connector = carrier_for(fake_easypost)
    rates = connector.rates(
        parcel=Parcel(weight_g=437, length_mm=254, width_mm=203, height_mm=102),
        from_address=SHIP_FROM,
        to_address=SHIP_TO,
        options=ShipOptions(label_format="PNG"),
    )
    assert rates.provider_shipment_id == "shp_16578f588f9546ec914afd2474e24ff5"
    by_service = {r.service: r for r in rates.rates}
    assert set(by_service) == {"Express", "Priority", "GroundAdvantage"}
    ground = by_service["GroundAdvantage"]
    assert (ground.carrier, ground.amount, ground.delivery_days, ground.guaranteed) == (
        "usps",
        Decimal("6.07"),
        3,
        False,
    )

    label = connector.buy(rate=ground, options=ShipOptions(label_format="PNG"))
    assert label.tracking_number == "9400100208303109505657"
    assert label.label_format == "PNG"
    assert label.label_url.endswith("e813a2cf6d079c4ea49714758be7711be0.png")
    assert [(f.type, f.amount) for f in label.fees] == [
        ("LabelFee", Decimal("0.00")),
        ("PostageFee", Decimal("6.07")),
    ]
    assert label.tracking.provider_tracker_id == "trk_279431562ef84af89555e5c8a2029b2f"


def test_replayed_refund_scan_form_tracker_and_error(vendor_fixtures, fake_easypost):
    for name in ("test_shipment_refund.yaml", "test_scanform_create.yaml", "test_tracker_create.yaml"):
        fake_easypost.replay(vendor_fixtures / "easypost" / "cassettes" / name)
    connector = carrier_for(fake_easypost)
    assert (
        connector.void(provider_shipment_id="shp_700d2963c43b4847883c955eeb846b13").refund_status
        == "submitted"
    )
    form = connector.manifest(provider_shipment_ids=["shp_c1dd0ad87cfc4a038e632cb27d1d88a6"])
    assert form.provider_id == "sf_8eeeea1e23b44a8388cbb85b12595f46"
    assert form.tracking_numbers == ("9400100208303109505725",)
    tracking = connector.track(tracking_number="EZ1000000001", carrier="usps")
    assert (tracking.status, len(tracking.details)) == ("pre_transit", 2)
    assert tracking.details[1].location == "HOUSTON, TX, 77063"
    fake_easypost.replays.clear()
    fake_easypost.replay(vendor_fixtures / "easypost" / "cassettes" / "test_error.yaml")
    with pytest.raises(RejectedProviderError) as exc:
        connector.rates(
            parcel=Parcel(weight_g=10), from_address=SHIP_FROM, to_address=SHIP_TO, options=ShipOptions()
        )
    assert exc.value.status == 422
    assert "Missing required parameter." in exc.value.message


def test_recorded_address_verifications_map_to_valid_and_unverifiable(vendor_fixtures):
    verified = body(cassette(vendor_fixtures, "test_address_verify.yaml")[1])["address"]
    check = mapper.address_check_from_ep(SHIP_FROM, verified)
    assert (check.valid, check.proposed) == (True, None)  # upper case and ZIP+4 only
    failed = body(cassette(vendor_fixtures, "test_address_create_verify.yaml")[1])
    bad = Address(
        company="EasyPost", street1="000 unknown street", city="Not A City", state="ZZ", postal_code="00001"
    )
    check = mapper.address_check_from_ep(bad, failed)
    assert (check.valid, check.messages) == (False, ("Address not found",))


def _keys(obj):
    return set(obj) if isinstance(obj, dict) else set()


@pytest.mark.django_db
def test_fake_bodies_have_the_recorded_shapes(vendor_fixtures, fake_easypost, merchant_a):
    """The fake's Shipment/Rate/PostageLabel/Tracker/Fee/ScanForm/Address have the recorded keys."""
    recorded_buy = body(cassette(vendor_fixtures, "test_shipment_buy.yaml")[1])
    recorded_create = body(cassette(vendor_fixtures, "test_shipment_create.yaml")[0])
    recorded_form = body(cassette(vendor_fixtures, "test_scanform_create.yaml")[1])
    recorded_tracker = body(cassette(vendor_fixtures, "test_tracker_create.yaml")[0])
    recorded_address = body(cassette(vendor_fixtures, "test_address_create_verify.yaml")[1])

    account = make_account(fake_easypost, carrier="usps", key="EZTK-shape")
    fake_create = fake_easypost.create_shipment(
        account.api_key, {"shipment": {"parcel": {"weight": 15.4}, "to_address": {}}}
    )
    assert _keys(fake_create) == _keys(recorded_create)
    assert _keys(fake_create["rates"][0]) == _keys(recorded_create["rates"][0])
    assert _keys(fake_create["parcel"]) == _keys(recorded_create["parcel"])
    assert _keys(fake_create["from_address"]) == _keys(recorded_create["from_address"])
    status, fake_buy = fake_easypost.buy(fake_create["id"], {"rate": {"id": fake_create["rates"][0]["id"]}})
    assert status == 200
    assert _keys(fake_buy["postage_label"]) == _keys(recorded_buy["postage_label"])
    assert _keys(fake_buy["fees"][0]) == _keys(recorded_buy["fees"][0])
    assert _keys(fake_buy["tracker"]) - {"finalized", "is_return"} == _keys(recorded_buy["tracker"])
    assert _keys(fake_easypost.scan_form({"scan_form": {"shipment": [{"id": fake_create["id"]}]}})) == _keys(
        recorded_form
    )
    fake_tracker = fake_easypost._tracker("EZ1000000001", "USPS", None)
    assert _keys(fake_tracker) - {"fees"} == _keys(recorded_tracker)
    assert _keys(fake_tracker["tracking_details"][0]) == _keys(recorded_tracker["tracking_details"][0])
    fake_address = fake_easypost.verify_address(
        {"address": {"street1": "000 unknown street"}, "verify": True}
    )
    assert _keys(fake_address) == _keys(recorded_address)
    assert fake_address["verifications"]["delivery"]["errors"][0]["code"] == "E.ADDRESS.NOT_FOUND"
