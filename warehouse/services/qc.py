"""Quality control at pick and pack: which unit is checked (a stable sample), recording an outcome, and
quarantining a failed unit without taking another order's stock. The screens' answers are
``picking.pick_qc`` and ``packing.pack_qc``."""

from __future__ import annotations

import hashlib

from django.db import transaction

from fulfil.audit import audit_record
from inventory import services as inv
from inventory.models import Allocation, Location, Product, StockMovement
from orders.models import Order
from warehouse import selectors
from warehouse.models import PickTask, QcChecklist, QcResult

# --- Quality control ----------------------------------------------------------------------------------------


def qc_record(
    *,
    checklist: QcChecklist,
    product: Product,
    user,
    failed_questions: list[str],
    reason: str = "",
    order: Order | None = None,
    location: Location | None = None,
    quantity: int = 1,
    pick_task: PickTask | None = None,
) -> QcResult:
    """Record a checklist outcome. A failure moves the unit(s) to quarantine (inventory's ``stock_move``)
    with the reason; a pass just records it."""
    passed = not failed_questions
    if not passed and not reason:
        reason = "; ".join(failed_questions)
    with transaction.atomic():
        quarantined = 0
        if not passed and location is not None:
            inv.stock_move(
                merchant=product.merchant_id,
                product=product,
                from_location=location,
                to_location=inv.quarantine_location(location.warehouse_id),
                quantity=quantity,
                reason=f"QC failed: {reason}"[:200],
                reference=f"qc:{checklist.pk}",
            )
            quarantined = quantity
        result = QcResult.objects.create(
            merchant_id=product.merchant_id,
            checklist=checklist,
            pick_task=pick_task,
            order=order,
            product=product,
            stage=checklist.stage,
            passed=passed,
            failed_questions=failed_questions,
            reason=reason,
            quarantined=quarantined,
            user=user,
        )
        audit_record(
            obj_type="warehouse.QcResult",
            obj_id=result.pk,
            action="qc_pass" if passed else "qc_fail",
            merchant_id=product.merchant_id,
            after={"product": product.sku, "failed": failed_questions, "quarantined": quarantined},
        )
    return result


def _sampled(checklist: QcChecklist, key: str) -> bool:
    """Whether this unit (task) is checked: a stable draw per key, so a repeated screen asks the same."""
    if checklist.sample_pct >= 100:
        return True
    digest = hashlib.sha256(f"{checklist.pk}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < checklist.sample_pct


def _answers(failed_questions: list[str]) -> list[str]:
    return [q.strip()[:200] for q in failed_questions if q and q.strip()][:20]


def qc_due_at_pick(task: PickTask) -> QcChecklist | None:
    """The picking checklist still to answer for a task (sampled per task; a pass ends it)."""
    checklist = selectors.qc_checklist_for(product_id=task.product_id, stage=QcChecklist.Stage.PICK)
    if checklist is None or not _sampled(checklist, f"pick:{task.pk}"):
        return None
    if QcResult.objects.filter(pick_task=task, stage=QcChecklist.Stage.PICK, passed=True).exists():
        return None
    return checklist


def _open_allocation(task: PickTask) -> Allocation | None:
    return Allocation.objects.filter(
        merchant_id=task.merchant_id,
        reference=task.line.reference,
        product_id=task.line.product_id,
        warehouse_id=task.batch.warehouse_id,
        parent__isnull=True,
        status=Allocation.Status.OPEN,
    ).first()


def _quarantine_reserved_unit(
    *, task: PickTask, checklist: QcChecklist, user, failed: list[str], reason: str, picked: bool
) -> QcResult:
    """One failed unit of a task goes to quarantine without taking another order's stock: the line's demand
    that is not (still) picked is released — for a unit already in packing that includes it, which inventory
    puts back where it was picked from — the unit is quarantined from its shelf (``qc_record``), and the
    same demand is reserved again (allocated from free stock, else backordered)."""
    order = task.batch_order.order
    if task.line.product is not None and task.line.product.is_kit:
        # a kit's reservation is in kits, the unit is a component: record it, keep the unit off the parcel
        return qc_record(
            checklist=checklist,
            product=task.product,
            user=user,
            failed_questions=failed,
            reason=f"{reason} (kit component: quarantine it by hand)".strip(),
            order=order,
            pick_task=task,
        )
    alloc = _open_allocation(task)
    keep = (alloc.picked - (1 if picked else 0)) if alloc is not None else 0
    rest = (alloc.requested - alloc.shipped - keep) if alloc is not None else 0
    if rest > 0:
        inv.stock_release(merchant=task.merchant_id, reference=task.line.reference, quantity=rest)
    location = task.location
    if picked:
        back = (
            StockMovement.objects.filter(
                merchant_id=task.merchant_id,
                reference=task.line.reference,
                product_id=task.product_id,
                type=StockMovement.Type.MOVE,
                from_location=inv.packing_location(task.batch.warehouse_id),
            )
            .order_by("-pk")
            .first()
        )
        location = back.to_location if back is not None else task.location
    result = qc_record(
        checklist=checklist,
        product=task.product,
        user=user,
        failed_questions=failed,
        reason=reason,
        order=order,
        location=location,
        quantity=1,
        pick_task=task,
    )
    if rest > 0:
        inv.stock_reserve(
            merchant=task.merchant_id,
            product=task.line.product,
            warehouse=task.batch.warehouse,
            quantity=rest,
            reference=task.line.reference,
            priority=max(-32768, min(32767, order.priority)),
            requested_at=order.placed_at,
        )
    return result
