"""Pages. Merchant side (``@merchant_required``, everything through ``for_merchant``) and the warehouse floor
(``@operator_required``: operator staff only; a merchant user gets 403). Staff see and act only in the
warehouses they are assigned to (``warehouse.access``): lists are narrowed with ``staff_scope``, and an ASN,
session, task, count or return of another warehouse is a 403 before anything changes. Floor screens are
tablet screens:
one task each, the scan input always focused, every POST idempotent by the form's ``client_scan_id``."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal, InvalidOperation
from functools import wraps

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required
from inventory.exceptions import InventoryError
from inventory.models import InboundShipment, Location, Product, Warehouse
from warehouse.access import require_warehouse, staff_scope
from warehouse.inbound import gs1, inv, selectors, services
from warehouse.inbound.models import (
    CycleCount,
    PurchaseOrder,
    PutawayTask,
    ReceivingSession,
    ReturnAuthorization,
    ReturnReason,
    ReturnUnit,
)
from warehouse.inbound.services import FloorError


def operator_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        if not getattr(request.user, "is_operator", False):
            raise PermissionDenied("Warehouse staff only.")
        with audit_context(actor_for_request(request)):
            return view(request, *args, **kwargs)

    return wrapper


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def _page(request, qs, per_page: int = 25):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _parse_lines(merchant, text: str) -> list[tuple[Product, int, Decimal]]:
    """``SKU, quantity[, unit cost]`` per line."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p.strip() for p in raw.replace(";", ",").split(",")]
        if len(parts) < 2:
            raise ValidationError({"lines": [f"Line {n}: write SKU, quantity."]})
        product = Product.objects.for_merchant(merchant).filter(sku=parts[0]).first()
        if product is None:
            raise ValidationError({"lines": [f"Line {n}: unknown SKU {parts[0]!r}."]})
        try:
            qty = int(parts[1])
            cost = Decimal(parts[2]) if len(parts) > 2 and parts[2] else Decimal("0.00")
        except (ValueError, InvalidOperation) as exc:
            raise ValidationError({"lines": [f"Line {n}: quantity must be a whole number."]}) from exc
        if qty <= 0:
            raise ValidationError({"lines": [f"Line {n}: quantity must be positive."]})
        out.append((product, qty, cost))
    if not out:
        raise ValidationError({"lines": ["Add at least one line."]})
    return out


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise ValidationError({"date": ["Use YYYY-MM-DD."]}) from exc


# =============================================================================== merchant side


@merchant_required
def shipments(request):
    qs = (
        InboundShipment.objects.for_merchant(request.merchant)
        .select_related("warehouse")
        .order_by("-created_at", "-pk")
    )
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    return TemplateResponse(
        request,
        "inbound/shipments.html",
        {"page": _page(request, qs), "status": status, "statuses": InboundShipment.Status.choices},
    )


@merchant_required
def shipment_new(request):
    warehouses = Warehouse.objects.visible_to(request.merchant).filter(is_active=True).order_by("code")
    pos = PurchaseOrder.objects.for_merchant(request.merchant).exclude(
        status__in=[PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED]
    )
    form = request.POST if request.method == "POST" else {}
    error = ""
    if request.method == "POST":
        try:
            wh = warehouses.filter(pk=request.POST.get("warehouse") or 0).first()
            if wh is None:
                raise ValidationError({"warehouse": ["Choose a warehouse."]})
            lines = _parse_lines(request.merchant, request.POST.get("lines", ""))
            with audit_context(actor_for_request(request)):
                shipment = inv.inbound_create(
                    merchant=request.merchant,
                    warehouse=wh,
                    lines=[(p, q) for p, q, _ in lines],
                    reference=request.POST.get("reference", "").strip()[:100],
                    expected_at=_date(request.POST.get("expected_at", "")),
                    carrier=request.POST.get("carrier", "").strip()[:100],
                    tracking_number=request.POST.get("tracking_number", "").strip()[:100],
                    notes=request.POST.get("notes", ""),
                )
            messages.success(
                request, f"Inbound shipment {shipment.pk} created. Print ASN:{shipment.pk} on the cartons."
            )
            return redirect("inbound:shipment", shipment_id=shipment.pk)
        except ValidationError as exc:
            error = _errors(exc)
        except InventoryError as exc:
            error = str(exc)
    return TemplateResponse(
        request,
        "inbound/shipment_new.html",
        {"warehouses": warehouses, "pos": pos, "form": form, "error": error},
        status=400 if error else 200,
    )


@merchant_required
def shipment_detail(request, shipment_id: int):
    """The receiving report; while receiving is open the page polls its ``live`` fragment (HX-Request), which
    stops polling once receiving is done."""
    shipment = selectors.access_shipment(request.merchant, shipment_id)
    template = "inbound/report.html#live" if request.headers.get("HX-Request") else "inbound/report.html"
    response = TemplateResponse(request, template, selectors.receiving_report(shipment=shipment))
    response["Vary"] = "HX-Request"
    return response


@merchant_required
def vendors(request):
    error = ""
    if request.method == "POST":
        try:
            with audit_context(actor_for_request(request)):
                services.vendor_create(
                    merchant=request.merchant,
                    name=request.POST.get("name", "").strip()[:200] or "",
                    lead_time_days=int(request.POST.get("lead_time_days") or 14),
                    email=request.POST.get("email", "").strip(),
                    code=request.POST.get("code", "").strip()[:40],
                )
            messages.success(request, "Vendor added.")
            return redirect("inbound:vendors")
        except (ValidationError, ValueError) as exc:
            error = (
                _errors(exc) if isinstance(exc, ValidationError) else "Lead time must be a number of days."
            )
    return TemplateResponse(
        request,
        "inbound/vendors.html",
        {"page": _page(request, selectors.vendor_list(merchant=request.merchant)), "error": error},
        status=400 if error else 200,
    )


@merchant_required
def purchase_orders(request):
    vendor_qs = selectors.vendor_list(merchant=request.merchant)
    warehouses = Warehouse.objects.visible_to(request.merchant).filter(is_active=True).order_by("code")
    error = ""
    if request.method == "POST":
        try:
            vendor = vendor_qs.filter(pk=request.POST.get("vendor") or 0).first()
            wh = warehouses.filter(pk=request.POST.get("warehouse") or 0).first()
            if vendor is None or wh is None:
                raise ValidationError({"vendor": ["Choose a vendor and a warehouse."]})
            with audit_context(actor_for_request(request)):
                po = services.purchase_order_create(
                    merchant=request.merchant,
                    vendor=vendor,
                    warehouse=wh,
                    number=request.POST.get("number", "").strip()[:64],
                    lines=_parse_lines(request.merchant, request.POST.get("lines", "")),
                    expected_on=_date(request.POST.get("expected_on", "")),
                )
            return redirect("inbound:purchase_order", po_id=po.pk)
        except ValidationError as exc:
            error = _errors(exc)
    return TemplateResponse(
        request,
        "inbound/purchase_orders.html",
        {
            "page": _page(request, selectors.purchase_order_list(merchant=request.merchant)),
            "vendors": vendor_qs,
            "warehouses": warehouses,
            "error": error,
            "form": request.POST,
        },
        status=400 if error else 200,
    )


@merchant_required
def purchase_order_detail(request, po_id: int):
    po = get_for_merchant_or_404(
        PurchaseOrder.objects.select_related("vendor", "warehouse"), request.merchant, pk=po_id
    )
    asns = InboundShipment.objects.for_merchant(request.merchant).filter(reference=po.number)
    return TemplateResponse(
        request,
        "inbound/purchase_order.html",
        {"po": po, "lines": po.lines.select_related("product"), "asns": asns},
    )


@merchant_required
def returns(request):
    status = request.GET.get("status", "")
    return TemplateResponse(
        request,
        "inbound/returns.html",
        {
            "page": _page(request, selectors.return_list(merchant=request.merchant, status=status)),
            "status": status,
            "statuses": ReturnAuthorization.Status.choices,
        },
    )


def _order_for(merchant, number: str):
    from orders.models import Order

    number = number.strip()
    qs = Order.objects.for_merchant(merchant)
    order = qs.filter(number=number).first() or qs.filter(external_id=number).first()
    if order is None and number.isdigit():
        order = qs.filter(pk=int(number)).first()
    return order


@merchant_required
def return_new(request):
    error = ""
    if request.method == "POST":
        try:
            order = _order_for(request.merchant, request.POST.get("order", ""))
            if order is None:
                raise ValidationError({"order": ["No order with that number."]})
            lines = [(p, q) for p, q, _ in _parse_lines(request.merchant, request.POST.get("lines", ""))]
            with audit_context(actor_for_request(request)):
                rma = services.return_open(
                    merchant=request.merchant,
                    order=order,
                    reason=request.POST.get("reason", ""),
                    lines=lines,
                    customer_note=request.POST.get("note", ""),
                    buy_label=bool(request.POST.get("buy_label")),
                )
            messages.success(request, f"Return {rma.number} opened.")
            return redirect("inbound:return", rma_id=rma.pk)
        except ValidationError as exc:
            error = _errors(exc)
        except FloorError as exc:
            error = str(exc)
    return TemplateResponse(
        request,
        "inbound/return_new.html",
        {"reasons": ReturnReason.choices, "form": request.POST, "error": error},
        status=400 if error else 200,
    )


@merchant_required
def return_portal_settings(request):
    """The merchant's customer return portal: on/off, window, reasons, prepaid labels, and its public link."""
    portal = selectors.portal_settings_for(merchant=request.merchant)
    error = ""
    if request.method == "POST":
        p = request.POST
        try:
            window = int(p.get("window_days") or 0)
        except ValueError:
            window = 0
        try:
            with audit_context(actor_for_request(request)):
                portal = services.return_portal_update(
                    merchant=request.merchant,
                    enabled=bool(p.get("enabled")),
                    window_days=window,
                    allowed_reasons=p.getlist("allowed_reasons"),
                    prepaid_labels=bool(p.get("prepaid_labels")),
                    instructions=p.get("instructions", ""),
                    new_token=bool(p.get("new_link")),
                )
            messages.success(request, "Return portal saved.")
            return redirect("inbound:return_portal")
        except ValidationError as exc:
            error = _errors(exc)
    url = request.build_absolute_uri(f"/returns/{portal.token}/") if portal.pk else ""
    return TemplateResponse(
        request,
        "inbound/return_portal.html",
        {"portal": portal, "url": url, "reasons": ReturnReason.choices, "error": error},
        status=400 if error else 200,
    )


@merchant_required
@require_POST
def return_label(request, rma_id: int):
    """Buys the prepaid return label of an open RMA (a carrier failure changes nothing and says why)."""
    rma = get_for_merchant_or_404(
        ReturnAuthorization.objects.select_related("order", "warehouse", "merchant"),
        request.merchant,
        pk=rma_id,
    )
    try:
        with audit_context(actor_for_request(request)):
            services.return_buy_label(rma=rma)
        messages.success(request, "Return label bought.")
    except FloorError as exc:
        messages.error(request, str(exc))
    return redirect("inbound:return", rma_id=rma.pk)


@merchant_required
def return_detail(request, rma_id: int):
    rma = get_for_merchant_or_404(
        ReturnAuthorization.objects.select_related("order", "warehouse"), request.merchant, pk=rma_id
    )
    return TemplateResponse(
        request,
        "inbound/return.html",
        {
            "rma": rma,
            "lines": rma.lines.select_related("product"),
            "units": rma.units.select_related("product"),
        },
    )


# =============================================================================== the floor (tablet)


def _ctx(**kw):
    return {"client_scan_id": uuid.uuid4().hex, **kw}


def _mine(request, qs):
    """``qs`` narrowed to the warehouses the user works in."""
    return staff_scope(qs, request.user)


def _staff_get(request, qs, **lookup):
    """One floor object (404 when absent), 403 unless it is in a warehouse the user works in."""
    obj = get_object_or_404(qs, **lookup)
    require_warehouse(request.user, obj.warehouse)
    return obj


@operator_required
def floor_home(request):
    return TemplateResponse(
        request,
        "inbound/floor/home.html",
        {
            "putaways": _mine(request, PutawayTask.objects.filter(status=PutawayTask.Status.OPEN)).count(),
            "counts": _mine(request, CycleCount.objects.filter(status__in=CycleCount.OPEN_STATUSES)).count(),
            "approvals": _mine(request, CycleCount.objects.filter(status=CycleCount.Status.APPROVAL)).count(),
            "returns": _mine(
                request, ReturnAuthorization.objects.filter(status=ReturnAuthorization.Status.OPEN)
            ).count(),
        },
    )


@operator_required
def floor_schedule(request):
    return TemplateResponse(
        request, "inbound/floor/schedule.html", selectors.inbound_schedule(staff=request.user)
    )


def _find_shipment(text: str) -> InboundShipment | None:
    try:
        scan = gs1.parse_scan(text)
    except gs1.ScanError:
        return None
    open_qs = InboundShipment.objects.exclude(status=InboundShipment.Status.CANCELLED)
    if scan.kind == "asn" and scan.value.isdigit():
        return open_qs.filter(pk=int(scan.value)).first()
    value = scan.sscc or scan.value
    return (
        open_qs.filter(tracking_number=value).order_by("-pk").first()
        or open_qs.filter(reference=value)
        .exclude(status=InboundShipment.Status.RECEIVED)
        .order_by("-pk")
        .first()
    )


@operator_required
def floor_receive_start(request):
    if request.method == "POST":
        shipment = _find_shipment(request.POST.get("scan", ""))
        if shipment is None:
            messages.error(request, "No open inbound shipment for that label. Scan the ASN label (ASN:…).")
            return redirect("inbound:floor_receive_start")
        require_warehouse(request.user, shipment.warehouse)
        try:
            services.receiving_start(
                shipment=shipment, user=request.user, dock=request.POST.get("dock", "")[:20]
            )
        except FloorError as exc:
            messages.error(request, str(exc))
            return redirect("inbound:floor_receive_start")
        return redirect("inbound:floor_receive", shipment_id=shipment.pk)
    return TemplateResponse(request, "inbound/floor/receive_start.html", _ctx())


def _find_product(merchant_id: int, scan: gs1.Scan) -> Product | None:
    qs = Product.objects.for_merchant(merchant_id)
    if scan.gtin:
        return qs.filter(barcode__in=scan.barcode_forms()).first()
    if scan.kind in ("sku", "text"):
        return qs.filter(sku=scan.value).first() or qs.filter(barcode=scan.value).first()
    return None


RECEIVE_BATCH_MAX = 200  # scans per request; a tablet never queues more between two answers


def _receiving_catalog(session: ReceivingSession) -> dict:
    """The ASN's products and how a scan names them (barcode as stored, SKU), cached per receiving session
    in the shared cache for a few minutes: a scan of an ASN product costs no product query."""
    # the key names the database and the session's arrival instant too, so a cache shared with another
    # database (tests, benchmarks, a restored copy) never answers for a different session with the same id
    key = (
        f"inbound:rcv-catalog:{connection.settings_dict['NAME']}:{session.pk}:"
        f"{session.shipment_id}:{session.arrived_at.timestamp()}"
    )
    catalog = cache.get(key)
    if catalog is None or catalog.get("merchant_id") != session.merchant_id:
        products = {
            ln.product.pk: ln.product
            for ln in session.shipment.lines.select_related("product").filter(quantity_expected__gt=0)
        }
        catalog = {
            "merchant_id": session.merchant_id,
            "products": products,
            "asn": set(products),
            "barcode": {p.barcode: pk for pk, p in products.items() if p.barcode},
            "sku": {p.sku: pk for pk, p in products.items()},
        }
        cache.set(key, catalog, 300)
    return catalog


def _product_for_scan(catalog: dict, merchant_id: int, scan: gs1.Scan) -> Product | None:
    if scan.gtin:
        for form in scan.barcode_forms():
            if form in catalog["barcode"]:
                return catalog["products"][catalog["barcode"][form]]
    elif scan.kind in ("sku", "text"):
        pk = catalog["sku"].get(scan.value) or catalog["barcode"].get(scan.value)
        if pk:
            return catalog["products"][pk]
    return _find_product(merchant_id, scan)  # not on the ASN (or a new barcode): ask the catalog


def _scan_in(catalog: dict, merchant_id: int, fields: dict, photo=None) -> services.ScanIn:
    """A tablet's scan (form fields or one entry of a JSON batch) → a ``ScanIn``; unreadable → its error."""
    raw = str(fields.get("scan") or fields.get("code") or "")
    scan_id = str(fields.get("client_scan_id") or fields.get("scan_id") or "")[:64] or uuid.uuid4().hex
    out = services.ScanIn(client_scan_id=scan_id, product=None, raw_scan=raw)
    try:
        scan = gs1.parse_scan(raw)
        out.product = _product_for_scan(catalog, merchant_id, scan)
        if out.product is None:
            out.error = f"Unknown item {scan.value or scan.raw!r} for this merchant — set it aside."
        out.quantity = int(fields.get("quantity") or (scan.count or 1))
        out.lot = (str(fields.get("lot") or "") or scan.lot).strip()[:64]
        out.expires_on = _date(str(fields.get("expires_on") or "")) or scan.expiry
    except gs1.ScanError as exc:
        out.error = str(exc)
    except ValueError:
        out.error = "Type the count as a whole number."
    except ValidationError as exc:
        out.error = _errors(exc)
    out.damaged = bool(fields.get("damaged"))
    out.damage_note = str(fields.get("damage_note") or "")[:200]
    out.photo = photo
    return out


def _scan_verdict(out: services.ScanOut) -> dict:
    if out.error:
        return {"ok": False, "text": out.error, "scan_id": out.client_scan_id}
    line = out.line
    state = "damaged → quarantine" if line.damaged else "available"
    flag = " (NOT ON ASN — flagged)" if not line.on_asn else ""
    return {
        "ok": True,
        "scan_id": out.client_scan_id,
        "text": f"{'Received' if out.created else 'Already recorded'}: "
        f"{line.quantity} × {line.product.sku} {state}{flag}",
    }


def _receive_panel(request, shipment, session, verdicts=None, status=200):
    report = selectors.receiving_report(shipment=shipment, session=session)
    return TemplateResponse(
        request,
        "inbound/floor/receive.html#panel",
        _ctx(**report, qc_due=selectors.qc_due(session=session, report=report), verdicts=verdicts or []),
        status=status,
    )


@operator_required
def floor_receive(request, shipment_id: int):
    """The receiving screen. A POST is a batch of scans: JSON ``{"scans": [{client_scan_id, scan, quantity,
    lot, expires_on, damaged, damage_note}, …]}`` from the tablet's queue (everything typed while the previous
    batch was in flight, received in one transaction; answered with the screen's panel as an HTML fragment),
    or the plain form (one scan, with a damage photo; answered with a redirect)."""
    shipment = _staff_get(request, InboundShipment.objects.select_related("warehouse"), pk=shipment_id)
    session = ReceivingSession.objects.filter(shipment=shipment).first()
    if session is None:
        session = services.receiving_start(shipment=shipment, user=request.user)
    session.shipment = shipment
    if request.method == "POST" and request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
            items = body.get("scans") if isinstance(body, dict) else None
            if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                raise ValueError
        except ValueError:
            return HttpResponse(
                '{"scans": ["A list of scans."]}', status=400, content_type="application/json"
            )
        if len(items) > RECEIVE_BATCH_MAX:
            return HttpResponse(
                f'{{"scans": ["At most {RECEIVE_BATCH_MAX} scans per request."]}}',
                status=400,
                content_type="application/json",
            )
        catalog = _receiving_catalog(session)
        scans = [_scan_in(catalog, shipment.merchant_id, x) for x in items]
        outs = services.receipts_record_many(
            session=session, scans=scans, user=request.user, asn_product_ids=catalog["asn"]
        )
        response = _receive_panel(request, shipment, session, [_scan_verdict(o) for o in outs])
        response["Vary"] = "HX-Request"
        return response
    if request.method == "POST":
        catalog = _receiving_catalog(session)
        scan = _scan_in(catalog, shipment.merchant_id, request.POST, photo=request.FILES.get("photo"))
        out = services.receipts_record_many(
            session=session, scans=[scan], user=request.user, asn_product_ids=catalog["asn"]
        )[0]
        verdict = _scan_verdict(out)
        (messages.success if verdict["ok"] else messages.error)(request, verdict["text"])
        return redirect("inbound:floor_receive", shipment_id=shipment.pk)
    report = selectors.receiving_report(shipment=shipment, session=session)
    return TemplateResponse(
        request,
        "inbound/floor/receive.html",
        _ctx(**report, qc_due=selectors.qc_due(session=session, report=report), verdicts=[]),
    )


@operator_required
@require_POST
def floor_receive_done(request, shipment_id: int):
    session = _staff_get(
        request, ReceivingSession.objects.select_related("warehouse"), shipment_id=shipment_id
    )
    try:
        services.receiving_complete(session=session, user=request.user)
    except (FloorError, InventoryError) as exc:
        messages.error(request, str(exc))
        return redirect("inbound:floor_receive", shipment_id=shipment_id)
    messages.success(request, "Receiving done — the merchant has the report.")
    return redirect("inbound:floor_putaway_list")


@operator_required
@require_POST
def floor_qc(request, shipment_id: int, product_id: int):
    session = _staff_get(
        request, ReceivingSession.objects.select_related("warehouse"), shipment_id=shipment_id
    )
    product = get_object_or_404(Product, pk=product_id, merchant_id=session.merchant_id)
    checklist = selectors.qc_checklist_for(product=product)
    try:
        results = {
            item: request.POST.get(f"check_{i}") == "pass"
            for i, item in enumerate(checklist.items if checklist else [])
        }
        inspection = services.qc_inspection_record(
            session=session,
            product=product,
            results=results,
            sampled=int(request.POST.get("sampled") or 1),
            failed=int(request.POST.get("failed") or 0),
            notes=request.POST.get("notes", "")[:300],
            client_scan_id=request.POST.get("client_scan_id", ""),
            user=request.user,
        )
        if inspection.passed:
            messages.success(request, f"QC passed for {product.sku}.")
        else:
            messages.error(
                request, f"QC failed: {inspection.failed} × {product.sku} quarantined, merchant notified."
            )
    except (FloorError, ValidationError, ValueError) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
    return redirect("inbound:floor_receive", shipment_id=shipment_id)


@operator_required
def floor_putaway_list(request):
    tasks = _mine(request, selectors.putaway_open_list())
    if request.method == "POST":
        text = request.POST.get("scan", "").strip()
        task = None
        if text.upper().startswith("PUT:") and text[4:].isdigit():
            task = tasks.filter(pk=int(text[4:])).first()
        if task is None:
            messages.error(request, "Scan a putaway label (PUT:…) or tap a task.")
            return redirect("inbound:floor_putaway_list")
        return redirect("inbound:floor_putaway", task_id=task.pk)
    return TemplateResponse(request, "inbound/floor/putaway_list.html", _ctx(page=_page(request, tasks, 30)))


@operator_required
def floor_putaway(request, task_id: int):
    task = _staff_get(
        request,
        PutawayTask.objects.select_related("product", "suggested_location", "from_location", "warehouse"),
        pk=task_id,
    )
    if request.method == "POST":
        text = request.POST.get("scan", "").strip()
        try:
            scan = gs1.parse_scan(text)
            code = scan.value if scan.kind in ("location", "text") else ""
            location = Location.objects.filter(warehouse_id=task.warehouse_id, code=code).first()
            if location is None:
                raise FloorError(f"Unknown location {text!r} — scan the shelf label (LOC:…).")
            services.putaway_confirm(task=task, location=location, user=request.user)
            messages.success(request, f"Put away {task.quantity} × {task.product.sku} in {location.code}.")
            nxt = selectors.putaway_open_list(warehouse_id=task.warehouse_id).first()
            return (
                redirect("inbound:floor_putaway", task_id=nxt.pk)
                if nxt
                else redirect("inbound:floor_putaway_list")
            )
        except (FloorError, gs1.ScanError) as exc:
            messages.error(request, str(exc))
        return redirect("inbound:floor_putaway", task_id=task.pk)
    return TemplateResponse(request, "inbound/floor/putaway.html", _ctx(task=task))


@operator_required
def floor_counts(request):
    queue = _mine(
        request, selectors.count_queue(statuses=[CycleCount.Status.OPEN, CycleCount.Status.RECOUNT])
    )
    return TemplateResponse(request, "inbound/floor/counts.html", {"page": _page(request, queue, 30)})


@operator_required
def floor_count(request, count_id: int):
    count = _staff_get(
        request, CycleCount.objects.select_related("location", "product", "warehouse"), pk=count_id
    )
    if request.method == "POST":
        try:
            qty = int(request.POST.get("quantity", "").strip())
            before = count.status
            count = services.count_submit(count=count, quantity=qty, user=request.user)
            if count.status == CycleCount.Status.RECOUNT:
                messages.error(
                    request, "The count differs from the system — please recount this location carefully."
                )
                return redirect("inbound:floor_count", count_id=count.pk)
            if count.status == CycleCount.Status.APPROVAL:
                messages.success(request, "Counted. The difference needs a manager's approval.")
            elif before in CycleCount.OPEN_STATUSES:
                messages.success(request, "Counted. Thank you.")
        except ValueError:
            messages.error(request, "Type the number of units you counted.")
            return redirect("inbound:floor_count", count_id=count.pk)
        except (FloorError, ValidationError) as exc:
            messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
            return redirect("inbound:floor_count", count_id=count.pk)
        nxt = _mine(
            request, selectors.count_queue(statuses=[CycleCount.Status.OPEN, CycleCount.Status.RECOUNT])
        ).first()
        return redirect("inbound:floor_count", count_id=nxt.pk) if nxt else redirect("inbound:floor_counts")
    if count.status not in (CycleCount.Status.OPEN, CycleCount.Status.RECOUNT):
        messages.info(request, f"Count {count.pk} is {count.get_status_display().lower()}.")
        return redirect("inbound:floor_counts")
    return TemplateResponse(request, "inbound/floor/count.html", _ctx(count=count))


@operator_required
def floor_approvals(request):
    if request.method == "POST":
        count_id = request.POST.get("count_id") or "0"
        count = _staff_get(
            request,
            CycleCount.objects.select_related("warehouse"),
            pk=int(count_id) if count_id.isdigit() else 0,
        )
        try:
            services.count_approve(
                count=count,
                user=request.user,
                approve=request.POST.get("decision") == "approve",
                note=request.POST.get("note", ""),
            )
            messages.success(request, f"Count {count.pk}: {request.POST.get('decision')}d.")
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        except FloorError as exc:
            messages.error(request, str(exc))
        return redirect("inbound:floor_approvals")
    queue = _mine(request, selectors.count_queue(statuses=[CycleCount.Status.APPROVAL])).select_related(
        "counted_by"
    )
    return TemplateResponse(request, "inbound/floor/approvals.html", {"page": _page(request, queue)})


@operator_required
def floor_variance(request):
    days = int(request.GET.get("days") or 30) if (request.GET.get("days") or "30").isdigit() else 30
    from django.utils import timezone

    since = timezone.now() - dt.timedelta(days=days)
    return TemplateResponse(
        request,
        "inbound/floor/variance.html",
        {
            "days": days,
            "accuracy": selectors.count_accuracy(since=since, staff=request.user),
            "page": _page(request, _mine(request, selectors.variance_report(since=since))),
        },
    )


@operator_required
def floor_count_sheet(request):
    from warehouse.inbound.pdf import count_sheet_pdf

    statuses = [CycleCount.Status.OPEN, CycleCount.Status.RECOUNT]
    queue = list(_mine(request, selectors.count_queue(statuses=statuses))[:500])
    response = HttpResponse(count_sheet_pdf(queue), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="count-sheet.pdf"'
    return response


@operator_required
def floor_help(request):
    return TemplateResponse(request, "inbound/floor/help.html", {})


@operator_required
def floor_returns(request):
    if request.method == "POST":
        text = request.POST.get("scan", "").strip()
        try:
            scan = gs1.parse_scan(text)
        except gs1.ScanError as exc:
            messages.error(request, str(exc))
            return redirect("inbound:floor_returns")
        value = scan.value
        rma = (
            ReturnAuthorization.objects.filter(number__iexact=value).order_by("-pk").first()
            or ReturnAuthorization.objects.filter(number__iexact=f"RMA-{value}").order_by("-pk").first()
            or ReturnAuthorization.objects.filter(label_tracking=value).exclude(label_tracking="").first()
        )
        if rma is None:
            messages.error(request, "No return with that label. Scan the RMA label (RMA:…).")
            return redirect("inbound:floor_returns")
        require_warehouse(request.user, rma.warehouse)
        return redirect("inbound:floor_return", rma_id=rma.pk)
    open_rmas = (
        _mine(request, ReturnAuthorization.objects)
        .filter(status__in=[ReturnAuthorization.Status.OPEN, ReturnAuthorization.Status.RECEIVED])
        .select_related("order")
    )
    return TemplateResponse(request, "inbound/floor/returns.html", _ctx(page=_page(request, open_rmas)))


@operator_required
def floor_return(request, rma_id: int):
    rma = _staff_get(request, ReturnAuthorization.objects.select_related("order", "warehouse"), pk=rma_id)
    if request.method == "POST":
        if request.POST.get("action") == "finish":
            try:
                services.return_complete(rma=rma, user=request.user)
                messages.success(request, f"{rma.number} processed; billing has the credit.")
                return redirect("inbound:floor_returns")
            except FloorError as exc:
                messages.error(request, str(exc))
            return redirect("inbound:floor_return", rma_id=rma.pk)
        try:
            scan = gs1.parse_scan(request.POST.get("scan", ""))
            product = _find_product(rma.merchant_id, scan)
            if product is None:
                raise FloorError("Unknown item — scan the product barcode.")
            unit, _created = services.return_receive_unit(
                rma=rma,
                client_scan_id=request.POST.get("client_scan_id") or uuid.uuid4().hex,
                product=product,
                grade=request.POST.get("grade", ""),
                quantity=int(request.POST.get("quantity") or 1),
                lot=(request.POST.get("lot") or scan.lot).strip(),
                note=request.POST.get("note", "")[:200],
                user=request.user,
            )
            messages.success(request, f"{unit.quantity} × {product.sku} graded {unit.get_grade_display()}.")
        except gs1.ScanError as exc:
            messages.error(request, str(exc))
        except (FloorError, InventoryError) as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        except ValueError:
            messages.error(request, "Type the quantity as a whole number.")
        return redirect("inbound:floor_return", rma_id=rma.pk)
    return TemplateResponse(
        request,
        "inbound/floor/return.html",
        _ctx(
            rma=rma,
            lines=rma.lines.select_related("product"),
            units=rma.units.select_related("product"),
            grades=ReturnUnit.Grade.choices,
        ),
    )
