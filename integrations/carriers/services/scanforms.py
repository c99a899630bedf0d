"""Scan forms: the end-of-day manifest of an account's bought labels."""

from __future__ import annotations

import logging

from django.db import transaction

from fulfil.audit import audit_record

from ..exceptions import ProviderError, ShipmentStateError
from ..models import CarrierAccount, ScanForm, Shipment
from ..registry import AccountConfig, ConnectorFactory, connector_for

log = logging.getLogger(__name__)


def scanform_create(*, account: CarrierAccount, connectors: ConnectorFactory | None = None) -> ScanForm:
    """End-of-day manifest of the account's bought labels that are not on a scan form yet."""
    pending = list(
        Shipment.objects.filter(account=account, status=Shipment.Status.PURCHASED, scan_form__isnull=True)
        .exclude(provider_shipment_id="")
        .order_by("pk")
        .values_list("pk", "provider_shipment_id")
    )
    if not pending:
        raise ShipmentStateError(f"{account.name}: no labels waiting for a scan form")
    connector = (connectors or connector_for)(AccountConfig.of(account))
    result = connector.manifest(provider_shipment_ids=[sid for _, sid in pending])
    with transaction.atomic():
        form = ScanForm.objects.create(
            account=account,
            provider_id=result.provider_id,
            status=result.status,
            form_url=result.form_url,
            tracking_numbers=list(result.tracking_numbers),
        )
        Shipment.objects.filter(pk__in=[pk for pk, _ in pending], scan_form__isnull=True).update(
            scan_form=form
        )
        audit_record(
            obj_type="carriers.ScanForm",
            obj_id=form.pk,
            action="created",
            merchant_id=account.merchant_id,
            after={"account": account.pk, "labels": len(pending), "provider_id": result.provider_id},
        )
    return form


def scanforms_end_of_day(*, connectors: ConnectorFactory | None = None) -> list[ScanForm]:
    forms = []
    account_ids = (
        Shipment.objects.filter(
            status=Shipment.Status.PURCHASED, scan_form__isnull=True, account__isnull=False
        )
        .values_list("account_id", flat=True)
        .distinct()
    )
    for account in CarrierAccount.objects.filter(pk__in=list(account_ids), is_enabled=True).order_by("pk"):
        try:
            forms.append(scanform_create(account=account, connectors=connectors))
        except (ProviderError, ShipmentStateError):
            log.warning("scan form for account %s failed", account.pk, exc_info=True)
    return forms
