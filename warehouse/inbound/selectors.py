"""Reads of the receiving floor and stock control."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.http import Http404
from django.utils import timezone

from inventory.models import InboundShipment, Location, Product, StockQuant
from warehouse.access import staff_scope, staff_warehouses
from warehouse.inbound import abc, putaway
from warehouse.inbound.models import (
    CountSettings,
    CycleCount,
    LocationProfile,
    PurchaseOrder,
    PutawayTask,
    QcChecklist,
    ReceiptLine,
    ReceivingSession,
    ReturnAuthorization,
    ReturnPortalSettings,
    Vendor,
)

COLD_MAX_C = 8


# --- Policy -------------------------------------------------------------------------------------------


def count_policy(*, warehouse_id: int) -> abc.CountPolicy:
    row = CountSettings.objects.filter(warehouse_id=warehouse_id).first()
    if row is None:
        return abc.DEFAULT_POLICY
    return abc.CountPolicy(
        a_share=row.a_share_pct / 100,
        b_share=row.b_share_pct / 100,
        a_days=row.a_days,
        b_days=row.b_days,
        c_days=row.c_days,
        recount_variance_pct=float(row.recount_variance_pct),
        recount_variance_units=row.recount_variance_units,
        approval_value=row.approval_value,
    )


# --- Putaway ------------------------------------------------------------------------------------------


def product_needs(product: Product) -> putaway.ProductNeeds:
    cold = product.temperature_max_c is not None and product.temperature_max_c <= COLD_MAX_C
    return putaway.ProductNeeds(
        cold=cold,
        hazmat=product.hazmat,
        length_mm=product.length_mm,
        width_mm=product.width_mm,
        height_mm=product.height_mm,
        weight_g=product.weight_g,
    )


def putaway_slots(*, product: Product, warehouse_id: int) -> list[putaway.Slot]:
    locations = list(
        Location.objects.filter(
            warehouse_id=warehouse_id, is_active=True, type__in=[Location.Type.PICK, Location.Type.RESERVE]
        )
    )
    ids = [loc.pk for loc in locations]
    units = dict(
        StockQuant.objects.filter(location_id__in=ids, quantity__gt=0)
        .values_list("location_id")
        .annotate(n=Sum("quantity"))
        .values_list("location_id", "n")
    )
    holding = set(
        StockQuant.objects.filter(location_id__in=ids, product=product, quantity__gt=0).values_list(
            "location_id", flat=True
        )
    )
    profiles = {p.location_id: p for p in LocationProfile.objects.filter(location_id__in=ids)}
    slots = []
    for loc in locations:
        prof = profiles.get(loc.pk)
        slots.append(
            putaway.Slot(
                location_id=loc.pk,
                code=loc.code,
                type=loc.type,
                x=loc.x,
                y=loc.y,
                capacity=loc.capacity,
                units=int(units.get(loc.pk, 0)),
                holds_product=loc.pk in holding,
                cold=bool(getattr(loc, "cold", False) or (prof and prof.cold)),
                hazmat=bool(getattr(loc, "hazmat", False) or (prof and prof.hazmat)),
                max_length_mm=prof.max_length_mm if prof else 0,
                max_width_mm=prof.max_width_mm if prof else 0,
                max_height_mm=prof.max_height_mm if prof else 0,
                max_weight_g=prof.max_weight_g if prof else 0,
            )
        )
    return slots


def putaway_suggest(
    *, product: Product, warehouse_id: int, quantity: int, origin: Location | None = None
) -> tuple[str, Location] | None:
    """``(reason, location)`` for the units, or None when nothing suitable is free."""
    slots = putaway_slots(product=product, warehouse_id=warehouse_id)
    best = putaway.suggest(
        slots,
        needs=product_needs(product),
        quantity=quantity,
        origin=(origin.x, origin.y) if origin else (0.0, 0.0),
    )
    if best is None:
        return None
    return best[0], Location.objects.get(pk=best[1].location_id)


def putaway_suggest_many(
    *, items: list[tuple[Product, int]], warehouse_id: int, origin: Location | None = None
) -> list[tuple[str, Location] | None]:
    """``putaway_suggest`` for many receipts at once (a batch of scans): the warehouse's slots, what they
    hold and their profiles are read once (four queries whatever the batch size), and each suggestion counts
    the units suggested before it, so two receipts in one batch do not both get the last free bin."""
    if not items:
        return []
    locations = {
        loc.pk: loc
        for loc in Location.objects.filter(
            warehouse_id=warehouse_id, is_active=True, type__in=[Location.Type.PICK, Location.Type.RESERVE]
        )
    }
    units = dict(
        StockQuant.objects.filter(warehouse_id=warehouse_id, quantity__gt=0)
        .values_list("location_id")
        .annotate(n=Sum("quantity"))
        .values_list("location_id", "n")
    )
    holding: dict[int, set[int]] = {}
    for loc_id, pid in StockQuant.objects.filter(
        warehouse_id=warehouse_id, product_id__in={p.pk for p, _ in items}, quantity__gt=0
    ).values_list("location_id", "product_id"):
        if loc_id in locations:
            holding.setdefault(pid, set()).add(loc_id)
    profiles = {p.location_id: p for p in LocationProfile.objects.filter(location__warehouse_id=warehouse_id)}
    base: dict[int, putaway.Slot] = {}
    for loc in locations.values():
        prof = profiles.get(loc.pk)
        base[loc.pk] = putaway.Slot(
            location_id=loc.pk,
            code=loc.code,
            type=loc.type,
            x=loc.x,
            y=loc.y,
            capacity=loc.capacity,
            units=int(units.get(loc.pk, 0)),
            holds_product=False,
            cold=bool(getattr(loc, "cold", False) or (prof and prof.cold)),
            hazmat=bool(getattr(loc, "hazmat", False) or (prof and prof.hazmat)),
            max_length_mm=prof.max_length_mm if prof else 0,
            max_width_mm=prof.max_width_mm if prof else 0,
            max_height_mm=prof.max_height_mm if prof else 0,
            max_weight_g=prof.max_weight_g if prof else 0,
        )
    out: list[tuple[str, Location] | None] = []
    xy = (origin.x, origin.y) if origin else (0.0, 0.0)
    for product, quantity in items:
        held = holding.setdefault(product.pk, set())
        slots = list(base.values())
        if held:
            slots = [replace(sl, holds_product=True) if sl.location_id in held else sl for sl in slots]
        best = putaway.suggest(slots, needs=product_needs(product), quantity=quantity, origin=xy)
        if best is None:
            out.append(None)
            continue
        loc_id = best[1].location_id
        base[loc_id] = replace(base[loc_id], units=base[loc_id].units + quantity)
        held.add(loc_id)
        out.append((best[0], locations[loc_id]))
    return out


def putaway_open_list(*, warehouse_id: int | None = None):
    qs = PutawayTask.objects.filter(status=PutawayTask.Status.OPEN).select_related(
        "product", "from_location", "suggested_location", "warehouse"
    )
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.order_by("created_at", "pk")


# --- QC -----------------------------------------------------------------------------------------------


def qc_checklist_for(*, product: Product) -> QcChecklist | None:
    """The most specific active checklist: the product's category (or a SKU prefix), else a catch-all."""
    return _best_checklist(
        list(QcChecklist.objects.for_merchant(product.merchant_id).filter(is_active=True)), product
    )


def _best_checklist(candidates: list[QcChecklist], product: Product) -> QcChecklist | None:
    category = (getattr(product, "category", "") or "").strip()
    best = None
    for c in candidates:
        if c.category and (c.category == category or product.sku.startswith(c.category)):
            if best is None or not best.category or len(c.category) > len(best.category):
                best = c
        elif not c.category and best is None:
            best = c
    return best


# --- Merchant-facing lists ----------------------------------------------------------------------------


def vendor_list(*, merchant):
    return Vendor.objects.for_merchant(merchant).order_by("name", "pk")


def purchase_order_list(*, merchant):
    return (
        PurchaseOrder.objects.for_merchant(merchant)
        .select_related("vendor", "warehouse")
        .order_by("-created_at", "-pk")
    )


def return_list(*, merchant, status: str = ""):
    qs = (
        ReturnAuthorization.objects.for_merchant(merchant)
        .select_related("order")
        .order_by("-created_at", "-pk")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def access_shipment(merchant, shipment_id) -> InboundShipment:
    try:
        return (
            InboundShipment.objects.for_merchant(merchant)
            .select_related("warehouse")
            .get(pk=int(shipment_id))
        )
    except (InboundShipment.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Not found.") from exc


_NO_SESSION = object()


def receiving_report(*, shipment: InboundShipment, session=_NO_SESSION) -> dict:
    """Expected vs received vs damaged per SKU, the flagged extras, and dock-to-stock. Reads a fixed number
    of rows whatever the number of scans (receipts are summed in the database), so the tablet can re-render
    it after every batch and the merchant's page can poll it."""
    from django.contrib.postgres.aggregates import ArrayAgg

    if session is _NO_SESSION:
        session = ReceivingSession.objects.filter(shipment=shipment).first()
    asn_lines = list(shipment.lines.select_related("product").order_by("pk"))
    sums = (
        list(
            ReceiptLine.objects.filter(session=session)
            .values("product_id", "damaged")
            .annotate(n=Sum("quantity"), lots=ArrayAgg("lot", distinct=True))
            .order_by()
        )
        if session
        else []
    )
    rows: dict[int, dict] = {}
    for ln in asn_lines:
        rows[ln.product_id] = {
            "product": ln.product,
            "expected": ln.quantity_expected,
            "received": 0,
            "damaged": 0,
            "on_asn": ln.quantity_expected > 0,  # inventory adds a 0-expected line for an extra product
            "lots": set(),
        }
    missing = {r["product_id"] for r in sums} - set(rows)
    for product in Product.objects.filter(pk__in=missing) if missing else []:
        rows[product.pk] = {
            "product": product,
            "expected": 0,
            "received": 0,
            "damaged": 0,
            "on_asn": False,
            "lots": set(),
        }
    for r in sums:
        row = rows[r["product_id"]]
        row["damaged" if r["damaged"] else "received"] += int(r["n"] or 0)
        row["lots"].update(lot for lot in r["lots"] if lot)
    if not sums:  # received through the API rather than the floor: read the ASN's own counters
        for ln in asn_lines:
            rows[ln.product_id]["received"] = ln.quantity_received
            rows[ln.product_id]["damaged"] = ln.quantity_damaged
    lines = []
    for row in rows.values():
        row["difference"] = row["received"] + row["damaged"] - row["expected"]
        row["status"] = (
            "not on ASN"
            if not row["on_asn"]
            else "over"
            if row["difference"] > 0
            else "short"
            if row["difference"] < 0
            else "ok"
        )
        row["lots"] = ", ".join(sorted(row["lots"]))
        lines.append(row)
    totals = {k: sum(r[k] for r in lines) for k in ("expected", "received", "damaged")}
    return {
        "shipment": shipment,
        "session": session,
        "lines": lines,
        "totals": totals,
        "dock_to_stock_seconds": session.dock_to_stock_seconds if session else None,
        "inspections": list(session.inspections.select_related("product", "checklist")) if session else [],
        # the merchant's report page polls while receiving can still change it
        "live": (
            session.status == ReceivingSession.Status.OPEN
            if session is not None
            else shipment.status in (InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING)
        ),
    }


def qc_due(*, session: ReceivingSession, report: dict) -> list[dict]:
    """The QC checks the floor still owes for what was received (two queries whatever the lines)."""
    from warehouse.inbound.services import qc_sample_size

    candidates = list(QcChecklist.objects.for_merchant(session.merchant_id).filter(is_active=True))
    if not candidates:
        return []
    inspected = {i.product_id for i in report["inspections"]}
    out = []
    for row in report["lines"]:
        product = row["product"]
        if not row["received"] or product.pk in inspected:
            continue
        checklist = _best_checklist(candidates, product)
        if checklist:
            out.append(
                {
                    "product": product,
                    "checklist": checklist,
                    "sample": qc_sample_size(received=row["received"], rate_pct=checklist.sample_rate_pct),
                }
            )
    return out


def inbound_schedule(
    *, warehouse_id: int | None = None, days: int = 14, start: dt.date | None = None, staff=None
):
    """Open ASNs grouped by dock day (expected date), overdue first; ``staff``: only their warehouses."""
    start = start or timezone.localdate()
    qs = InboundShipment.objects.filter(
        status__in=[InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING]
    ).select_related("warehouse")
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    if staff is not None:
        qs = staff_scope(qs, staff)
    qs = qs.filter(Q(expected_at__lte=start + dt.timedelta(days=days)) | Q(expected_at__isnull=True))
    qs = qs.annotate(n_lines=Count("lines"), units=Sum("lines__quantity_expected"))
    by_day: dict[dt.date | None, list] = {}
    for s in qs.order_by("expected_at", "pk"):
        day = s.expected_at if s.expected_at is None or s.expected_at >= start else None
        by_day.setdefault(day, []).append(s)
    overdue = [s for s in by_day.pop(None, []) if s.expected_at is not None]
    unscheduled = [s for s in qs if s.expected_at is None]
    days_list = [(d, by_day[d]) for d in sorted(d for d in by_day if d is not None)]
    return {"overdue": overdue, "days": days_list, "unscheduled": unscheduled, "start": start}


# --- Counts -------------------------------------------------------------------------------------------


def count_queue(*, warehouse_id: int | None = None, statuses=None):
    qs = CycleCount.objects.filter(status__in=statuses or CycleCount.OPEN_STATUSES).select_related(
        "location", "product", "warehouse"
    )
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.order_by("-priority", "created_at", "pk")


def count_accuracy(*, since: dt.datetime | None = None, warehouse_id: int | None = None, staff=None) -> dict:
    """Share of closed counts with no variance — overall, by location, by counter, by SKU, by week;
    ``staff``: only the warehouses that user works in."""
    qs = CycleCount.objects.filter(status__in=[CycleCount.Status.DONE, CycleCount.Status.REJECTED])
    if since:
        qs = qs.filter(closed_at__gte=since)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    if staff is not None:
        qs = staff_scope(qs, staff)

    def group(field: str) -> list[dict]:
        out = []
        for row in (
            qs.values(field)
            .annotate(n=Count("pk"), exact=Count("pk", filter=Q(variance=0)), value=Sum("variance_value"))
            .order_by(field)
        ):
            out.append(
                {
                    "key": row[field],
                    "counts": row["n"],
                    "exact": row["exact"],
                    "accuracy_pct": round(100.0 * row["exact"] / row["n"], 1) if row["n"] else None,
                    "variance_value": row["value"] or Decimal("0.00"),
                }
            )
        return out

    total = qs.count()
    exact = qs.filter(variance=0).count()
    from django.db.models.functions import TruncWeek

    weekly = [
        {
            "week": row["week"],
            "counts": row["n"],
            "accuracy_pct": round(100.0 * row["exact"] / row["n"], 1) if row["n"] else None,
        }
        for row in qs.annotate(week=TruncWeek("closed_at"))
        .values("week")
        .annotate(n=Count("pk"), exact=Count("pk", filter=Q(variance=0)))
        .order_by("week")
    ]
    return {
        "counts": total,
        "exact": exact,
        "accuracy_pct": round(100.0 * exact / total, 1) if total else None,
        "by_location": group("location__code"),
        "by_counter": group("counted_by__email"),
        "by_sku": group("product__sku"),
        "weekly": weekly,
    }


def variance_report(*, since: dt.datetime | None = None, warehouse_id: int | None = None):
    qs = (
        CycleCount.objects.exclude(variance=0)
        .filter(status__in=[CycleCount.Status.DONE, CycleCount.Status.REJECTED, CycleCount.Status.APPROVAL])
        .select_related("product", "location", "counted_by", "approved_by")
    )
    if since:
        qs = qs.filter(counted_at__gte=since)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.order_by("-variance_value", "-pk")


def warehouses_for_staff(user):
    """The operator's warehouses ``user`` works in (see ``warehouse.access``)."""
    return staff_warehouses(user).filter(owner_merchant__isnull=True)


# --- The customer return portal --------------------------------------------------------------------------


def portal_settings_for(*, merchant) -> ReturnPortalSettings:
    """The merchant's portal settings (an unsaved default — off — when never set)."""
    mid = getattr(merchant, "pk", merchant)
    return ReturnPortalSettings.objects.filter(merchant_id=mid).first() or ReturnPortalSettings(
        merchant_id=mid
    )


def portal_get(*, token: str) -> ReturnPortalSettings | None:
    """An enabled portal by its public token; None for an unknown token or a portal that is off."""
    if not token or len(token) > 32:
        return None
    return (
        ReturnPortalSettings.objects.select_related("merchant")
        .filter(token=token, enabled=True, merchant__is_active=True)
        .first()
    )


def _norm_postal(value: str) -> str:
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


def portal_order_lookup(*, portal: ReturnPortalSettings, number: str, proof: str):
    """The portal merchant's order with this number (or external id) whose email (ship-to or customer) or
    ship-to postal code is ``proof``; None otherwise — the caller answers the same whatever the reason, so a
    lookup never tells whether an order number exists."""
    from orders.models import Order

    number, proof = (number or "").strip()[:64], (proof or "").strip()[:254]
    if not number or not proof:
        return None
    candidates = list(
        Order.objects.for_merchant(portal.merchant_id).filter(Q(number=number) | Q(external_id=number))[:5]
    )
    if not candidates and number.startswith("#"):
        candidates = list(Order.objects.for_merchant(portal.merchant_id).filter(number=number[1:])[:5])
    if not candidates and not number.startswith("#"):
        candidates = list(Order.objects.for_merchant(portal.merchant_id).filter(number=f"#{number}")[:5])
    for order in candidates:
        if "@" in proof:
            emails = {e.strip().lower() for e in (order.ship_to_email, order.customer_email) if e}
            if proof.lower() in emails:
                return order
        elif _norm_postal(proof) and _norm_postal(proof) == _norm_postal(order.ship_to_postal_code):
            return order
    return None


def portal_window_open(*, portal: ReturnPortalSettings, order, now: dt.datetime | None = None) -> bool:
    shipped = order.shipped_at or order.updated_at or order.created_at
    return (now or timezone.now()) <= shipped + dt.timedelta(days=portal.window_days)


def portal_returnable_lines(*, order) -> list[dict]:
    """The order's shipped lines that can still be returned: product, units, price (what the customer sees —
    this order's lines only)."""
    from warehouse.inbound.services import return_returnable

    returnable = return_returnable(order)
    products = Product.objects.in_bulk([pid for pid, (n, _) in returnable.items() if n > 0])
    return [
        {"product": products[pid], "returnable": n, "unit_price": price, "choices": list(range(n + 1))}
        for pid, (n, price) in sorted(returnable.items())
        if n > 0 and pid in products
    ]
