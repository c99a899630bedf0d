"""Picking: the picker takes a cart, scans locations and items along the route, reports shorts (re-allocated
or backordered, a recount asked for) and answers the picking checklist."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from inventory import services as inv
from inventory.selectors import pick_candidates
from orders import services as order_services
from orders.models import Order
from warehouse import selectors
from warehouse.exceptions import ScanRefused, WarehouseError
from warehouse.models import Batch, BatchOrder, FloorMetric, PickTask
from warehouse.routing import Stop, plan_route
from warehouse.services.qc import _answers, _quarantine_reserved_unit, qc_due_at_pick, qc_record
from warehouse.services.scans import ScanResult, _location_matches, _metric, _product_matches, _scan_once
from warehouse.services.waves import _rank

EV_SHORT_PICK = "warehouse.short_pick"


# --- Picking ------------------------------------------------------------------------------------------------


def batch_start(*, batch: Batch, user) -> Batch:
    """The picker takes the cart: orders go to ``picking``. Idempotent for the same picker."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == Batch.Status.PICKING and locked.picker_id == user.pk:
            return locked
        if locked.status != Batch.Status.OPEN:
            raise WarehouseError(f"Batch {locked.number} is {locked.get_status_display().lower()}.")
        locked.status, locked.picker, locked.started_at = Batch.Status.PICKING, user, timezone.now()
        locked.save(update_fields=["status", "picker", "started_at"])
        for bo in BatchOrder.objects.filter(batch=locked).select_related("order"):
            if bo.order.status in (Order.Status.RELEASED, Order.Status.PARTIALLY_SHIPPED):
                order_services.order_start_picking(order=bo.order)
        audit_record(obj_type="warehouse.Batch", obj_id=locked.pk, action="start", after={"picker": user.pk})
    return locked


def pick_scan(*, batch: Batch, user, scan_id: str, code: str, quantity: int | None = None) -> ScanResult:
    """A scan on the picking screen: first the location of the current task, then its item (each scan one
    unit, or ``quantity`` typed for many). Wrong location or item: refused with a plain message."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.PICKING:
            raise ScanRefused("This cart is not being picked.")
        task = (
            PickTask.objects.select_for_update()
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        loc, product = task.location, task.product
        mis_scan = {
            "kind": FloorMetric.Kind.MIS_SCAN,
            "warehouse_id": locked.warehouse_id,
            "user": user,
            "batch": locked,
            "value": 1.0,
            "merchant_id": task.merchant_id,
        }
        if not task.location_confirmed:
            if not _location_matches(code, loc):
                raise ScanRefused(f"Wrong location. Go to {loc.code}.", metric=mis_scan)
            task.location_confirmed = True
            task.save(update_fields=["location_confirmed"])
            return ScanResult(True, f"Location {loc.code} OK. Scan {product.sku}.")
        if qc_due_at_pick(task) is not None:
            raise ScanRefused(f"Check {product.sku} first: answer the quality checklist on the screen.")
        if not _product_matches(code, product):
            if _location_matches(code, loc):
                return ScanResult(True, f"Location {loc.code} OK. Scan {product.sku}.")
            raise ScanRefused(f"Wrong item. Pick {product.sku} — {product.name}.", metric=mis_scan)
        n = quantity if quantity else 1
        if n < 1 or n > task.remaining:
            raise ScanRefused(f"Only {task.remaining} more of {product.sku} for this tote.")
        task.picked_quantity += n
        fields = ["picked_quantity"]
        msg = f"{task.picked_quantity} of {task.quantity} {product.sku} → tote {task.batch_order.tote}."
        if task.remaining == 0:
            _complete(task, user)
            fields += ["status", "picked_by", "picked_at"]
            msg = f"Done: {task.quantity} × {product.sku} into tote {task.batch_order.tote}."
        task.save(update_fields=fields)
        _maybe_finish(locked, user)
        return ScanResult(True, msg)

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code=code, fn=run)


def _complete(task: PickTask, user) -> None:
    if task.picked_quantity:
        inv.stock_pick(
            merchant=task.merchant_id,
            reference=task.line.reference,
            product=task.product,
            location=task.location,
            quantity=task.picked_quantity,
            lot=task.lot,
        )
        _metric(
            FloorMetric.Kind.PICK,
            warehouse_id=task.batch.warehouse_id,
            user=user,
            value=task.picked_quantity,
            lines=1,
            batch=task.batch,
            merchant_id=task.merchant_id,
        )
    task.status = PickTask.Status.PICKED if task.short_quantity == 0 else PickTask.Status.SHORT
    task.picked_by, task.picked_at = user, timezone.now()


def pick_short(*, batch: Batch, user, scan_id: str) -> ScanResult:
    """ "Not there": the rest of the current task is short. What was picked is kept; the shortfall is
    re-allocated from another location when one holds it (a new task on the route), else the order is
    marked short (backordered). Either way a cycle count is asked for (``warehouse.short_pick``)."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        task = (
            PickTask.objects.select_for_update()
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .select_related("product", "location", "batch_order", "line")
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        short = task.remaining
        task.short_quantity = short
        _complete(task, user)
        task.save(update_fields=["short_quantity", "status", "picked_by", "picked_at"])
        _metric(
            FloorMetric.Kind.SHORT_PICK,
            warehouse_id=locked.warehouse_id,
            user=user,
            value=short,
            batch=locked,
            merchant_id=task.merchant_id,
        )
        outbox.emit(
            EV_SHORT_PICK,
            {
                "merchant_id": task.merchant_id,
                "warehouse_id": locked.warehouse_id,
                "location_id": task.location_id,
                "product_id": task.product_id,
                "quantity": short,
                "batch_id": locked.pk,
            },
            merchant_id=task.merchant_id,
        )
        # Re-allocate from elsewhere: pending tasks of this cart already claim some units.
        claimed = defaultdict(int)
        for t in PickTask.objects.filter(
            product=task.product, status=PickTask.Status.PENDING, batch__warehouse_id=locked.warehouse_id
        ):
            claimed[(t.location_id, t.lot)] += t.remaining
        others = [
            c
            for c in pick_candidates(
                merchant=task.merchant_id, product=task.product, warehouse=locked.warehouse_id, quantity=10**6
            )
            if c.location.pk != task.location_id
        ]
        need, new_tasks = short, []
        for c in others:
            free = c.on_shelf - claimed[(c.location.pk, c.lot)]
            if free <= 0:
                continue
            take = min(free, need)
            new_tasks.append(
                PickTask(
                    merchant_id=task.merchant_id,
                    batch=locked,
                    batch_order=task.batch_order,
                    line=task.line,
                    product=task.product,
                    location=c.location,
                    lot=c.lot,
                    quantity=take,
                )
            )
            need -= take
            if need == 0:
                break
        if new_tasks:
            PickTask.objects.bulk_create(new_tasks)
            _resequence(locked)
        if need:
            bo = task.batch_order
            bo.status = BatchOrder.Status.SHORT
            bo.save(update_fields=["status"])
        audit_record(
            obj_type="warehouse.PickTask",
            obj_id=task.pk,
            action="short_pick",
            merchant_id=task.merchant_id,
            after={
                "short": short,
                "reallocated": short - need,
                "backordered": need,
                "location": task.location.code,
            },
        )
        _maybe_finish(locked, user)
        if need == 0:
            where = ", ".join(t.location.code for t in new_tasks)
            return ScanResult(
                True, f"Short {short} × {task.product.sku} recorded. Pick it from {where} instead."
            )
        return ScanResult(
            True, f"Short {short} × {task.product.sku} recorded: backordered; a recount is requested."
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code="SHORT", fn=run)


def _resequence(batch: Batch) -> None:
    """Re-plan the route over the cart's pending tasks (after a re-allocation added some)."""
    floor = selectors.layout_for(warehouse=batch.warehouse_id)
    pending = list(
        PickTask.objects.filter(batch=batch, status=PickTask.Status.PENDING).select_related(
            "location", "product", "batch_order__order"
        )
    )
    done = PickTask.objects.filter(batch=batch).exclude(status=PickTask.Status.PENDING).count()
    stops = [Stop(t.pk, floor.point(t.location), _rank(t.batch_order.order, t.product)) for t in pending]
    route = plan_route(floor.layout, stops)
    by_pk = {t.pk: t for t in pending}
    for i, pk in enumerate(route.order, start=done + 1):
        by_pk[pk].sequence = i
    PickTask.objects.bulk_update(pending, ["sequence"])


def _maybe_finish(batch: Batch, user) -> None:
    if PickTask.objects.filter(batch=batch, status=PickTask.Status.PENDING).exists():
        return
    batch.status, batch.completed_at = Batch.Status.PICKED, timezone.now()
    batch.save(update_fields=["status", "completed_at"])
    BatchOrder.objects.filter(batch=batch, status=BatchOrder.Status.PICKING).update(
        status=BatchOrder.Status.PICKED
    )
    lines = PickTask.objects.filter(batch=batch).count()
    _metric(
        FloorMetric.Kind.TRAVEL_M,
        warehouse_id=batch.warehouse_id,
        user=user,
        value=batch.route_length_m,
        lines=lines,
        batch=batch,
    )
    if batch.started_at:
        secs = (batch.completed_at - batch.started_at).total_seconds()
        _metric(
            FloorMetric.Kind.BATCH_SECONDS,
            warehouse_id=batch.warehouse_id,
            user=user,
            value=secs,
            lines=lines,
            batch=batch,
        )
    audit_record(obj_type="warehouse.Batch", obj_id=batch.pk, action="picked", after={"lines": lines})


def pick_qc(*, batch: Batch, user, scan_id: str, failed_questions: list[str], reason: str = "") -> ScanResult:
    """The picker's answer to the checklist of the current task. A pass lets the item scans start; a failure
    quarantines the inspected unit (with the reason) and asks for the next one from the shelf."""

    def run() -> ScanResult:
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        task = (
            PickTask.objects.select_for_update(of=("self",))
            .filter(batch=locked, status=PickTask.Status.PENDING)
            .select_related("product", "location", "line__product", "batch_order__order", "batch__warehouse")
            .order_by("sequence", "pk")
            .first()
        )
        if task is None:
            raise ScanRefused("Nothing left to pick on this cart.")
        checklist = qc_due_at_pick(task)
        if checklist is None:
            raise ScanRefused("No checklist is due for this item.")
        failed = _answers(failed_questions)
        if not failed:
            qc_record(
                checklist=checklist,
                product=task.product,
                user=user,
                failed_questions=[],
                order=task.batch_order.order,
                pick_task=task,
            )
            return ScanResult(True, f"{task.product.sku} passed the check. Scan it.")
        try:
            _quarantine_reserved_unit(
                task=task, checklist=checklist, user=user, failed=failed, reason=reason, picked=False
            )
        except inv.InventoryError as exc:
            raise ScanRefused(f"Could not quarantine the unit: {exc}") from exc
        return ScanResult(
            False,
            f"{task.product.sku} failed ({'; '.join(failed)}): put it in quarantine. Check the next one.",
        )

    return _scan_once(scan_id=scan_id, user=user, screen="pick", code="QC", fn=run)
