"""Putaway: received units from the dock to a shelf (a suggested or another suitable location)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfil.audit import audit_record
from inventory.exceptions import InventoryError
from inventory.models import Location
from warehouse.inbound import inv as inv
from warehouse.inbound.models import PutawayTask, ReceiptLine
from warehouse.inbound.selectors import putaway_suggest
from warehouse.inbound.services._common import FloorError, _location_total
from warehouse.inbound.services.counts import count_trigger_location_empty

# --- Putaway ------------------------------------------------------------------------------------------


def _putaway_create(*, line: ReceiptLine, warehouse_id: int) -> PutawayTask:
    source = inv.receiving_location(warehouse_id)
    suggestion = putaway_suggest(
        product=line.product, warehouse_id=warehouse_id, quantity=line.quantity, origin=source
    )
    return PutawayTask.objects.create(
        merchant_id=line.merchant_id,
        warehouse_id=warehouse_id,
        product=line.product,
        receipt=line,
        lot=line.lot,
        quantity=line.quantity,
        from_location=source,
        suggested_location=suggestion[1] if suggestion else None,
        suggestion_reason=suggestion[0] if suggestion else "no suitable location",
    )


def putaway_confirm(*, task: PutawayTask, location: Location, user=None) -> PutawayTask:
    """The associate scanned ``location``: moves the units there (a ``putaway`` ledger entry). Scanning
    the same location again is a no-op; a different suitable location than suggested is accepted."""
    with transaction.atomic():
        task = PutawayTask.objects.select_for_update().get(pk=task.pk)
        if task.status == PutawayTask.Status.DONE:
            if task.to_location_id == location.pk:
                return task
            raise FloorError("This putaway is already done.")
        if task.status != PutawayTask.Status.OPEN:
            raise FloorError("This putaway was cancelled.")
        if location.warehouse_id != task.warehouse_id:
            raise FloorError(f"{location.code} is in another warehouse.")
        if location.type not in (Location.Type.PICK, Location.Type.RESERVE) or not location.is_active:
            raise FloorError(f"{location.code} is a {location.get_type_display()} location — scan a shelf.")
        try:
            inv.stock_move(
                merchant=task.merchant_id,
                product=task.product,
                from_location=task.from_location,
                to_location=location,
                quantity=task.quantity,
                lot=task.lot or None,
                reason=f"putaway #{task.pk}",
                reference=f"putaway:{task.pk}",
                movement_type="putaway",
            )
        except InventoryError as exc:
            raise FloorError(str(exc)) from exc
        task.status = PutawayTask.Status.DONE
        task.to_location = location
        task.done_at = timezone.now()
        task.done_by = user if getattr(user, "is_authenticated", False) else None
        task.save(update_fields=["status", "to_location", "done_at", "done_by"])
        audit_record(
            obj_type="inbound.putaway",
            obj_id=task.pk,
            action="done",
            merchant_id=task.merchant_id,
            after={"location": location.code, "suggested": task.suggested_location_id == location.pk},
        )
        if _location_total(task.from_location_id, task.product_id) == 0 and task.from_location.type in (
            Location.Type.PICK,
            Location.Type.RESERVE,
        ):
            count_trigger_location_empty(location_id=task.from_location_id, product_id=task.product_id)
    return task
