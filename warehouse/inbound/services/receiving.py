"""Receiving at the dock: the session per inbound shipment (ASN), the tablet's scans (one batch, one
transaction, idempotent per scan id), purchase-order progress and the receiving report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record, record_many
from inventory.exceptions import InventoryError
from inventory.models import InboundShipment, Product
from warehouse.inbound import inv as inv
from warehouse.inbound.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PutawayTask,
    ReceiptLine,
    ReceivingSession,
)
from warehouse.inbound.selectors import putaway_suggest_many
from warehouse.inbound.services._common import FloorError

EV_RECEIVING_DONE = "inbound.receiving_completed"


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
