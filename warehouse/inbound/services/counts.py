"""Cycle counts: opened by hand, by a short pick or an emptied location, or on the ABC schedule; blind
counts, recounts, manager approval and the adjustment through inventory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from inventory.exceptions import InventoryError
from inventory.models import Location, Product, StockQuant, Warehouse
from warehouse.inbound import abc
from warehouse.inbound import inv as inv
from warehouse.inbound.models import CountSettings, CycleCount, ProductClass
from warehouse.inbound.selectors import count_policy
from warehouse.inbound.services._common import FloorError, _location_total

EV_COUNT_ADJUSTED = "inbound.count_adjusted"


# --- Cycle counts -------------------------------------------------------------------------------------


def count_create(
    *,
    location: Location,
    product: Product,
    reason: str = CycleCount.Reason.MANUAL,
    priority: int | None = None,
    source_key: str = "",
) -> tuple[CycleCount, bool]:
    """Opens a count of ``product`` at ``location`` unless one is open already (then that one, with the
    higher priority)."""
    cls = ProductClass.objects.filter(product=product, warehouse_id=location.warehouse_id).first()
    if priority is None:
        priority = abc.count_priority(
            reason=reason,
            abc_class=cls.abc_class if cls else "C",
            unit_value=product.value,
            units_moved=cls.units_moved if cls else 0,
        )
    with transaction.atomic():
        existing = (
            CycleCount.objects.select_for_update()
            .filter(location=location, product=product, status__in=CycleCount.OPEN_STATUSES)
            .first()
        )
        if existing is not None:
            if priority > existing.priority:
                CycleCount.objects.filter(pk=existing.pk).update(priority=priority)
                existing.priority = priority
            return existing, False
        try:
            with transaction.atomic():
                count = CycleCount.objects.create(
                    merchant_id=product.merchant_id,
                    warehouse_id=location.warehouse_id,
                    location=location,
                    product=product,
                    reason=reason,
                    priority=priority,
                    unit_value=product.value,
                    source_key=source_key[:100],
                )
        except IntegrityError:
            return CycleCount.objects.get(
                location=location, product=product, status__in=CycleCount.OPEN_STATUSES
            ), False
        audit_record(
            obj_type="inbound.cycle_count",
            obj_id=count.pk,
            action="created",
            merchant_id=count.merchant_id,
            after={"reason": reason, "location": location.code, "sku": product.sku},
        )
    return count, True


def count_trigger_short_pick(*, location_id: int, product_id: int, source_key: str = "") -> CycleCount | None:
    location = Location.objects.filter(pk=location_id).first()
    product = Product.objects.filter(pk=product_id).first()
    if location is None or product is None:
        return None
    return count_create(
        location=location, product=product, reason=CycleCount.Reason.SHORT_PICK, source_key=source_key
    )[0]


def count_trigger_location_empty(
    *, location_id: int, product_id: int, source_key: str = ""
) -> CycleCount | None:
    location = Location.objects.filter(pk=location_id).first()
    product = Product.objects.filter(pk=product_id).first()
    if location is None or product is None:
        return None
    return count_create(
        location=location, product=product, reason=CycleCount.Reason.LOCATION_EMPTY, source_key=source_key
    )[0]


def _system_quantity(count: CycleCount) -> int:
    return _location_total(count.location_id, count.product_id)


def count_submit(*, count: CycleCount, quantity: int, user=None) -> CycleCount:
    """A blind count (or the recount). The counter never sees ``expected``. Too big a variance asks for a
    recount; an adjustment worth more than the threshold waits for a manager; else it is applied."""
    if quantity < 0:
        raise ValidationError({"quantity": ["Cannot be negative."]})
    user = user if getattr(user, "is_authenticated", False) else None
    policy = count_policy(warehouse_id=count.warehouse_id)
    with transaction.atomic():
        count = CycleCount.objects.select_for_update().get(pk=count.pk)
        now = timezone.now()
        if count.status == CycleCount.Status.OPEN:
            count.expected = _system_quantity(count)
            count.first_count = quantity
            count.counted_by = user
            count.counted_at = now
            if abc.needs_recount(expected=count.expected, counted=quantity, policy=policy):
                count.status = CycleCount.Status.RECOUNT
                count.save()
                audit_record(
                    obj_type="inbound.cycle_count",
                    obj_id=count.pk,
                    action="recount_requested",
                    merchant_id=count.merchant_id,
                    after={"first_count": quantity, "expected": count.expected},
                )
                return count
            final = quantity
        elif count.status == CycleCount.Status.RECOUNT:
            count.recount = quantity
            count.recounted_by = user
            final = quantity
        else:
            raise FloorError("This count is already counted.")
        count.final_count = final
        count.variance = final - (count.expected or 0)
        count.unit_value = count.product.value
        count.variance_value = (abs(count.variance) * count.product.value).quantize(Decimal("0.01"))
        if count.variance == 0:
            _count_close(count, now=now)
        elif abc.needs_approval(variance=count.variance, unit_value=count.product.value, policy=policy):
            count.status = CycleCount.Status.APPROVAL
            count.save()
            audit_record(
                obj_type="inbound.cycle_count",
                obj_id=count.pk,
                action="approval_requested",
                merchant_id=count.merchant_id,
                after={"variance": count.variance, "variance_value": count.variance_value},
            )
        else:
            _count_apply(count)
            _count_close(count, now=now)
    return count


def count_approve(*, count: CycleCount, user, approve: bool = True, note: str = "") -> CycleCount:
    """A manager approves (the adjustment is applied) or rejects (nothing changes) a large variance."""
    if not getattr(user, "is_warehouse_manager", False):
        raise PermissionDenied("Only a warehouse manager can approve count adjustments.")
    with transaction.atomic():
        count = CycleCount.objects.select_for_update().get(pk=count.pk)
        if count.status != CycleCount.Status.APPROVAL:
            if (approve and count.status == CycleCount.Status.DONE) or (
                not approve and count.status == CycleCount.Status.REJECTED
            ):
                return count
            raise FloorError("This count is not waiting for approval.")
        count.approved_by = user
        count.note = note[:300]
        if approve:
            _count_apply(count)
            _count_close(count, now=timezone.now())
        else:
            count.status = CycleCount.Status.REJECTED
            count.closed_at = timezone.now()
            count.save()
        audit_record(
            obj_type="inbound.cycle_count",
            obj_id=count.pk,
            action="approved" if approve else "rejected",
            merchant_id=count.merchant_id,
            after={"variance": count.variance, "note": note},
        )
    return count


def _count_apply(count: CycleCount) -> None:
    """The adjustment: one ledger entry (or one per lot taken) with its reason, through inventory."""
    delta = count.variance
    if delta == 0:
        return
    lot: str | None = None
    if delta > 0:
        top = (
            StockQuant.objects.filter(location_id=count.location_id, product_id=count.product_id)
            .order_by("-quantity", "pk")
            .values_list("lot", flat=True)
            .first()
        )
        lot = top if top is not None else ""
        if count.product.requires_lot_tracking and not lot:
            lot = f"COUNT-{count.pk}"
    reason = (
        f"cycle count #{count.pk} ({count.get_reason_display().lower()}): counted {count.final_count}, "
        f"system {count.expected}"
    )
    try:
        inv.stock_adjust(
            merchant=count.merchant_id,
            product=count.product,
            location=count.location,
            quantity=delta,
            lot=lot,
            reason=reason,
            reference=f"count:{count.pk}",
            movement_type="count",
        )
    except InventoryError as exc:
        raise FloorError(f"Cannot adjust: {exc}") from exc
    count.adjustment_reference = f"count:{count.pk}"
    outbox.emit(
        EV_COUNT_ADJUSTED,
        {
            "merchant_id": count.merchant_id,
            "count_id": count.pk,
            "product_id": count.product_id,
            "location_id": count.location_id,
            "variance": delta,
            "variance_value": str(count.variance_value),
        },
        merchant_id=count.merchant_id,
    )


def _count_close(count: CycleCount, *, now) -> None:
    count.status = CycleCount.Status.DONE
    count.closed_at = now
    count.save()
    ProductClass.objects.filter(product_id=count.product_id, warehouse_id=count.warehouse_id).update(
        last_counted_on=now.date()
    )
    audit_record(
        obj_type="inbound.cycle_count",
        obj_id=count.pk,
        action="done",
        merchant_id=count.merchant_id,
        after={"expected": count.expected, "counted": count.final_count, "variance": count.variance},
    )


def count_settings_update(*, warehouse: Warehouse, **fields) -> CountSettings:
    with transaction.atomic():
        settings_row, _ = CountSettings.objects.get_or_create(warehouse=warehouse)
        for k, v in fields.items():
            setattr(settings_row, k, v)
        settings_row.save()
        audit_record(obj_type="inbound.count_settings", obj_id=warehouse.pk, action="updated", after=fields)
    return settings_row


def abc_classify_warehouse(
    *, warehouse: Warehouse, days: int = 90, today: date | None = None
) -> dict[int, str]:
    """Recomputes ABC classes from the ledger (units out over ``days``) × product value."""
    from datetime import timedelta

    from inventory.models import StockMovement

    since = timezone.now() - timedelta(days=days)
    moved = dict(
        StockMovement.objects.filter(warehouse=warehouse, created_at__gte=since, type__in=["pick", "ship"])
        .values_list("product_id")
        .annotate(n=Sum("quantity"))
        .values_list("product_id", "n")
    )
    product_ids = set(
        StockQuant.objects.filter(warehouse=warehouse, quantity__gt=0).values_list("product_id", flat=True)
    ) | set(moved)
    products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids)}
    policy = count_policy(warehouse_id=warehouse.pk)
    stats = [abc.SkuStats(pid, int(moved.get(pid, 0)), p.value) for pid, p in products.items()]
    classes = abc.classify(stats, policy=policy)
    with transaction.atomic():
        for pid, cls in classes.items():
            ProductClass.objects.update_or_create(
                product_id=pid,
                warehouse=warehouse,
                defaults={
                    "merchant_id": products[pid].merchant_id,
                    "abc_class": cls,
                    "units_moved": int(moved.get(pid, 0)),
                    "computed_at": timezone.now(),
                },
            )
    return classes


def count_schedule_run(
    *, warehouse: Warehouse, today: date | None = None, limit: int = 200
) -> list[CycleCount]:
    """Classifies, then opens counts for every product due (A monthly, B quarterly, C yearly by default) at
    each location that holds it, highest priority first, at most ``limit``."""
    today = today or timezone.localdate()
    classes = abc_classify_warehouse(warehouse=warehouse)
    policy = count_policy(warehouse_id=warehouse.pk)
    rows = {r.product_id: r for r in ProductClass.objects.filter(warehouse=warehouse)}
    due = abc.due_products(
        classes,
        {pid: (r.last_counted_on if r else None) for pid, r in rows.items()},
        today=today,
        policy=policy,
    )
    quants = list(
        StockQuant.objects.filter(warehouse=warehouse, product_id__in=due, quantity__gt=0)
        .exclude(location__type__in=[Location.Type.QUARANTINE, Location.Type.RETURNS])
        .values_list("location_id", "product_id")
        .distinct()
    )
    products = {p.pk: p for p in Product.objects.filter(pk__in=due)}
    planned = sorted(
        quants,
        key=lambda lp: (
            -abc.count_priority(
                reason="scheduled",
                abc_class=classes.get(lp[1], "C"),
                unit_value=products[lp[1]].value,
                units_moved=rows[lp[1]].units_moved if lp[1] in rows else 0,
            )
        ),
    )[:limit]
    locations = {loc.pk: loc for loc in Location.objects.filter(pk__in={lp[0] for lp in planned})}
    out = []
    for location_id, product_id in planned:
        count, _ = count_create(
            location=locations[location_id],
            product=products[product_id],
            reason=CycleCount.Reason.SCHEDULED,
            source_key=f"schedule:{today.isoformat()}",
        )
        out.append(count)
    return out
