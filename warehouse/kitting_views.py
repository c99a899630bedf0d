"""Build-kit task screens (``warehouse.kitting``).

* Merchants (``/app/warehouse/kits/``): ask for kits built ahead at a warehouse, follow and cancel their
  requests. Tenant-scoped: another merchant's task is a 404.
* Warehouse staff (``/app/warehouse/kits/floor/``): the open tasks of the warehouses they work in, and one
  scan-first tablet screen per task — scan components, confirm the kits built. Another warehouse's task is 403.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from accounts.models import Merchant
from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required
from inventory import services as inv
from inventory.exceptions import InventoryError
from inventory.models import Product, Warehouse
from warehouse import kitting
from warehouse.access import NO_ASSIGNMENT, operator_required, pick_warehouse, require_warehouse
from warehouse.exceptions import WarehouseError
from warehouse.models import KitBuildTask
from warehouse.services import ScanResult


class KitRequestForm(forms.Form):
    kit = forms.CharField(max_length=64, label="Kit SKU")
    warehouse = forms.CharField(max_length=20)
    quantity = forms.IntegerField(min_value=1, max_value=10000)
    notes = forms.CharField(max_length=255, required=False)


# --- Merchant ---------------------------------------------------------------------------------------------


def _request_ctx(request: HttpRequest, form: KitRequestForm) -> dict:
    tasks = KitBuildTask.objects.for_merchant(request.merchant).select_related("kit", "warehouse")
    return {
        "form": form,
        "tasks": Paginator(tasks.order_by("-created_at", "-pk"), 25).get_page(request.GET.get("page")),
        "kits": Product.objects.for_merchant(request.merchant)
        .filter(is_kit=True)
        .exclude(status="archived")[:500],
        "warehouses": Warehouse.objects.visible_to(request.merchant).filter(is_active=True),
    }


@merchant_required
def kit_requests(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = KitRequestForm(initial={"kit": request.GET.get("kit", ""), "quantity": 10})
        return TemplateResponse(request, "warehouse/kits_request.html", _request_ctx(request, form))
    form = KitRequestForm(request.POST)
    if form.is_valid():
        kit = (
            Product.objects.for_merchant(request.merchant)
            .filter(sku=form.cleaned_data["kit"], is_kit=True)
            .first()
        )
        wh = (
            Warehouse.objects.visible_to(request.merchant).filter(code=form.cleaned_data["warehouse"]).first()
        )
        if kit is None:
            form.add_error("kit", "Choose one of your kits.")
        if wh is None:
            form.add_error("warehouse", "Choose a warehouse.")
        if kit is not None and wh is not None:
            try:
                with audit_context(actor_for_request(request)):
                    task = kitting.kit_task_create(
                        merchant=request.merchant,
                        kit=kit,
                        warehouse=wh,
                        quantity=form.cleaned_data["quantity"],
                        user=request.user,
                        notes=form.cleaned_data["notes"],
                    )
            except WarehouseError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Asked {wh.code} to build {task.quantity} × {kit.sku}.")
                return redirect("warehouse:kit_requests")
    return TemplateResponse(request, "warehouse/kits_request.html", _request_ctx(request, form), status=400)


@merchant_required
@require_POST
def kit_request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_for_merchant_or_404(KitBuildTask.objects, request.merchant, pk=pk)
    try:
        with audit_context(actor_for_request(request)):
            kitting.kit_task_cancel(task=task)
        messages.success(request, "Request cancelled.")
    except WarehouseError as exc:
        messages.error(request, str(exc))
    return redirect("warehouse:kit_requests")


# --- Warehouse staff --------------------------------------------------------------------------------------


class OperatorKitRequestForm(forms.Form):
    merchant = forms.CharField(max_length=80, label="Merchant (slug)")
    kit = forms.CharField(max_length=64, label="Kit SKU")
    quantity = forms.IntegerField(min_value=1, max_value=10000)


@operator_required
def kit_floor(request: HttpRequest) -> HttpResponse:
    """Open build-kit tasks of the current warehouse; managers may also ask for kits on a merchant's behalf,
    or take free built kits apart (``action=unbuild``: their components go back to the kits' shelves)."""
    wh = pick_warehouse(request)
    if wh is None:
        no_floor = request.user.works_everywhere or request.user.warehouse_codes
        error = "No warehouse is set up yet." if no_floor else NO_ASSIGNMENT
        return TemplateResponse(request, "warehouse/kits_floor.html", {"error": error})
    form = OperatorKitRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not request.user.is_warehouse_manager:
            raise PermissionDenied("Managers ask for kits to be built.")
        if form.is_valid():
            merchant = Merchant.objects.filter(slug=form.cleaned_data["merchant"]).first()
            kit = (
                Product.objects.filter(merchant=merchant, sku=form.cleaned_data["kit"], is_kit=True).first()
                if merchant
                else None
            )
            if kit is None:
                form.add_error("kit", "No such kit for that merchant.")
            elif request.POST.get("action") == "unbuild":
                try:
                    with audit_context(actor_for_request(request)):
                        inv.kit_unbuild(
                            merchant=merchant, kit=kit, warehouse=wh, quantity=form.cleaned_data["quantity"]
                        )
                except InventoryError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, f"Took {form.cleaned_data['quantity']} × {kit.sku} apart.")
                    return redirect("warehouse:kit_floor")
            else:
                try:
                    with audit_context(actor_for_request(request)):
                        kitting.kit_task_create(
                            merchant=merchant,
                            kit=kit,
                            warehouse=wh,
                            quantity=form.cleaned_data["quantity"],
                            user=request.user,
                        )
                except WarehouseError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(
                        request, f"Task added: build {form.cleaned_data['quantity']} × {kit.sku}."
                    )
                    return redirect("warehouse:kit_floor")
        status = 400
    tasks = KitBuildTask.objects.filter(warehouse=wh, status=KitBuildTask.Status.OPEN).select_related(
        "kit", "merchant"
    )
    page = Paginator(tasks, 25).get_page(request.GET.get("page"))
    ctx = {"wh": wh, "tasks": page, "form": form}
    return TemplateResponse(request, "warehouse/kits_floor.html", ctx, status=status)


def _staff_task(request: HttpRequest, pk: int) -> KitBuildTask:
    task = get_object_or_404(KitBuildTask.objects.select_related("kit", "warehouse", "merchant"), pk=pk)
    require_warehouse(request.user, task.warehouse)
    return task


def _task_ctx(task: KitBuildTask, result: ScanResult | None = None) -> dict:
    return {
        "task": task,
        "recipe": kitting.kit_task_recipe(task),
        "ready": kitting.kits_ready(task),
        "result": result,
    }


@operator_required
def kit_task(request: HttpRequest, pk: int) -> HttpResponse:
    task = _staff_task(request, pk)
    return TemplateResponse(request, "warehouse/kit_task.html", _task_ctx(task))


@operator_required
@require_POST
def kit_task_scan(request: HttpRequest, pk: int) -> HttpResponse:
    task = _staff_task(request, pk)
    scan_id = request.POST.get("scan_id", "")
    with audit_context(actor_for_request(request)):
        try:
            if request.POST.get("action") == "confirm":
                result = kitting.kit_task_confirm_scan(
                    task=task, user=request.user, scan_id=scan_id, quantity=_int(request.POST.get("built"))
                )
            else:
                result = kitting.kit_task_scan(
                    task=task,
                    user=request.user,
                    scan_id=scan_id,
                    code=request.POST.get("code", ""),
                    quantity=_int(request.POST.get("quantity")) or 1,
                )
        except WarehouseError as exc:
            result = ScanResult(False, str(exc))
    task = _staff_task(request, pk)
    resp = TemplateResponse(request, "warehouse/kit_task.html#task", _task_ctx(task, result))
    resp["Vary"] = "HX-Request"
    return resp


def _int(value) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0
