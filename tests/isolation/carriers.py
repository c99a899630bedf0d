"""Carrier layer: shipments (pages, API), bring-your-own carrier accounts, address proposals."""

from integrations.carriers.models import AddressProposal, CarrierAccount, Shipment
from tests.isolation import Case


def _shipment(merchant):
    return Shipment.objects.create(
        merchant=merchant,
        idempotency_key=f"iso-{merchant.pk}",
        carrier="usps",
        service="GroundAdvantage",
        status=Shipment.Status.PURCHASED,
        tracking_number=f"9400ISO{merchant.pk:08d}",
    )


def _account(merchant):
    return CarrierAccount.objects.create(
        merchant=merchant, name=f"BYO UPS {merchant.slug}", carrier="ups", api_key="EZTK-isolation"
    )


def _proposal(merchant):
    return AddressProposal.objects.create(
        merchant=merchant,
        original={"street1": f"1 Iso Street {merchant.slug}", "postal_code": "10001"},
        proposed={"street1": f"1 ISO ST {merchant.slug.upper()}", "postal_code": "10001"},
        status=AddressProposal.Status.PROPOSED,
    )


CASES = [
    Case(
        name="carrier shipment",
        make=_shipment,
        marker=lambda s: s.tracking_number,
        html_lists=["/app/integrations/carriers/shipments/"],
        html_detail=lambda s: f"/app/integrations/carriers/shipments/{s.pk}/",
        api_lists=["/api/v1/shipments/"],
        api_detail=lambda s: f"/api/v1/shipments/{s.pk}/",
        api_writes=[
            ("post", lambda s: f"/api/v1/shipments/{s.pk}/void/", {}),
            ("post", lambda s: f"/app/integrations/carriers/shipments/{s.pk}/void/", {}),
        ],
    ),
    Case(
        name="carrier account (bring your own)",
        make=_account,
        marker=lambda a: a.name,
        html_lists=["/app/integrations/carriers/accounts/"],
        html_detail=lambda a: f"/app/integrations/carriers/accounts/{a.pk}/",
        api_writes=[
            ("post", lambda a: f"/app/integrations/carriers/accounts/{a.pk}/test/", {}),
            ("post", lambda a: f"/app/integrations/carriers/accounts/{a.pk}/toggle/", {}),
        ],
    ),
    Case(
        name="address proposal",
        make=_proposal,
        marker=lambda p: p.proposed["street1"],
        html_lists=["/app/integrations/carriers/addresses/"],
        api_writes=[
            ("post", lambda p: f"/app/integrations/carriers/addresses/{p.pk}/decide/", {"accept": "1"})
        ],
    ),
]
