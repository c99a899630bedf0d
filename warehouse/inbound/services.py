"""Writes of the receiving floor and stock control. Every unit moves through ``inventory.services``
(``inbound_receive``/``stock_receive``, ``stock_move``, ``stock_adjust``); this module records what the floor
did, decides (putaway slot, recount, approval, grade) and tells other apps through the outbox.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record, record_many
from inventory.exceptions import InventoryError
from inventory.models import InboundShipment, Location, Product, StockQuant, Warehouse
from warehouse.inbound import abc
from warehouse.inbound import inv as inv
from warehouse.inbound.models import (
    CountSettings,
    CycleCount,
    ProductClass,
    PurchaseOrder,
    PurchaseOrderLine,
    PutawayTask,
    QcChecklist,
    QcInspection,
    ReceiptLine,
    ReceivingSession,
    ReturnAuthorization,
    ReturnLine,
    ReturnPortalSettings,
    ReturnReason,
    ReturnUnit,
    Vendor,
)
from warehouse.inbound.selectors import (
    count_policy,
    putaway_suggest,
    putaway_suggest_many,
    qc_checklist_for,
)

EV_RECEIVING_DONE = "inbound.receiving_completed"
EV_QC_FAILED = "inbound.qc_failed"
EV_COUNT_ADJUSTED = "inbound.count_adjusted"
EV_RETURN_OPENED = "return.opened"
EV_RETURN_PROCESSED = "return.processed"


class FloorError(Exception):
    """An action the floor cannot do as asked; the message is shown to the user (HTTP 409)."""


def _mid(merchant) -> int:
    return merchant if isinstance(merchant, int) else merchant.pk


# --- Vendors and purchase orders ----------------------------------------------------------------------


def vendor_create(*, merchant, name: str, lead_time_days: int = 14, **fields) -> Vendor:
    with transaction.atomic():
        if Vendor.objects.for_merchant(merchant).filter(name=name).exists():
            raise ValidationError({"name": ["A vendor with this name exists."]})
        vendor = Vendor.objects.create(merchant=merchant, name=name, lead_time_days=lead_time_days, **fields)
        audit_record(
            obj_type="inbound.vendor",
            obj_id=vendor.pk,
            action="created",
            merchant_id=_mid(merchant),
            after={"name": name, "lead_time_days": lead_time_days},
        )
    return vendor


def vendor_update(*, vendor: Vendor, **fields) -> Vendor:
    before = {k: getattr(vendor, k) for k in fields}
    with transaction.atomic():
        for k, v in fields.items():
            setattr(vendor, k, v)
        vendor.save()
        audit_record(
            obj_type="inbound.vendor",
            obj_id=vendor.pk,
            action="updated",
            merchant_id=vendor.merchant_id,
            before=before,
            after=fields,
        )
    return vendor


def purchase_order_create(
    *,
    merchant,
    vendor: Vendor,
    warehouse: Warehouse,
    number: str,
    lines: Iterable[tuple[Product, int, Decimal]],
    expected_on: date | None = None,
    notes: str = "",
) -> PurchaseOrder:
    mid = _mid(merchant)
    if vendor.merchant_id != mid:
        raise ValidationError({"vendor": ["Unknown vendor."]})
    lines = list(lines)
    if not lines:
        raise ValidationError({"lines": ["At least one line."]})
    with transaction.atomic():
        if PurchaseOrder.objects.for_merchant(mid).filter(number=number).exists():
            raise ValidationError({"number": ["A purchase order with this number exists."]})
        po = PurchaseOrder.objects.create(
            merchant_id=mid,
            vendor=vendor,
            warehouse=warehouse,
            number=number,
            expected_on=expected_on,
            notes=notes,
        )
        merged: dict[int, list] = {}
        for product, qty, cost in lines:
            if product.merchant_id != mid:
                raise ValidationError({"lines": [f"Unknown product {product.pk}."]})
            if qty <= 0:
                raise ValidationError({"lines": ["Quantities must be positive."]})
            if product.pk in merged:
                merged[product.pk][1] += qty
            else:
                merged[product.pk] = [product, qty, cost]
        PurchaseOrderLine.objects.bulk_create(
            PurchaseOrderLine(purchase_order=po, product=p, quantity_ordered=q, unit_cost=c)
            for p, q, c in merged.values()
        )
        audit_record(
            obj_type="inbound.purchase_order",
            obj_id=po.pk,
            action="created",
            merchant_id=mid,
            after={"number": number, "vendor": vendor.name, "lines": len(merged)},
        )
    return po


# --- Receiving ----------------------------------------------------------------------------------------


def receiving_start(*, shipment: InboundShipment, user=None, dock: str = "") -> ReceivingSession:
    """The shipment is at the dock (its label was scanned): the dock-to-stock clock starts. Idempotent."""
    if shipment.status == InboundShipment.Status.CANCELLED:
        raise FloorError("This shipment was cancelled.")
    with transaction.atomic():
        session = ReceivingSession.objects.filter(shipment=shipment).first()
        if session is not None:
            return session
        po = _po_for_shipment(shipment)
        try:
            with transaction.atomic():
                session = ReceivingSession.objects.create(
                    merchant_id=shipment.merchant_id,
                    shipment=shipment,
                    warehouse_id=shipment.warehouse_id,
                    purchase_order=po,
                    dock=dock,
                    started_by=user if getattr(user, "is_authenticated", False) else None,
                )
        except IntegrityError:
            return ReceivingSession.objects.get(shipment=shipment)
        audit_record(
            obj_type="inventory.inbound_shipment",
            obj_id=shipment.pk,
            action="arrived",
            merchant_id=shipment.merchant_id,
            after={"dock": dock},
        )
    return session


def _po_for_shipment(shipment: InboundShipment) -> PurchaseOrder | None:
    ref = (getattr(shipment, "purchase_order_reference", "") or shipment.reference or "").strip()
    if not ref:
        return None
    return PurchaseOrder.objects.for_merchant(shipment.merchant_id).filter(number=ref).first()


@dataclass
class ScanIn:
    """One scan of a batch: what the tablet sent (``client_scan_id`` makes a re-sent scan a no-op)."""

    client_scan_id: str
    product: Product | None
    quantity: int = 1
    damaged: bool = False
    damage_note: str = ""
    photo: object = None
    lot: str = ""
    expires_on: date | None = None
    raw_scan: str = ""
    error: str = ""  # set by the caller when the scan could not be read (unknown barcode, bad check digit)


@dataclass
class ScanOut:
    """The answer for one scan: the receipt line (new or the first one for a re-sent id) or why not."""

    client_scan_id: str
    line: ReceiptLine | None = None
    created: bool = False
    error: str = ""


def _scan_check(session: ReceivingSession, scan: ScanIn) -> None:
    """Why this scan cannot be received (raises), before anything is written."""
    if scan.error:
        raise FloorError(scan.error)
    product = scan.product
    if product is None:
        raise FloorError("Unknown item for this merchant — set it aside.")
    if scan.quantity <= 0:
        raise ValidationError({"quantity": ["Must be at least 1."]})
    if product.merchant_id != session.merchant_id:
        raise FloorError("That product belongs to another merchant — set it aside.")
    if scan.damaged and not (scan.photo or scan.damage_note):
        raise ValidationError({"photo": ["A damaged unit needs a photo (or a note)."]})
    if product.is_kit:
        raise FloorError(f"{product.sku} is a kit: receive its components.")
    if product.requires_lot_tracking and not scan.lot:
        raise FloorError(f"{product.sku} is lot-tracked: scan or type its lot number.")


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "message_dict"):
            return "; ".join(" ".join(v) for v in exc.message_dict.values())
        return " ".join(exc.messages)
    return str(exc)


def receipts_record_many(
    *,
    session: ReceivingSession,
    scans: list[ScanIn],
    user=None,
    asn_product_ids: set[int] | None = None,
) -> list[ScanOut]:
    """Receives a batch of scans against the session's ASN in ONE transaction through inventory's set-based
    ``inbound_receive`` (one call for the whole batch): good units are available at once (inventory fills
    backorders in the same transaction), damaged ones go to quarantine, a product not on the ASN is received
    and flagged. Each scan is idempotent on its ``client_scan_id`` (a re-sent scan answers its first line and
    receives nothing); a scan that cannot be received (unknown item, missing lot, …) answers its error and
    does not stop the others. Writes per batch, whatever its size: one receipt-line insert, one putaway-task
    insert, one audit insert, one session update (``asn_product_ids`` — the ASN's products, which a caller
    may cache per receiving session — saves reading them)."""
    user = user if getattr(user, "is_authenticated", False) else None
    outs = [ScanOut(client_scan_id=s.client_scan_id) for s in scans]
    ok: list[int] = []
    seen: set[str] = set()
    for i, scan in enumerate(scans):
        try:
            _scan_check(session, scan)
        except (FloorError, ValidationError) as exc:
            outs[i].error = _message(exc)
            continue
        if scan.client_scan_id in seen:  # the same id twice in one batch: the first one counts
            continue
        seen.add(scan.client_scan_id)
        ok.append(i)
    if not ok:
        _dupes_fill(session, scans, outs, seen)
        return outs
    try:
        with transaction.atomic():
            locked = (
                ReceivingSession.objects.select_for_update(of=("self",))
                .select_related("shipment", "shipment__warehouse")
                .get(pk=session.pk)
            )
            prior = {
                r.client_scan_id: r
                for r in ReceiptLine.objects.filter(
                    session=locked, client_scan_id__in=[scans[i].client_scan_id for i in ok]
                ).select_related("product")
            }
            todo = [i for i in ok if scans[i].client_scan_id not in prior]
            if todo:
                _receive_batch(
                    locked, [scans[i] for i in todo], [outs[i] for i in todo], user, asn_product_ids
                )
    except _BatchRefused as exc:
        # inventory refused the batch as a whole (e.g. a concurrent change): answer each scan on its own
        if len(ok) == 1:
            outs[ok[0]].error = str(exc)
            return outs
        for i in ok:
            one = receipts_record_many(session=session, scans=[scans[i]], user=user)[0]
            outs[i] = one
        return outs
    for i in ok:
        if scans[i].client_scan_id in prior:
            outs[i].line, outs[i].created = prior[scans[i].client_scan_id], False
    _dupes_fill(session, scans, outs, seen)
    return outs


class _BatchRefused(Exception):
    pass


def _dupes_fill(session, scans: list[ScanIn], outs: list[ScanOut], seen: set[str]) -> None:
    """Scans repeated inside one batch answer like their first occurrence."""
    first = {}
    for scan, out in zip(scans, outs, strict=True):
        if scan.client_scan_id in first:
            if out.line is None and not out.error:
                src = first[scan.client_scan_id]
                out.line, out.error, out.created = src.line, src.error, False
        else:
            first[scan.client_scan_id] = out


def _receive_batch(
    locked: ReceivingSession, scans: list[ScanIn], outs: list[ScanOut], user, asn_product_ids
) -> None:
    shipment = locked.shipment
    if asn_product_ids is None:
        asn_product_ids = set(
            shipment.lines.filter(quantity_expected__gt=0).values_list("product_id", flat=True)
        )
    try:
        if shipment.status == InboundShipment.Status.RECEIVED:
            # the ASN is complete: an over-count arriving later is received under its reference
            for scan in scans:
                inv.stock_receive(
                    merchant=locked.merchant_id,
                    product=scan.product,
                    warehouse=shipment.warehouse,
                    quantity=scan.quantity,
                    lot=scan.lot or "",
                    expires_on=scan.expires_on,
                    damaged=scan.damaged,
                    reference=f"asn:{shipment.pk}",
                    reason="over-receipt after the ASN was complete",
                )
        else:
            inv.inbound_receive(
                merchant=locked.merchant_id,
                shipment=shipment,
                lines=[
                    inv.ReceiptLine(
                        product=s.product,
                        quantity=0 if s.damaged else s.quantity,
                        damaged=s.quantity if s.damaged else 0,
                        lot=s.lot or "",
                        expires_on=s.expires_on,
                    )
                    for s in scans
                ],
            )
    except InventoryError as exc:
        raise _BatchRefused(str(exc)) from exc
    now = timezone.now()
    lines = ReceiptLine.objects.bulk_create(
        [
            ReceiptLine(
                merchant_id=locked.merchant_id,
                session=locked,
                client_scan_id=s.client_scan_id,
                product=s.product,
                quantity=s.quantity,
                damaged=s.damaged,
                damage_note=s.damage_note[:200],
                lot=s.lot,
                expires_on=s.expires_on,
                raw_scan=s.raw_scan[:200],
                on_asn=s.product.pk in asn_product_ids,
                received_by=user,
                created_at=now,
            )
            for s in scans
        ]
    )
    for scan, line, out in zip(scans, lines, outs, strict=True):
        out.line, out.created = line, True
        if scan.photo:
            line.photo.save(f"asn{shipment.pk}-{line.pk}.jpg", scan.photo, save=True)
    good = [ln for ln in lines if not ln.damaged]
    if good:
        ReceivingSession.objects.filter(pk=locked.pk).update(last_available_at=now)
        source = inv.receiving_location(locked.warehouse_id)
        suggestions = putaway_suggest_many(
            items=[(ln.product, ln.quantity) for ln in good], warehouse_id=locked.warehouse_id, origin=source
        )
        PutawayTask.objects.bulk_create(
            [
                PutawayTask(
                    merchant_id=ln.merchant_id,
                    warehouse_id=locked.warehouse_id,
                    product=ln.product,
                    receipt=ln,
                    lot=ln.lot,
                    quantity=ln.quantity,
                    from_location=source,
                    suggested_location=sug[1] if sug else None,
                    suggestion_reason=sug[0] if sug else "no suitable location",
                )
                for ln, sug in zip(good, suggestions, strict=True)
            ]
        )
    if locked.purchase_order_id:
        per_product: dict[int, int] = {}
        for ln in lines:
            per_product[ln.product_id] = per_product.get(ln.product_id, 0) + ln.quantity
        _po_add_received_many(locked.purchase_order_id, per_product)
    record_many(
        [
            {
                "obj_type": "inventory.inbound_shipment",
                "obj_id": shipment.pk,
                "action": "received_damaged" if ln.damaged else "received",
                "merchant_id": locked.merchant_id,
                "after": {
                    "sku": ln.product.sku,
                    "quantity": ln.quantity,
                    "lot": ln.lot,
                    "expires_on": ln.expires_on,
                    "on_asn": ln.on_asn,
                    "scan": ln.client_scan_id,
                },
                "message": "" if ln.on_asn else f"{ln.product.sku} was not on the ASN",
            }
            for ln in lines
        ]
    )


def receipt_record(
    *,
    session: ReceivingSession,
    client_scan_id: str,
    product: Product,
    quantity: int,
    damaged: bool = False,
    damage_note: str = "",
    photo=None,
    lot: str = "",
    expires_on: date | None = None,
    raw_scan: str = "",
    user=None,
) -> tuple[ReceiptLine, bool]:
    """Receives ``quantity`` units of ``product`` against the session's ASN (one scan; the batch path with
    a batch of one). Good units are available at once (inventory fills backorders); damaged units go to
    quarantine. A product not on the ASN is received and flagged. Returns ``(line, created)``: the same
    ``client_scan_id`` again returns the first line. Raises ``FloorError``/``ValidationError`` when refused."""
    scan = ScanIn(
        client_scan_id=client_scan_id,
        product=product,
        quantity=quantity,
        damaged=damaged,
        damage_note=damage_note,
        photo=photo,
        lot=lot,
        expires_on=expires_on,
        raw_scan=raw_scan,
    )
    _scan_check(session, scan)
    out = receipts_record_many(session=session, scans=[scan], user=user)[0]
    if out.error:
        raise FloorError(out.error)
    assert out.line is not None
    return out.line, out.created


def _po_add_received_many(po_id: int, per_product: dict[int, int]) -> None:
    from django.db.models import F

    for product_id, quantity in sorted(per_product.items()):
        PurchaseOrderLine.objects.filter(purchase_order_id=po_id, product_id=product_id).update(
            quantity_received=F("quantity_received") + quantity
        )
    lines = list(PurchaseOrderLine.objects.filter(purchase_order_id=po_id))
    status = (
        PurchaseOrder.Status.RECEIVED
        if all(ln.quantity_received >= ln.quantity_ordered for ln in lines)
        else PurchaseOrder.Status.PARTIAL
    )
    PurchaseOrder.objects.filter(pk=po_id).exclude(status=PurchaseOrder.Status.CANCELLED).update(
        status=status
    )


def receiving_complete(*, session: ReceivingSession, user=None, notify: bool = True) -> ReceivingSession:
    """Closes receiving: the report (expected vs received vs damaged, dock-to-stock) goes to the merchant."""
    with transaction.atomic():
        session = ReceivingSession.objects.select_for_update().get(pk=session.pk)
        if session.status == ReceivingSession.Status.DONE:
            return session
        session.status = ReceivingSession.Status.DONE
        session.completed_at = timezone.now()
        session.save(update_fields=["status", "completed_at"])
        inv.asn_close(shipment=session.shipment)
        audit_record(
            obj_type="inventory.inbound_shipment",
            obj_id=session.shipment_id,
            action="receiving_completed",
            merchant_id=session.merchant_id,
            after={"dock_to_stock_s": session.dock_to_stock_seconds},
        )
        outbox.emit(
            EV_RECEIVING_DONE,
            {
                "merchant_id": session.merchant_id,
                "inbound_shipment_id": session.shipment_id,
                "session_id": session.pk,
            },
            merchant_id=session.merchant_id,
        )
        if notify:
            transaction.on_commit(partial(_send_receiving_report, session_id=session.pk))
    return session


def _send_receiving_report(*, session_id: int) -> None:
    from warehouse.inbound.notifications import send_receiving_report

    send_receiving_report(session_id=session_id)


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


def _location_total(location_id: int, product_id: int) -> int:
    return (
        StockQuant.objects.filter(location_id=location_id, product_id=product_id).aggregate(
            s=Sum("quantity")
        )["s"]
        or 0
    )


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


# --- Returns ------------------------------------------------------------------------------------------


RETURNABLE_ORDER_STATUSES = {"shipped", "delivered", "partially_shipped"}


def _next_rma_number(merchant_id: int) -> str:
    n = ReturnAuthorization.objects.for_merchant(merchant_id).count() + 1
    while ReturnAuthorization.objects.for_merchant(merchant_id).filter(number=f"RMA-{n:05d}").exists():
        n += 1
    return f"RMA-{n:05d}"


def return_returnable(order) -> dict[int, tuple[int, Decimal]]:
    """``{product_id: (units that can still be returned, unit price)}``: shipped minus what is on other
    returns that are not cancelled."""
    from warehouse.inbound.returns_origin import order_lines_shipped

    shipped = order_lines_shipped(order)
    already = dict(
        ReturnLine.objects.filter(rma__order=order)
        .exclude(rma__status=ReturnAuthorization.Status.CANCELLED)
        .values_list("product_id")
        .annotate(n=Sum("quantity"))
        .values_list("product_id", "n")
    )
    return {pid: (max(0, n - already.get(pid, 0)), price) for pid, (n, price) in shipped.items()}


def return_open(
    *,
    merchant,
    order,
    reason: str,
    lines: Iterable[tuple[Product, int]],
    opened_by: str = ReturnAuthorization.OpenedBy.MERCHANT,
    customer_note: str = "",
    customer_email: str = "",
    photo=None,
    warehouse: Warehouse | None = None,
    buy_label: bool = False,
    request_key: str = "",
    allowed_reasons: Iterable[str] | None = None,
) -> ReturnAuthorization:
    """Opens an RMA for a shipped order. Quantities cannot exceed what was shipped minus what is already on
    other open or received returns.

    ``buy_label``: a prepaid return label (customer → warehouse) is bought through the carriers layer FIRST;
    if the carrier fails, ``FloorError`` says why and nothing is created (the RMA is written only with its
    label). ``request_key`` (the opening form's key) makes a re-sent form return the first RMA — and a retry
    after a failed label buys under the same carrier idempotency key, so a label is never bought twice."""
    mid = _mid(merchant)
    if order.merchant_id != mid:
        raise ValidationError({"order": ["Unknown order."]})
    request_key = (request_key or "")[:64]
    if request_key:
        prior = ReturnAuthorization.objects.for_merchant(mid).filter(request_key=request_key).first()
        if prior is not None:
            return prior
    if order.status not in RETURNABLE_ORDER_STATUSES:
        raise FloorError(f"Order {order.number or order.pk} has not shipped yet — nothing to return.")
    merged: dict[int, list] = {}
    for p, q in lines:
        if q > 0:
            merged.setdefault(p.pk, [p, 0])[1] += q
    lines = [(p, q) for p, q in merged.values()]
    if not lines:
        raise ValidationError({"lines": ["Choose at least one unit to return."]})
    returnable = return_returnable(order)
    for product, qty in lines:
        have, _ = returnable.get(product.pk, (0, Decimal(0)))
        if qty > have:
            raise ValidationError({"lines": [f"{product.sku}: at most {have} can be returned."]})
    valid = {c for c, _ in ReturnAuthorization._meta.get_field("reason").choices}
    if allowed_reasons:
        valid &= set(allowed_reasons)
    if reason not in valid:
        raise ValidationError({"reason": ["Choose a reason."]})
    from warehouse.inbound.returns_origin import order_origin, order_warehouse

    wh = warehouse or order_warehouse(order)
    if wh is None:
        raise FloorError("No warehouse to return to.")
    key = request_key or uuid.uuid4().hex
    label = (
        _return_label_buy(merchant=order.merchant, order=order, warehouse=wh, key=key) if buy_label else None
    )
    try:
        with transaction.atomic():
            rma = ReturnAuthorization.objects.create(
                merchant_id=mid,
                number=_next_rma_number(mid),
                order=order,
                warehouse=wh,
                reason=reason,
                customer_note=customer_note,
                customer_email=customer_email[:254],
                opened_by=opened_by,
                origin=order_origin(order),
                currency=getattr(order, "currency", "USD") or "USD",
                request_key=request_key,
                **(label or {}),
            )
            ReturnLine.objects.bulk_create(
                ReturnLine(rma=rma, product=p, quantity=q, unit_price=returnable[p.pk][1], reason=reason)
                for p, q in lines
            )
            if photo:
                rma.customer_photo.save(f"{rma.number}.jpg", photo, save=True)
            audit_record(
                obj_type="inbound.return",
                obj_id=rma.pk,
                action="opened",
                merchant_id=mid,
                after={
                    "number": rma.number,
                    "order": order.pk,
                    "reason": reason,
                    "by": opened_by,
                    "lines": {p.sku: q for p, q in lines},
                    "label": (label or {}).get("label_tracking", ""),
                },
            )
            outbox.emit(
                EV_RETURN_OPENED,
                {
                    "merchant_id": mid,
                    "rma_id": rma.pk,
                    "order_id": order.pk,
                    "reason": reason,
                    "opened_by": opened_by,
                },
                merchant_id=mid,
            )
            if opened_by == ReturnAuthorization.OpenedBy.CUSTOMER:
                transaction.on_commit(partial(_notify_return_opened, rma_id=rma.pk))
    except IntegrityError:
        if request_key:  # the same form twice at once: the first one won
            prior = ReturnAuthorization.objects.for_merchant(mid).filter(request_key=request_key).first()
            if prior is not None:
                return prior
        raise
    return rma


def _notify_return_opened(*, rma_id: int) -> None:
    from warehouse.inbound.notifications import send_return_opened

    send_return_opened(rma_id=rma_id)


def _return_label_buy(*, merchant, order, warehouse: Warehouse, key: str) -> dict:
    """Buys a prepaid return label (customer → ``warehouse``) through ``integrations.carriers``; the fields
    to store on the RMA. A carrier failure is a ``FloorError`` with the carrier's reason."""
    from integrations.carriers import exceptions as carrier_errors
    from integrations.carriers.services import shipment_buy_label

    try:
        shipment = shipment_buy_label(
            merchant=merchant,
            order=order,
            parcel=None,
            return_to_warehouse=warehouse,
            idempotency_key=f"return:{order.pk}:{key}"[:100],
        )
    except (
        carrier_errors.NoRateAvailable,
        carrier_errors.LabelPurchaseFailed,
        carrier_errors.ShipmentStateError,
        carrier_errors.ProviderError,
    ) as exc:
        raise FloorError(
            f"The return label could not be bought ({exc}). Nothing was created; try again."
        ) from exc
    return {
        "label_shipment_id": shipment.pk,
        "label_tracking": shipment.tracking_number or "",
        "label_url": str(shipment.label_url or ""),
    }


def return_buy_label(*, rma: ReturnAuthorization) -> ReturnAuthorization:
    """A prepaid return label for an open RMA that has none (the merchant's "buy label" button). Idempotent:
    an RMA with a label keeps it; a retry after a failure buys under the same carrier key. A carrier failure
    is a ``FloorError`` and changes nothing on the RMA."""
    if rma.label_shipment_id:
        return rma
    if rma.status != ReturnAuthorization.Status.OPEN:
        raise FloorError(f"{rma.number} is {rma.get_status_display().lower()}: no label needed.")
    fields = _return_label_buy(
        merchant=rma.merchant,
        order=rma.order,
        warehouse=rma.warehouse,
        key=rma.request_key or f"rma-{rma.pk}",
    )
    with transaction.atomic():
        ReturnAuthorization.objects.filter(pk=rma.pk, label_shipment_id__isnull=True).update(**fields)
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="label_bought",
            merchant_id=rma.merchant_id,
            after={"tracking": fields["label_tracking"]},
        )
    rma.refresh_from_db()
    return rma


# --- The customer return portal --------------------------------------------------------------------------


def return_portal_update(
    *,
    merchant,
    enabled: bool,
    window_days: int,
    allowed_reasons: list[str],
    prepaid_labels: bool,
    instructions: str = "",
    new_token: bool = False,
) -> ReturnPortalSettings:
    if not 1 <= window_days <= 365:
        raise ValidationError({"window_days": ["Between 1 and 365 days."]})
    valid = set(ReturnReason.values)
    reasons = [r for r in allowed_reasons if r in valid]
    if len(reasons) != len(allowed_reasons):
        raise ValidationError({"allowed_reasons": ["Unknown reason."]})
    with transaction.atomic():
        row, _ = ReturnPortalSettings.objects.select_for_update().get_or_create(merchant_id=_mid(merchant))
        before = {
            "enabled": row.enabled,
            "window_days": row.window_days,
            "allowed_reasons": row.allowed_reasons,
            "prepaid_labels": row.prepaid_labels,
        }
        row.enabled, row.window_days, row.allowed_reasons = enabled, window_days, reasons
        row.prepaid_labels, row.instructions = prepaid_labels, instructions[:2000]
        if new_token:
            from warehouse.inbound.models import _portal_token

            row.token = _portal_token()
        row.updated_at = timezone.now()
        row.save()
        audit_record(
            obj_type="inbound.return_portal",
            obj_id=row.pk,
            action="updated",
            merchant_id=row.merchant_id,
            before=before,
            after={
                "enabled": enabled,
                "window_days": window_days,
                "allowed_reasons": reasons,
                "prepaid_labels": prepaid_labels,
                "new_link": new_token,
            },
        )
    return row


def return_portal_open(
    *,
    portal: ReturnPortalSettings,
    order,
    lines: list[tuple[Product, int]],
    reason: str,
    comment: str = "",
    photo=None,
    customer_email: str = "",
    request_key: str = "",
) -> ReturnAuthorization:
    """A customer opens a return from the merchant's portal: the merchant's window and allowed reasons
    apply; with prepaid labels on, the label is bought first (a carrier failure creates nothing)."""
    from warehouse.inbound.selectors import portal_window_open

    if not portal.enabled or order.merchant_id != portal.merchant_id:
        raise FloorError("Returns are not open for this order.")
    if not portal_window_open(portal=portal, order=order):
        raise FloorError(f"The {portal.window_days}-day return window for this order has closed.")
    return return_open(
        merchant=portal.merchant_id,
        order=order,
        reason=reason,
        lines=lines,
        opened_by=ReturnAuthorization.OpenedBy.CUSTOMER,
        customer_note=comment[:2000],
        customer_email=customer_email,
        photo=photo,
        buy_label=portal.prepaid_labels,
        request_key=request_key,
        allowed_reasons=[v for v, _ in portal.reasons()],
    )


def return_receive_unit(
    *,
    rma: ReturnAuthorization,
    client_scan_id: str,
    product: Product,
    grade: str,
    quantity: int = 1,
    lot: str = "",
    note: str = "",
    user=None,
) -> tuple[ReturnUnit, bool]:
    """Scans a returned unit in and grades it: restock → sellable at once; refurbish/quarantine → the
    quarantine location; dispose → recorded, never stock. Idempotent by ``client_scan_id``."""
    if grade not in ReturnUnit.Grade.values:
        raise ValidationError({"grade": ["restock, refurbish, quarantine or dispose."]})
    if quantity <= 0:
        raise ValidationError({"quantity": ["Must be at least 1."]})
    prior = ReturnUnit.objects.filter(rma=rma, client_scan_id=client_scan_id).first()
    if prior is not None:
        return prior, False
    user = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        rma = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        prior = ReturnUnit.objects.filter(rma=rma, client_scan_id=client_scan_id).first()
        if prior is not None:
            return prior, False
        if rma.status in (ReturnAuthorization.Status.PROCESSED, ReturnAuthorization.Status.CANCELLED):
            raise FloorError(f"{rma.number} is {rma.get_status_display().lower()}.")
        expected = rma.lines.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        if expected == 0:
            raise FloorError(f"{product.sku} is not on {rma.number} — set it aside for the merchant.")
        graded = rma.units.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        if graded + quantity > expected:
            raise FloorError(f"{rma.number} expects {expected} × {product.sku}; {graded} already graded.")
        location = None
        if grade != ReturnUnit.Grade.DISPOSE:
            damaged = grade != ReturnUnit.Grade.RESTOCK
            location = (
                inv.quarantine_location(rma.warehouse_id)
                if damaged
                else inv.receiving_location(rma.warehouse_id)
            )
            if product.requires_lot_tracking and not lot:
                lot = f"RMA-{rma.number}"
            try:
                inv.stock_receive(
                    merchant=rma.merchant_id,
                    product=product,
                    warehouse=rma.warehouse,
                    quantity=quantity,
                    location=location,
                    lot=lot,
                    damaged=damaged,
                    reference=f"rma:{rma.number}",
                    reason=f"return {rma.number} graded {grade}",
                    movement_type="return",
                )
            except InventoryError as exc:
                raise FloorError(str(exc)) from exc
        unit = ReturnUnit.objects.create(
            merchant_id=rma.merchant_id,
            rma=rma,
            client_scan_id=client_scan_id,
            product=product,
            quantity=quantity,
            grade=grade,
            lot=lot,
            location=location,
            note=note,
            graded_by=user,
        )
        if rma.status == ReturnAuthorization.Status.OPEN:
            rma.status = ReturnAuthorization.Status.RECEIVED
            rma.received_at = timezone.now()
            rma.save(update_fields=["status", "received_at"])
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="unit_graded",
            merchant_id=rma.merchant_id,
            after={"sku": product.sku, "quantity": quantity, "grade": grade},
        )
    return unit, True


def return_complete(*, rma: ReturnAuthorization, user=None) -> ReturnAuthorization:
    """Closes the return; billing hears ``return.processed`` with the credit per unit and grade."""
    with transaction.atomic():
        rma = ReturnAuthorization.objects.select_for_update().get(pk=rma.pk)
        if rma.status == ReturnAuthorization.Status.PROCESSED:
            return rma
        if rma.status != ReturnAuthorization.Status.RECEIVED:
            raise FloorError(f"{rma.number}: grade at least one unit first.")
        prices = {ln.product_id: ln.unit_price for ln in rma.lines.all()}
        units = list(rma.units.all())
        refund = sum((prices.get(u.product_id, Decimal(0)) * u.quantity for u in units), Decimal("0.00"))
        rma.refund_amount = refund.quantize(Decimal("0.01"))
        rma.status = ReturnAuthorization.Status.PROCESSED
        rma.processed_at = timezone.now()
        rma.save(update_fields=["refund_amount", "status", "processed_at"])
        audit_record(
            obj_type="inbound.return",
            obj_id=rma.pk,
            action="processed",
            merchant_id=rma.merchant_id,
            after={"refund_amount": rma.refund_amount, "units": len(units)},
        )
        outbox.emit(
            EV_RETURN_PROCESSED,
            {
                "merchant_id": rma.merchant_id,
                "rma_id": rma.pk,
                "rma_number": rma.number,
                "order_id": rma.order_id,
                "reason": rma.reason,
                "refund_amount": str(rma.refund_amount),
                "currency": rma.currency,
                "units": [
                    {"product_id": u.product_id, "quantity": u.quantity, "grade": u.grade} for u in units
                ],
                "origin": rma.origin,
            },
            merchant_id=rma.merchant_id,
        )
    return rma
