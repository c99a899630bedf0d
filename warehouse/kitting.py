"""Build-kit tasks: kits assembled ahead of orders.

The merchant (or an operator) asks for N kits built at a warehouse (``kit_task_create``). Staff of that
warehouse see the open tasks on a tablet screen, open one, scan each component unit (``kit_task_scan``; the
screen may post a count with the scan for a case) and confirm how many kits they built (``kit_task_confirm``; partial builds allowed, the task stays open for the rest). Each
confirmation moves stock through ``inventory.services.kit_build`` (components off their shelves, kit units on
hand, waiting kit orders filled) and that service emits ``inventory.kits_built`` with the task id, which
billing prices as kitting.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from inventory import selectors as inv_selectors
from inventory import services as inv
from inventory.exceptions import InventoryError
from inventory.models import Location, Product, Warehouse
from warehouse.exceptions import WarehouseError
from warehouse.models import KitBuildTask
from warehouse.services import ScanRefused, ScanResult, _product_matches, _scan_once


def kit_task_create(
    *, merchant, kit: Product, warehouse: Warehouse, quantity: int, user=None, notes: str = ""
):
    """Asks the warehouse to build ``quantity`` kits ahead. Only the merchant's own kits, in a warehouse that
    may hold its stock."""
    mid = merchant if isinstance(merchant, int) else merchant.pk
    if kit.merchant_id != mid or not kit.is_kit:
        raise WarehouseError("Choose one of your kits.")
    if quantity is None or quantity < 1:
        raise WarehouseError("Ask for at least one kit.")
    if quantity > 10000:
        raise WarehouseError("Ask for at most 10,000 kits per task.")
    if not Warehouse.objects.visible_to(mid).filter(pk=warehouse.pk, is_active=True).exists():
        raise WarehouseError("That warehouse is not available.")
    if not inv_selectors.kit_components(kit=kit):
        raise WarehouseError(f"{kit.sku} has no components yet.")
    task = KitBuildTask.objects.create(
        merchant_id=mid,
        warehouse=warehouse,
        kit=kit,
        quantity=quantity,
        notes=notes[:255],
        requested_by=user if getattr(user, "pk", None) else None,
    )
    audit_record(
        obj_type="kit_build_task",
        obj_id=task.pk,
        action="create",
        merchant_id=mid,
        after={"sku": kit.sku, "warehouse": warehouse.code, "quantity": quantity},
    )
    return task


def kit_task_cancel(*, task: KitBuildTask) -> KitBuildTask:
    with transaction.atomic():
        locked = KitBuildTask.objects.select_for_update().get(pk=task.pk)
        if locked.status != KitBuildTask.Status.OPEN:
            raise WarehouseError("This task is no longer open.")
        locked.status = KitBuildTask.Status.CANCELLED
        locked.done_at = timezone.now()
        locked.save(update_fields=["status", "done_at"])
        audit_record(
            obj_type="kit_build_task",
            obj_id=locked.pk,
            action="cancel",
            merchant_id=locked.merchant_id,
            after={"built": locked.built_quantity},
        )
    return locked


def kit_task_recipe(task: KitBuildTask) -> list[dict]:
    """Per component: what one kit needs, what the remaining kits need, what was scanned so far."""
    scanned = task.scanned or {}
    rows = []
    for comp, per in inv_selectors.kit_components(kit=task.kit):
        rows.append(
            {
                "product": comp,
                "per_kit": per,
                "needed": per * task.remaining,
                "scanned": int(scanned.get(str(comp.pk), 0)),
            }
        )
    return rows


def kits_ready(task: KitBuildTask) -> int:
    """Whole kits the scanned components make (at most the kits still to build)."""
    rows = kit_task_recipe(task)
    if not rows:
        return 0
    return min(task.remaining, *[r["scanned"] // r["per_kit"] for r in rows])


def kit_task_scan(*, task: KitBuildTask, user, scan_id: str, code: str, quantity: int = 1) -> ScanResult:
    """One component scan (``quantity`` units of it, default 1). A unit that is not in the kit, or more than
    the remaining kits need, is refused. Idempotent by ``scan_id``."""

    def run() -> ScanResult:
        locked = KitBuildTask.objects.select_for_update().select_related("kit").get(pk=task.pk)
        if locked.status != KitBuildTask.Status.OPEN:
            raise ScanRefused("This task is no longer open.")
        rows = kit_task_recipe(locked)
        row = next((r for r in rows if _product_matches(code, r["product"])), None)
        if row is None:
            if _product_matches(code, locked.kit):
                raise ScanRefused(f"That is a built {locked.kit.sku}. Scan its components.")
            raise ScanRefused(f"Not a component of {locked.kit.sku}.")
        n = quantity if quantity and quantity > 0 else 1
        if row["scanned"] + n > row["needed"]:
            raise ScanRefused(
                f"Only {row['needed'] - row['scanned']} more of {row['product'].sku} are needed."
            )
        scanned = dict(locked.scanned or {})
        scanned[str(row["product"].pk)] = row["scanned"] + n
        locked.scanned = scanned
        if locked.taken_by_id is None and getattr(user, "pk", None):
            locked.taken_by = user
        locked.save(update_fields=["scanned", "taken_by"])
        ready = kits_ready(locked)
        return ScanResult(
            True,
            f"{row['scanned'] + n} of {row['needed']} {row['product'].sku}. Kits ready to confirm: {ready}.",
        )

    return _scan_once(scan_id=scan_id, user=user, screen="kit_build", code=code, fn=run)


def kit_task_confirm(
    *, task: KitBuildTask, user, quantity: int, location: Location | None = None
) -> KitBuildTask:
    """The associate built ``quantity`` kits from the scanned components: stock moves through
    ``inventory.kit_build`` (which emits ``inventory.kits_built``); the task is done once every kit is built."""
    if quantity is None or quantity < 1:
        raise WarehouseError("Enter how many kits you built.")
    with transaction.atomic():
        locked = KitBuildTask.objects.select_for_update().select_related("kit", "warehouse").get(pk=task.pk)
        if locked.status != KitBuildTask.Status.OPEN:
            raise WarehouseError("This task is no longer open.")
        ready = kits_ready(locked)
        if quantity > ready:
            raise WarehouseError(
                f"Scanned components make {ready} kit(s); scan the components of every kit you built."
            )
        try:
            inv.kit_build(
                merchant=locked.merchant_id,
                kit=locked.kit,
                warehouse=locked.warehouse,
                quantity=quantity,
                location=location,
                task_id=locked.pk,
            )
        except InventoryError as exc:
            raise WarehouseError(str(exc)) from exc
        scanned = dict(locked.scanned or {})
        for comp, per in inv_selectors.kit_components(kit=locked.kit):
            key = str(comp.pk)
            scanned[key] = max(0, int(scanned.get(key, 0)) - per * quantity)
        locked.scanned = scanned
        locked.built_quantity += quantity
        fields = ["scanned", "built_quantity"]
        if locked.built_quantity >= locked.quantity:
            locked.status = KitBuildTask.Status.DONE
            locked.done_at = timezone.now()
            fields += ["status", "done_at"]
        locked.save(update_fields=fields)
        audit_record(
            obj_type="kit_build_task",
            obj_id=locked.pk,
            action="build",
            merchant_id=locked.merchant_id,
            after={"built": quantity, "built_total": locked.built_quantity, "status": locked.status},
        )
    return locked


def kit_task_confirm_scan(*, task: KitBuildTask, user, scan_id: str, quantity: int) -> ScanResult:
    """The tablet's "built N kits" button: ``kit_task_confirm`` once per ``scan_id`` (a retried tap is
    answered from the first one, so kits are never built twice)."""

    def run() -> ScanResult:
        try:
            done = kit_task_confirm(task=task, user=user, quantity=quantity)
        except WarehouseError as exc:
            raise ScanRefused(str(exc)) from exc
        if done.status == KitBuildTask.Status.DONE:
            return ScanResult(
                True, f"Built {quantity} × {done.kit.sku}. Task done: {done.built_quantity} built."
            )
        return ScanResult(
            True,
            f"Built {quantity} × {done.kit.sku}. {done.remaining} more to build ({done.built_quantity} done).",
        )

    return _scan_once(scan_id=scan_id, user=user, screen="kit_build", code=f"confirm:{quantity}", fn=run)
