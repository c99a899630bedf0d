"""A customer erased from the order book is erased from the order's shipments, address checks and label too."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from fulfil.models import AuditEntry
from integrations.carriers.models import AddressProposal, Shipment
from integrations.carriers.privacy import REDACTED, redact_address, shipments_redact
from orders.services import customer_redact
from tests.orders.test_redaction import make_order

pytestmark = pytest.mark.django_db

TO = {
    "name": "Ann Lee",
    "company": "Lee Outdoor LLC",
    "street1": "1 Main St",
    "street2": "",
    "city": "Boston",
    "state": "MA",
    "zip": "02110-1234",
    "country": "US",
    "phone": "+1 617 555 0100",
    "email": "ann@mail.example.com",
    "residential": True,
}


def shipment_for(order, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    shipment = Shipment.objects.create(
        merchant=order.merchant,
        order=order,
        idempotency_key=f"k-{order.pk}",
        carrier="ups",
        service="Ground",
        status=Shipment.Status.DELIVERED,
        tracking_number="1Z999",
        rate=Decimal("7.10"),
        to_address=dict(TO),
        label_url="https://labels.example/1.pdf",
    )
    shipment.label_file.save("label.pdf", ContentFile(b"%PDF Ann Lee 1 Main St"), save=True)
    AddressProposal.objects.create(
        merchant=order.merchant,
        order=order,
        original=dict(TO),
        proposed={**TO, "zip": "02110-1235"},
        status=AddressProposal.Status.ACCEPTED,
    )
    return shipment


def test_redact_address_keeps_country_state_and_postal_prefix():
    assert redact_address(TO) == {
        "name": REDACTED,
        "company": REDACTED,
        "street1": REDACTED,
        "street2": "",
        "city": REDACTED,
        "state": "MA",
        "zip": "021",
        "country": "US",
        "phone": REDACTED,
        "email": REDACTED,
        "residential": True,
    }


def test_customer_redact_reaches_shipments_proposals_and_the_label(
    merchant_a, tmp_path, settings, django_capture_on_commit_callbacks
):
    order = make_order(merchant_a)
    shipment = shipment_for(order, tmp_path, settings)
    label_path = shipment.label_file.path
    with django_capture_on_commit_callbacks(execute=True):
        customer_redact(merchant=merchant_a, channel="shopify", email="ann@mail.example.com")
    shipment.refresh_from_db()
    assert shipment.to_address == redact_address(TO)
    assert (shipment.label_file.name, shipment.label_url) == ("", "")
    assert not (tmp_path / label_path).exists()
    # what billing and claims need is still there
    assert (shipment.tracking_number, shipment.rate, shipment.carrier) == ("1Z999", Decimal("7.10"), "ups")
    proposal = AddressProposal.objects.get(order=order)
    assert proposal.original == redact_address(TO)
    assert proposal.proposed["zip"] == "021"
    text = json.dumps([proposal.original, proposal.proposed, shipment.to_address])
    assert "Ann" not in text
    assert "Main St" not in text
    entry = AuditEntry.objects.get(action="shipment.redacted")
    assert entry.after == {"rows": 2}


def test_shipments_redact_is_idempotent_and_scoped_to_the_merchant(
    merchant_a, merchant_b, tmp_path, settings
):
    mine = shipment_for(make_order(merchant_a), tmp_path, settings)
    other = shipment_for(make_order(merchant_b, external_id="2002"), tmp_path, settings)
    # the wrong merchant's id changes nothing
    assert shipments_redact(merchant_id=merchant_b.pk, order_id=mine.order_id) == 0
    assert shipments_redact(merchant_id=merchant_a.pk, order_id=mine.order_id) == 2
    assert shipments_redact(merchant_id=merchant_a.pk, order_id=mine.order_id) == 0
    other.refresh_from_db()
    assert other.to_address == TO
    assert AuditEntry.objects.filter(action="shipment.redacted").count() == 1
