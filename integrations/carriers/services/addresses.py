"""Address verification: a carrier's correction becomes a proposal the merchant accepts or rejects."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record

from .. import selectors
from ..exceptions import ProviderError, ShipmentStateError
from ..models import AddressProposal
from ..registry import AccountConfig, ConnectorFactory, connector_for
from ._common import _as_address


def address_verify(
    *, merchant, address, order=None, connectors: ConnectorFactory | None = None
) -> AddressProposal:
    """Check an address with the carrier. A correction is stored as a proposal for the merchant to accept
    or reject; the order's address is never changed here."""
    original = _as_address(address)
    account = selectors.carrier_accounts_usable(merchant=merchant).order_by("-priority", "pk").first()
    if account is None:
        status, proposed, messages = (
            AddressProposal.Status.UNVERIFIABLE,
            {},
            ["no carrier account to verify with"],
        )
    else:
        connector = (connectors or connector_for)(AccountConfig.of(account))
        try:
            check = connector.verify_address(address=original)
        except ProviderError as exc:
            status, proposed, messages = AddressProposal.Status.UNVERIFIABLE, {}, [exc.message]
        else:
            messages = list(check.messages)
            if not check.valid:
                status, proposed = AddressProposal.Status.UNVERIFIABLE, {}
            elif check.proposed is not None:
                status, proposed = AddressProposal.Status.PROPOSED, check.proposed.as_dict()
            else:
                status, proposed = AddressProposal.Status.VALID, {}
    with transaction.atomic():
        proposal = AddressProposal.objects.create(
            merchant=merchant,
            order=order,
            original=original.as_dict(),
            proposed=proposed,
            messages=messages,
            status=status,
        )
        audit_record(
            obj_type="carriers.AddressProposal",
            obj_id=proposal.pk,
            action="address_checked",
            merchant_id=merchant.pk,
            after={"status": status, "proposed": proposed},
            message="; ".join(messages)[:300],
        )
        outbox.emit(
            "carrier.address_checked",
            {
                "merchant_id": merchant.pk,
                "order_id": order.pk if order is not None else None,
                "proposal_id": proposal.pk,
                "status": status,
                "proposed": proposed,
                "messages": messages,
            },
            merchant_id=merchant.pk,
        )
    return proposal


def address_proposal_decide(*, merchant, proposal: AddressProposal, accept: bool) -> AddressProposal:
    """The merchant's decision. Accepting emits ``carrier.address_accepted`` for the orders app to apply."""
    with transaction.atomic():
        proposal = AddressProposal.objects.for_merchant(merchant).select_for_update().get(pk=proposal.pk)
        if proposal.status != AddressProposal.Status.PROPOSED:
            raise ShipmentStateError("this address check has no open proposal")
        proposal.status = AddressProposal.Status.ACCEPTED if accept else AddressProposal.Status.REJECTED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        audit_record(
            obj_type="carriers.AddressProposal",
            obj_id=proposal.pk,
            action="accepted" if accept else "rejected",
            merchant_id=merchant.pk,
            before={"address": proposal.original},
            after={"address": proposal.proposed if accept else proposal.original},
        )
        if accept:
            if proposal.order_id:
                from orders.services import order_change_address

                order_change_address(order=proposal.order, address=proposal.proposed)
            outbox.emit(
                "carrier.address_accepted",
                {
                    "merchant_id": merchant.pk,
                    "order_id": proposal.order_id,
                    "proposal_id": proposal.pk,
                    "address": proposal.proposed,
                },
                merchant_id=merchant.pk,
            )
    return proposal
