"""Address verification at order intake: a correction is proposed, never applied silently."""

from __future__ import annotations

import pytest

from fulfil.models import OutboxEvent
from integrations.carriers import services
from integrations.carriers.base import Address
from integrations.carriers.exceptions import ShipmentStateError
from integrations.carriers.models import AddressProposal

from .conftest import CUSTOMER, make_account

pytestmark = pytest.mark.django_db


def test_valid_address_needs_no_change(merchant_a, order_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    proposal = services.address_verify(merchant=merchant_a, address=order_a, order=order_a)
    assert proposal.status == AddressProposal.Status.VALID  # upper case and ZIP+4 are not corrections
    assert proposal.proposed == {}
    body = fake_easypost.calls("POST", "/v2/addresses")[0][3]
    assert body["verify"] is True
    assert body["address"]["street1"] == "388 Townsend St"


def test_correction_is_proposed_and_the_order_is_untouched_until_accepted(merchant_a, order_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    fake_easypost.address_corrections["388 TOWNSEND ST"] = {"zip": "94158-1234", "city": "SAN FRANCISCO"}
    proposal = services.address_verify(merchant=merchant_a, address=order_a, order=order_a)
    assert proposal.status == AddressProposal.Status.PROPOSED
    assert proposal.proposed["postal_code"] == "94158-1234"
    assert proposal.proposed["street1"] == "388 TOWNSEND ST APT 20"
    assert proposal.proposed["name"] == "Jack Sparrow"  # names are never "corrected"
    order_a.refresh_from_db()
    assert order_a.ship_to_postal_code == "94107"
    assert OutboxEvent.objects.get(event_type="carrier.address_checked").payload["status"] == "proposed"

    order_a.status = "validated"
    order_a.save(update_fields=["status"])
    services.address_proposal_decide(merchant=merchant_a, proposal=proposal, accept=True)
    order_a.refresh_from_db()
    assert order_a.ship_to_postal_code == "94158-1234"
    assert order_a.ship_to_street1 == "388 TOWNSEND ST APT 20"
    assert AddressProposal.objects.get(pk=proposal.pk).status == AddressProposal.Status.ACCEPTED
    with pytest.raises(ShipmentStateError):
        services.address_proposal_decide(merchant=merchant_a, proposal=proposal, accept=False)


def test_rejecting_keeps_the_address(merchant_a, order_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    fake_easypost.address_corrections["388 TOWNSEND ST"] = {"zip": "94158"}
    proposal = services.address_verify(merchant=merchant_a, address=order_a, order=order_a)
    services.address_proposal_decide(merchant=merchant_a, proposal=proposal, accept=False)
    order_a.refresh_from_db()
    assert order_a.ship_to_postal_code == "94107"
    assert not OutboxEvent.objects.filter(event_type="carrier.address_accepted").exists()


def test_unknown_address_is_unverifiable_with_the_carriers_message(merchant_a, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    bad = Address(
        company="EasyPost", street1="000 unknown street", city="Not A City", state="ZZ", postal_code="00001"
    )
    proposal = services.address_verify(merchant=merchant_a, address=bad)
    assert proposal.status == AddressProposal.Status.UNVERIFIABLE
    assert proposal.messages == ["Address not found"]


def test_provider_down_is_unverifiable_not_an_error(merchant_a, fake_easypost):
    account = make_account(fake_easypost, carrier="usps")
    fake_easypost.sticky[account.api_key] = "503"
    proposal = services.address_verify(merchant=merchant_a, address=CUSTOMER)
    assert proposal.status == AddressProposal.Status.UNVERIFIABLE
    assert proposal.messages == ["verify address: server error 503"]


def test_another_merchant_cannot_decide(merchant_a, merchant_b, fake_easypost):
    make_account(fake_easypost, carrier="usps")
    fake_easypost.address_corrections["388 TOWNSEND ST"] = {"zip": "94158"}
    proposal = services.address_verify(merchant=merchant_a, address=CUSTOMER)
    with pytest.raises(AddressProposal.DoesNotExist):
        services.address_proposal_decide(merchant=merchant_b, proposal=proposal, accept=True)
    assert AddressProposal.objects.get(pk=proposal.pk).status == AddressProposal.Status.PROPOSED
