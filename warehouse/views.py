"""Warehouse floor screens: waves and batches for managers, scan-first picking and packing for associates.

Operator staff only (``request.user.is_operator``); a merchant user gets 403. Staff act only in the
warehouses they are assigned to (``warehouse.access``): pickers list those, and a batch, pack session or
replenishment task of another warehouse is a 403. Scans post a client-made ``scan_id`` so a retried request
is answered from the first one (see ``services._scan_once``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.services import staff_warehouse_assign
from fulfil.audit import actor_for_request, audit_context
from inventory.models import Warehouse
from orders.models import OrderLine
from warehouse import documents, packing, selectors, services
from warehouse.access import (
    NO_ASSIGNMENT,
    operator_required,
    pick_warehouse,
    require_warehouse,
    staff_warehouses,
)
from warehouse.exceptions import WarehouseError
from warehouse.models import Batch, PackSession, PickTask, QcChecklist, ReplenishmentTask


def _warehouse(request: HttpRequest) -> Warehouse:
    """The current outbound warehouse, one the user is assigned to (``?wh=`` of another is a 403)."""
    wh = pick_warehouse(request, outbound=True)
    if wh is None:
        no_floor = request.user.works_everywhere or request.user.warehouse_codes
        raise WarehouseError("No warehouse is set up yet." if no_floor else NO_ASSIGNMENT)
    return wh


def _staff_get(request: HttpRequest, qs: QuerySet, pk: int) -> Model:
    """One floor object by pk (404 when absent), 403 unless it is in a warehouse the user works in."""
    obj = get_object_or_404(qs, pk=pk)
    require_warehouse(request.user, obj.warehouse)
    return obj


@operator_required
def home(request: HttpRequest) -> HttpResponse:
    try:
        wh = _warehouse(request)
    except WarehouseError as exc:
        return TemplateResponse(request, "warehouse/home.html", {"error": str(exc)})
    batches = Paginator(selectors.batch_list(warehouse=wh).exclude(status=Batch.Status.CANCELLED), 25)
    ctx = {
        "wh": wh,
        "warehouses": staff_warehouses(request.user).filter(owner_merchant__isnull=True),
        "waves": selectors.wave_list(warehouse=wh)[:10],
        "batches": batches.get_page(request.GET.get("page")),
        "releasable": selectors.releasable_orders(warehouse=wh).count(),
    }
    return TemplateResponse(request, "warehouse/home.html", ctx)


@operator_required
@require_POST
def wave_create(request: HttpRequest) -> HttpResponse:
    if not request.user.is_warehouse_manager:
        raise PermissionDenied("Waves are created by warehouse managers.")
    wh = _warehouse(request)
    rules = {
        "line_profile": request.POST.get("line_profile", "any"),
        "handling": request.POST.get("handling", "any"),
        "zone": request.POST.get("zone", "").strip(),
        "priority_first": True,
    }
    levels = request.POST.getlist("service_levels")
    if levels:
        rules["service_levels"] = levels
    totes = max(1, min(24, int(request.POST.get("totes") or 8)))
    with audit_context(actor_for_request(request)):
        wave = services.wave_create(warehouse=wh, user=request.user, rules=rules, cart_totes=totes)
    return redirect(f"/app/warehouse/?wave={wave.pk}")


@operator_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _staff_get(request, Batch.objects.select_related("warehouse"), pk)
    return TemplateResponse(
        request, "warehouse/batch.html", {"batch": batch, "tasks": selectors.batch_tasks(batch=batch)}
    )


@operator_required
def pick_list_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _staff_get(request, Batch.objects.select_related("warehouse"), pk)
    pdf = documents.pick_list_pdf(batch=batch, tasks=selectors.batch_tasks(batch=batch))
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="picklist-{batch.number}.pdf"'
    return resp


def _pick_ctx(batch: Batch, result=None) -> dict:
    task = selectors.batch_next_task(batch=batch)
    tasks = selectors.batch_tasks(batch=batch)
    done = sum(1 for t in tasks if t.status != PickTask.Status.PENDING)
    qc = services.qc_due_at_pick(task) if task is not None and task.location_confirmed else None
    return {"batch": batch, "task": task, "result": result, "done": done, "total": len(tasks), "qc": qc}


def _qc_answer(request: HttpRequest) -> dict:
    """The checklist form: ticked questions failed; "fail" with none ticked fails on the typed reason."""
    failed = [q for q in request.POST.get("failed", "").split("\n") if q.strip()]
    reason = request.POST.get("reason", "").strip()[:300]
    if request.POST.get("verdict") == "fail" and not failed:
        failed = [reason or "Failed the check"]
    if request.POST.get("verdict") == "pass":
        failed = []
    return {"failed_questions": failed, "reason": reason}


@operator_required
def pick(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _staff_get(request, Batch.objects.select_related("warehouse"), pk)
    if batch.status == Batch.Status.OPEN:
        with audit_context(actor_for_request(request)):
            batch = services.batch_start(batch=batch, user=request.user)
    return TemplateResponse(request, "warehouse/pick.html", _pick_ctx(batch))


@operator_required
@require_POST
def pick_scan(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _staff_get(request, Batch.objects.select_related("warehouse"), pk)
    code = request.POST.get("code", "").strip()
    qty = request.POST.get("quantity", "").strip()
    scan_id = request.POST.get("scan_id", "")
    with audit_context(actor_for_request(request)):
        try:
            if request.POST.get("action") == "short":
                result = services.pick_short(batch=batch, user=request.user, scan_id=scan_id)
            elif request.POST.get("action") == "qc":
                result = services.pick_qc(
                    batch=batch, user=request.user, scan_id=scan_id, **_qc_answer(request)
                )
            else:
                result = services.pick_scan(
                    batch=batch,
                    user=request.user,
                    scan_id=scan_id,
                    code=code,
                    quantity=int(qty) if qty.isdigit() else None,
                )
        except WarehouseError as exc:
            result = services.ScanResult(False, str(exc))
    batch.refresh_from_db()
    resp = TemplateResponse(request, "warehouse/pick.html#task", _pick_ctx(batch, result))
    resp["Vary"] = "HX-Request"
    return resp


@operator_required
def pack_station(request: HttpRequest) -> HttpResponse:
    error, wh = "", None
    try:
        wh = _warehouse(request)
    except WarehouseError as exc:
        error = str(exc)
    if request.method == "POST" and wh is not None:
        try:
            session = services.pack_open(warehouse=wh, user=request.user, code=request.POST.get("code", ""))
            return redirect("warehouse:pack_session", pk=session.pk)
        except WarehouseError as exc:
            error = str(exc)
    status = 409 if error and request.method == "POST" else 200
    return TemplateResponse(request, "warehouse/pack_station.html", {"error": error, "wh": wh}, status=status)


def _pack_ctx(session: PackSession, result=None) -> dict:
    expected = services.pack_expected(session)
    lines = list(OrderLine.objects.filter(pk__in=expected).select_related("product"))
    verified = {int(k): v for k, v in session.verified.items()}
    rows = [{"line": ln, "due": expected[ln.pk], "scanned": verified.get(ln.pk, 0)} for ln in lines]
    names = {str(ln.pk): ln.sku for ln in lines}
    diagrams = []
    for parcel, raw in zip(services.plan_parcels(session.plan), session.plan.get("parcels", []), strict=True):
        labels = {k: names.get(str(k).split(":")[0], str(k)) for k, *_ in raw["placements"]}
        diagrams.append({"svg": packing.parcel_svg(parcel, labels=labels), "parcel": raw})
    instructions = _instructions(session, lines)
    qc = QcChecklist.objects.filter(pk=session.qc_due.get("checklist")).first() if session.qc_due else None
    return {
        "qc": qc,
        "qc_sku": session.qc_due.get("sku", "") if session.qc_due else "",
        "session": session,
        "order": session.order,
        "rows": rows,
        "result": result,
        "diagrams": diagrams,
        "instructions": instructions,
    }


def _instructions(session: PackSession, lines: list[OrderLine]) -> list[str]:
    order = session.order
    rules = selectors.packing_rules(product_ids=[ln.product_id for ln in lines])
    out = []
    if any(ln.product and ln.product.fragile for ln in lines) or order.is_fragile:
        out.append("Fragile: wrap each fragile item in bubble wrap; fill every gap; FRAGILE sticker on top.")
    for ln in lines:
        rule = rules.get(ln.product_id)
        if rule and rule.void_fill:
            out.append(f"{ln.sku}: void fill with {rule.get_void_fill_display().lower()}.")
        if rule and rule.this_side_up:
            out.append(f"{ln.sku}: this side up — arrows on the box.")
        if rule and rule.instructions:
            out.append(f"{ln.sku}: {rule.instructions}")
        if ln.product and ln.product.custom_inserts:
            out.append(f"Insert: {ln.product.custom_inserts}")
    if order.custom_packaging:
        out.append("Branded packaging: use the merchant's branded box and tape.")
    if order.is_gift or order.gift_message:
        out.append(f"Gift: no prices on the slip; add the gift note: “{order.gift_message}”.")
    if not out:
        out.append("Standard: items in, kraft paper void fill, seal.")
    return out


@operator_required
def pack_session(request: HttpRequest, pk: int) -> HttpResponse:
    session = _staff_get(request, PackSession.objects.select_related("order", "warehouse"), pk)
    return TemplateResponse(request, "warehouse/pack.html", _pack_ctx(session))


@operator_required
@require_POST
def pack_scan(request: HttpRequest, pk: int) -> HttpResponse:
    session = _staff_get(request, PackSession.objects.select_related("warehouse"), pk)
    with audit_context(actor_for_request(request)):
        try:
            if request.POST.get("action") == "qc":
                result = services.pack_qc(
                    session=session,
                    user=request.user,
                    scan_id=request.POST.get("scan_id", ""),
                    **_qc_answer(request),
                )
            else:
                result = services.pack_verify(
                    session=session,
                    user=request.user,
                    scan_id=request.POST.get("scan_id", ""),
                    code=request.POST.get("code", ""),
                )
        except WarehouseError as exc:
            result = services.ScanResult(False, str(exc))
    session.refresh_from_db()
    resp = TemplateResponse(request, "warehouse/pack.html#packpanel", _pack_ctx(session, result))
    resp["Vary"] = "HX-Request"
    return resp


@operator_required
@require_POST
def pack_ship(request: HttpRequest, pk: int) -> HttpResponse:
    session = _staff_get(request, PackSession.objects.select_related("warehouse"), pk)
    weight = request.POST.get("weight_g", "").strip()
    result = None
    with audit_context(actor_for_request(request)):
        try:
            if not weight.isdigit():
                raise WarehouseError("Type the weight in grams.")
            session = services.pack_ship(session=session, user=request.user, weight_g=int(weight))
            result = services.ScanResult(True, "Shipped. Print the label and the packing slip.")
            left = sum(ln.open_quantity for ln in OrderLine.objects.filter(order_id=session.order_id))
            if left:
                result = services.ScanResult(
                    True,
                    f"Shipped what was picked. {left} more unit{'s stay' if left != 1 else ' stays'} open "
                    "(backordered) and ship on a later cart. Print the label and the packing slip.",
                )
        except WarehouseError as exc:
            result = services.ScanResult(False, str(exc))
        except Exception as exc:  # a carrier failure: say so, keep the session
            if exc.__class__.__module__.startswith("integrations"):
                result = services.ScanResult(False, f"Label not bought: {exc}")
            else:
                raise
    session.refresh_from_db()
    resp = TemplateResponse(request, "warehouse/pack.html#packpanel", _pack_ctx(session, result))
    resp["Vary"] = "HX-Request"
    return resp


def _shipment(session: PackSession, n: int):
    from integrations.carriers.models import Shipment

    ids = session.shipment_ids or []
    return Shipment.objects.filter(pk=ids[n - 1]).first() if 0 < n <= len(ids) else None


@operator_required
def pack_label(request: HttpRequest, pk: int, n: int, fmt: str) -> HttpResponse:
    session = _staff_get(request, PackSession.objects.select_related("order", "warehouse"), pk)
    shipment = _shipment(session, n)
    if shipment is None:
        return HttpResponse("No label bought yet.", status=404)
    parcels = len(session.shipment_ids)
    if fmt == "zpl":
        body = documents.label_zpl(
            order=session.order, warehouse=session.warehouse, shipment=shipment, parcel_no=n, parcels=parcels
        )
        return HttpResponse(body, content_type="text/plain; charset=utf-8")
    pdf = documents.label_pdf(order=session.order, warehouse=session.warehouse, shipment=shipment)
    return HttpResponse(pdf, content_type="application/pdf")


@operator_required
def packing_slip(request: HttpRequest, pk: int) -> HttpResponse:
    session = _staff_get(request, PackSession.objects.select_related("order", "warehouse"), pk)
    lines = list(OrderLine.objects.filter(order=session.order).select_related("product"))
    pdf = documents.packing_slip_pdf(
        order=session.order, lines=lines, warehouse=session.warehouse, instructions=None
    )
    return HttpResponse(pdf, content_type="application/pdf")


@operator_required
def replenish_list(request: HttpRequest) -> HttpResponse:
    try:
        wh = _warehouse(request)
    except WarehouseError as exc:
        return TemplateResponse(request, "warehouse/replenish_list.html", {"error": str(exc)})
    page = Paginator(selectors.replenishment_list(warehouse=wh), 25).get_page(request.GET.get("page"))
    return TemplateResponse(request, "warehouse/replenish_list.html", {"wh": wh, "tasks": page})


@operator_required
@require_POST
def replenish_take(request: HttpRequest, pk: int) -> HttpResponse:
    task = _staff_get(request, ReplenishmentTask.objects.select_related("warehouse"), pk)
    with audit_context(actor_for_request(request)):
        try:
            services.replenishment_take(task=task, user=request.user)
        except WarehouseError as exc:
            page = Paginator(selectors.replenishment_list(warehouse=task.warehouse), 25).get_page(1)
            ctx = {"wh": task.warehouse, "tasks": page, "error": str(exc)}
            return TemplateResponse(request, "warehouse/replenish_list.html", ctx, status=409)
    return redirect("warehouse:replenish", pk=task.pk)


def _replenish_ctx(task: ReplenishmentTask, result=None) -> dict:
    return {"task": task, "result": result}


@operator_required
def replenish(request: HttpRequest, pk: int) -> HttpResponse:
    task = _staff_get(
        request,
        ReplenishmentTask.objects.select_related("product", "from_location", "to_location", "warehouse"),
        pk,
    )
    return TemplateResponse(request, "warehouse/replenish.html", _replenish_ctx(task))


@operator_required
@require_POST
def replenish_scan(request: HttpRequest, pk: int) -> HttpResponse:
    task = _staff_get(request, ReplenishmentTask.objects.select_related("warehouse"), pk)
    with audit_context(actor_for_request(request)):
        try:
            result = services.replenishment_scan(
                task=task,
                user=request.user,
                scan_id=request.POST.get("scan_id", ""),
                code=request.POST.get("code", ""),
            )
        except WarehouseError as exc:
            result = services.ScanResult(False, str(exc))
    task = ReplenishmentTask.objects.select_related("product", "from_location", "to_location").get(pk=pk)
    resp = TemplateResponse(request, "warehouse/replenish.html#task", _replenish_ctx(task, result))
    resp["Vary"] = "HX-Request"
    return resp


# --- Staff assignment (warehouse managers) ----------------------------------------------------------------


@operator_required
def staff(request: HttpRequest) -> HttpResponse:
    """Operator staff with their roles and warehouses; a manager assigns and unassigns them within the
    manager's own warehouses (operator admins: any). Operator admins work everywhere and are not assigned."""
    if not request.user.is_warehouse_manager:
        raise PermissionDenied("Only warehouse managers assign staff to warehouses.")
    mine = list(staff_warehouses(request.user))
    if request.method == "POST":
        member = get_object_or_404(
            User.objects.filter(is_superuser=False).exclude(
                operator_role__in=["", User.OperatorRole.OPERATOR_ADMIN]
            ),
            pk=request.POST.get("staff") if str(request.POST.get("staff", "")).isdigit() else 0,
        )
        if member.pk == request.user.pk:
            raise PermissionDenied("Ask another manager to change your own warehouses.")
        wh = get_object_or_404(Warehouse, code=request.POST.get("wh", ""))
        require_warehouse(request.user, wh)
        assign = request.POST.get("action") == "assign"
        with audit_context(actor_for_request(request)):
            staff_warehouse_assign(staff=member, code=wh.code, assigned=assign)
        messages.success(
            request, f"{member.email} {'assigned to' if assign else 'unassigned from'} {wh.code}."
        )
        return redirect(f"{request.path}?page={request.POST.get('page') or 1}")
    people = User.objects.filter(Q(is_superuser=True) | ~Q(operator_role="")).order_by("email")
    page = Paginator(people, 25).get_page(request.GET.get("page"))
    rows = [
        {
            "person": person,
            "everywhere": person.works_everywhere,
            "codes": sorted(person.warehouse_codes or []),
            "manageable": not person.works_everywhere and person.pk != request.user.pk,
        }
        for person in page
    ]
    return TemplateResponse(request, "warehouse/staff.html", {"page": page, "rows": rows, "warehouses": mine})
