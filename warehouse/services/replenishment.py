"""Replenishment: an associate takes a task and moves units from reserve to the pick face by scan."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from inventory import services as inv
from inventory.models import StockQuant
from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.models import ReplenishmentTask
from warehouse.services.scans import ScanResult, _location_matches, _scan_once

# --- Replenishment -------------------------------------------------------------------------------------------


def replenishment_take(*, task: ReplenishmentTask, user) -> ReplenishmentTask:
    """An associate takes a replenishment task (idempotent for the same person; someone else's is refused)."""
    with transaction.atomic():
        locked = ReplenishmentTask.objects.select_for_update().get(pk=task.pk)
        if locked.status != ReplenishmentTask.Status.OPEN:
            raise WarehouseError("This replenishment is already done.")
        if locked.taken_by_id and locked.taken_by_id != user.pk:
            raise WarehouseError("Someone else is doing this replenishment.")
        if locked.taken_by_id is None:
            locked.taken_by = user
            locked.save(update_fields=["taken_by"])
            audit_record(
                obj_type="warehouse.ReplenishmentTask",
                obj_id=locked.pk,
                action="take",
                merchant_id=locked.merchant_id,
                after={"user": user.pk},
            )
    return locked


def replenishment_scan(*, task: ReplenishmentTask, user, scan_id: str, code: str) -> ScanResult:
    """Scan the from-location (reserve), then the pick face: the units move (inventory's ``stock_move``) and
    the task is done. Moves what the task asks for, or what the reserve still holds if that is less."""

    def run() -> ScanResult:
        locked = (
            ReplenishmentTask.objects.select_for_update(of=("self",))
            .select_related("product", "from_location", "to_location")
            .get(pk=task.pk)
        )
        if locked.status != ReplenishmentTask.Status.OPEN:
            raise ScanRefused("This replenishment is done.")
        if locked.taken_by_id != user.pk:
            raise ScanRefused("Take the task first.")
        src, dst = locked.from_location, locked.to_location
        if src is None:
            raise ScanRefused("No reserve location holds this product.")
        if not locked.from_confirmed:
            if not _location_matches(code, src):
                raise ScanRefused(f"Wrong location. Go to {src.code}.")
            locked.from_confirmed = True
            locked.save(update_fields=["from_confirmed"])
            return ScanResult(
                True, f"{src.code} OK. Take {locked.quantity} × {locked.product.sku} to {dst.code}."
            )
        if not _location_matches(code, dst):
            if _location_matches(code, src):
                return ScanResult(True, f"{src.code} OK. Now scan the pick face {dst.code}.")
            raise ScanRefused(f"Wrong location. Put them into {dst.code}.")
        held = sum(
            StockQuant.objects.filter(product=locked.product, location=src).values_list("quantity", flat=True)
        )
        qty = min(locked.quantity, held)
        if qty <= 0:
            raise ScanRefused(f"{src.code} holds no {locked.product.sku}: ask for a count.")
        inv.stock_move(
            merchant=locked.merchant_id,
            product=locked.product,
            from_location=src,
            to_location=dst,
            quantity=qty,
            reason="replenishment",
            reference=f"replenish:{locked.pk}",
        )
        locked.status, locked.moved_quantity, locked.done_at = (
            ReplenishmentTask.Status.DONE,
            qty,
            timezone.now(),
        )
        locked.save(update_fields=["status", "moved_quantity", "done_at"])
        audit_record(
            obj_type="warehouse.ReplenishmentTask",
            obj_id=locked.pk,
            action="done",
            merchant_id=locked.merchant_id,
            after={"moved": qty, "from": src.code, "to": dst.code},
        )
        return ScanResult(True, f"Done: {qty} × {locked.product.sku} into {dst.code}.")

    return _scan_once(scan_id=scan_id, user=user, screen="replen", code=code, fn=run)
