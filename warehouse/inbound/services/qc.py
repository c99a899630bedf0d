"""Quality control at receiving: checklists, sample sizes and inspections (failed units to quarantine)."""

from __future__ import annotations

import math
import random
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.exceptions import InventoryError
from inventory.models import Product
from warehouse.inbound import inv as inv
from warehouse.inbound.models import QcChecklist, QcInspection, ReceivingSession
from warehouse.inbound.selectors import qc_checklist_for
from warehouse.inbound.services._common import FloorError, _mid

EV_QC_FAILED = "inbound.qc_failed"


# --- Quality control ----------------------------------------------------------------------------------


def qc_sample_size(*, received: int, rate_pct: int) -> int:
    if received <= 0 or rate_pct <= 0:
        return 0
    return min(received, max(1, math.ceil(received * rate_pct / 100)))


def qc_checklist_create(
    *, merchant, name: str, category: str = "", items: list[str], sample_rate_pct: int = 10
) -> QcChecklist:
    items = [i.strip() for i in items if i.strip()]
    if not items:
        raise ValidationError({"items": ["At least one check."]})
    if not 0 <= sample_rate_pct <= 100:
        raise ValidationError({"sample_rate_pct": ["Between 0 and 100."]})
    with transaction.atomic():
        checklist = QcChecklist.objects.create(
            merchant=merchant, name=name, category=category, items=items, sample_rate_pct=sample_rate_pct
        )
        audit_record(
            obj_type="inbound.qc_checklist",
            obj_id=checklist.pk,
            action="created",
            merchant_id=_mid(merchant),
            after={"name": name, "category": category, "items": items, "sample_rate_pct": sample_rate_pct},
        )
    return checklist


def qc_inspection_record(
    *,
    session: ReceivingSession,
    product: Product,
    results: dict[str, bool],
    sampled: int,
    failed: int = 0,
    notes: str = "",
    corrective_action: str = "",
    client_scan_id: str = "",
    user=None,
) -> QcInspection:
    """Records the checks on a sample. Failed units move to quarantine (through inventory) and the
    merchant is told."""
    checklist = qc_checklist_for(product=product)
    if checklist is None:
        raise FloorError(f"No QC checklist applies to {product.sku}.")
    if client_scan_id:
        prior = QcInspection.objects.filter(session=session, client_scan_id=client_scan_id).first()
        if prior is not None:
            return prior
    if sampled <= 0 or failed < 0 or failed > sampled:
        raise ValidationError({"failed": ["Between 0 and the sampled units."]})
    passed = failed == 0 and all(results.get(item, False) for item in checklist.items)
    if not passed and failed == 0:
        failed = 1  # a failed check with no unit count quarantines the inspected unit
    with transaction.atomic():
        inspection = QcInspection.objects.create(
            merchant_id=session.merchant_id,
            checklist=checklist,
            session=session,
            product=product,
            client_scan_id=client_scan_id,
            sampled=sampled,
            failed=failed if not passed else 0,
            results={item: bool(results.get(item, False)) for item in checklist.items},
            passed=passed,
            notes=notes,
            corrective_action=corrective_action,
            inspector=user if getattr(user, "is_authenticated", False) else None,
        )
        if not passed:
            try:
                inv.stock_move(
                    merchant=session.merchant_id,
                    product=product,
                    from_location=inv.receiving_location(session.warehouse_id),
                    to_location=inv.quarantine_location(session.warehouse_id),
                    quantity=failed,
                    reason=f"QC failed: {', '.join(k for k, v in inspection.results.items() if not v) or notes}",
                    reference=f"qc:{inspection.pk}",
                )
            except InventoryError as exc:
                raise FloorError(f"Could not quarantine the failed units: {exc}") from exc
            outbox.emit(
                EV_QC_FAILED,
                {
                    "merchant_id": session.merchant_id,
                    "inspection_id": inspection.pk,
                    "product_id": product.pk,
                    "inbound_shipment_id": session.shipment_id,
                    "failed": failed,
                },
                merchant_id=session.merchant_id,
            )
            transaction.on_commit(partial(_send_qc_failure, inspection_id=inspection.pk))
        audit_record(
            obj_type="inbound.qc_inspection",
            obj_id=inspection.pk,
            action="passed" if passed else "failed",
            merchant_id=session.merchant_id,
            after={"sku": product.sku, "sampled": sampled, "failed": inspection.failed},
        )
    return inspection


def _send_qc_failure(*, inspection_id: int) -> None:
    from warehouse.inbound.notifications import send_qc_failure

    send_qc_failure(inspection_id=inspection_id)


def qc_should_sample(*, product: Product, received: int, rng: random.Random | None = None) -> int:
    """How many of ``received`` units to inspect now (0 when no checklist applies)."""
    checklist = qc_checklist_for(product=product)
    if checklist is None:
        return 0
    return qc_sample_size(received=received, rate_pct=checklist.sample_rate_pct)
