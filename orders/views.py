"""Order book pages: list (filters, search, keyset pages, saved filters, bulk actions, CSV export), detail
(lines, allocations, routing explanation, timeline, shipments, the actions its state allows), manual entry,
CSV upload, the exceptions queue, settings, routing analytics and the what-if simulator."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required
from orders import panels, reports, routing, selectors, services
from orders.api import canonical_from_api
from orders.exceptions import InvalidOrder, OrderError
from orders.forms import (
    CsvUploadForm,
    FilterForm,
    ManualOrderForm,
    SettingsForm,
    SimulateForm,
    SkuMappingForm,
)
from orders.models import CsvImport, OrderStatus
from orders.services import bulk as bulk_services
from orders.services import preferences
from orders.services.workflow import ALLOWED_FROM, BEFORE_PICKING, IN_WAREHOUSE

ACTION_LABELS = {
    "release": "Release to warehouse",
    "hold": "Put on hold",
    "unhold": "Release hold",
    "cancel": "Cancel order",
    "retry": "Validate again",
    "intercept": "Request intercept",
}


def _filters(request) -> dict:
    return {k: request.GET.get(k, "") for k in selectors.FILTER_KEYS}


def allowed_actions(order) -> list[tuple[str, str]]:
    actions = []
    for name in ("release", "hold", "unhold", "retry", "cancel"):
        key = "validate" if name == "retry" else name
        if order.status in ALLOWED_FROM[key]:
            actions.append((name, ACTION_LABELS[name]))
    if order.status in IN_WAREHOUSE:
        actions.append(("intercept", ACTION_LABELS["intercept"]))
    return actions


@merchant_required
def order_list(request):
    form = FilterForm(request.GET or None)
    filters = _filters(request)
    error = ""
    try:
        page = selectors.order_list(
            merchant=request.merchant,
            filters=filters,
            sort=request.GET.get("sort", "newest"),
            cursor=request.GET.get("cursor") or None,
            limit=50,
            columns=selectors.LIST_COLUMNS,
        )
    except ValueError as exc:
        page, error = selectors.Page(rows=[], next_cursor=None, sort="newest"), str(exc)
    params = request.GET.copy()
    params.pop("cursor", None)
    base_query = params.urlencode()
    ctx = {
        "form": form,
        "page": page,
        "error": error,
        "base_query": base_query,
        "next_query": f"{base_query}&cursor={page.next_cursor}" if page.next_cursor else "",
        "is_first": not request.GET.get("cursor"),
        "saved_filters": selectors.saved_filter_list(merchant=request.merchant, user=request.user),
        "bulk_actions": bulk_services.ACTIONS,
        "open_exceptions": selectors.exception_queue(merchant=request.merchant).count()
        if not request.htmx
        else 0,
    }
    template = (
        "orders/list.html#rows"
        if request.htmx and request.htmx.target == "order-rows"
        else "orders/list.html"
    )
    response = TemplateResponse(request, template, ctx)
    response["Vary"] = "HX-Request"
    return response


@merchant_required
def order_export(request):
    filters = _filters(request)
    try:
        selectors.order_filter(merchant=request.merchant, filters=filters)
    except ValueError as exc:
        raise Http404(str(exc)) from exc

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())
    header = [
        "number",
        "channel",
        "external_id",
        "status",
        "created_at",
        "customer_name",
        "customer_email",
        "ship_to_city",
        "ship_to_state",
        "ship_to_postal_code",
        "ship_to_country",
        "shipping_service",
        "priority",
        "total",
        "currency",
        "skus",
        "units",
        "exception_reason",
    ]

    def rows():
        yield writer.writerow(header)
        for o in selectors.export_rows(merchant=request.merchant, filters=filters):
            lines = list(o.lines.all())
            yield writer.writerow(
                [
                    o.number,
                    o.channel,
                    o.external_id,
                    o.status,
                    o.created_at.isoformat(),
                    o.customer_name,
                    o.customer_email,
                    o.ship_to_city,
                    o.ship_to_state,
                    o.ship_to_postal_code,
                    o.ship_to_country,
                    o.shipping_service,
                    o.priority,
                    f"{o.total:.2f}",
                    o.currency,
                    " ".join(f"{ln.sku}x{ln.quantity - ln.cancelled_quantity}" for ln in lines),
                    sum(ln.quantity - ln.cancelled_quantity for ln in lines),
                    o.exception_reason,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="orders.csv"'
    return response


@merchant_required
@require_POST
def order_bulk(request):
    action = request.POST.get("action", "")
    scope = request.POST.get("scope", "selected")
    filters = {k: request.POST.get(f"f_{k}", "") for k in selectors.FILTER_KEYS}
    ids = [int(x) for x in request.POST.getlist("ids") if x.isdigit()]
    if action not in bulk_services.ACTIONS:
        messages.error(request, "Choose an action.")
        return redirect("orders:list")
    if scope == "selected" and not ids:
        messages.error(request, "Select orders first, or choose 'all matching this filter'.")
        return redirect("orders:list")
    try:
        priority = int(request.POST.get("priority") or 0)
    except ValueError:
        priority = 0
    targets = bulk_services.bulk_targets(
        merchant=request.merchant,
        order_ids=ids if scope == "selected" else None,
        filters=filters if scope == "filter" else None,
    )
    ctx = {
        "action": action,
        "scope": scope,
        "ids": ids,
        "filters": filters,
        "count": len(targets),
        "priority": priority,
        "capped": len(targets) >= bulk_services.MAX_BULK,
    }
    if request.POST.get("confirm") != "1":
        return TemplateResponse(request, "orders/bulk_confirm.html", ctx)
    with audit_context(actor_for_request(request)):
        result = services.orders_bulk(
            merchant=request.merchant, action=action, order_ids=targets, priority=priority
        )
    return TemplateResponse(request, "orders/bulk_result.html", {**ctx, "result": result})


@merchant_required
def order_detail(request, order_id: int, *, status: int = 200, extra: dict | None = None):
    order = selectors.order_get(merchant=request.merchant, order_id=order_id)
    lines = list(order.lines.all())
    ctx = {
        "order": order,
        "lines": lines,
        "exceptions": selectors.order_open_exceptions(order=order),
        "history": selectors.order_history(order=order),
        "shipments": selectors.order_shipments(order),
        "actions": allowed_actions(order),
        "changeable": order.status in BEFORE_PICKING,
        "candidates": (order.routing or {}).get("candidates", []),
        "options": (order.routing or {}).get("options", []),
        "services": ["standard", "expedited", "overnight"],
        "panels": panels.render_detail_panels(request, order),
        **(extra or {}),
    }
    return TemplateResponse(request, "orders/detail.html", ctx, status=status)


@merchant_required
def order_action(request, order_id: int, action: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    order = selectors.order_get(merchant=request.merchant, order_id=order_id)
    post = request.POST
    try:
        with audit_context(actor_for_request(request)):
            if action == "release":
                services.order_release(order=order)
            elif action == "hold":
                services.order_hold(order=order, reason=post.get("reason", ""))
            elif action == "unhold":
                services.order_unhold(order=order)
            elif action == "cancel":
                services.order_cancel(order=order, reason=post.get("reason", ""))
            elif action == "retry":
                services.order_retry(order=order)
            elif action == "intercept":
                services.order_request_intercept(order=order, reason=post.get("reason", ""))
            elif action == "address":
                address = {
                    k: post.get(k)
                    for k in (
                        "name",
                        "company",
                        "street1",
                        "street2",
                        "city",
                        "state",
                        "postal_code",
                        "country",
                        "phone",
                        "email",
                    )
                    if k in post
                }
                services.order_change_address(order=order, address=address)
            elif action == "service":
                services.order_change_service(order=order, shipping_service=post.get("shipping_service", ""))
            elif action == "priority":
                services.order_set_priority(order=order, priority=int(post.get("priority") or 0))
            elif action == "lines":
                changes = []
                for line in order.lines.all():
                    qty, sku = post.get(f"qty_{line.pk}"), (post.get(f"sku_{line.pk}") or "").strip()
                    change = {"id": line.pk}
                    if qty not in (None, "") and int(qty) != line.quantity - line.cancelled_quantity:
                        change["quantity"] = int(qty)
                    if sku and sku != line.sku:
                        change["sku"] = sku
                    if len(change) > 1:
                        changes.append(change)
                if post.get("new_sku") and post.get("new_qty"):
                    changes.append(
                        {
                            "sku": post["new_sku"],
                            "quantity": int(post["new_qty"]),
                            "unit_price": post.get("new_price") or "0",
                        }
                    )
                if changes:
                    services.order_change_lines(order=order, changes=changes)
            elif action == "cancel_lines":
                lines = []
                for line in order.lines.all():
                    qty = post.get(f"cancel_{line.pk}")
                    if qty and int(qty) > 0:
                        lines.append({"id": line.pk, "quantity": int(qty)})
                if not lines:
                    raise OrderError("Choose how many units of which lines to cancel.")
                services.order_cancel(order=order, lines=lines, reason=post.get("reason", ""))
            else:
                raise Http404("Unknown action.")
    except (OrderError, ValueError) as exc:
        messages.error(request, str(exc))
        return order_detail(request, order_id, status=409)
    if action == "release" and order.status == OrderStatus.ON_HOLD:
        messages.warning(request, "Not released: the order is on hold (see “Needs attention”).")
    else:
        messages.success(request, "Done.")
    return redirect("orders:detail", order_id=order.pk)


@merchant_required
def order_new(request):
    form = ManualOrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        data = {
            "channel": "manual",
            "external_id": d["external_id"],
            "ship_to": {
                k: d.get(k) or ""
                for k in (
                    "name",
                    "company",
                    "street1",
                    "street2",
                    "city",
                    "state",
                    "postal_code",
                    "country",
                    "phone",
                    "email",
                )
            },
            "customer_name": d["name"],
            "customer_email": d.get("email") or "",
            "lines": d["lines"],
            "shipping_service": d["shipping_service"],
            "priority": d.get("priority") or 0,
            "gift_message": d.get("gift_message") or "",
            "note": d.get("note") or "",
            "tags": [t.strip() for t in (d.get("tags") or "").split(",") if t.strip()],
        }
        try:
            with audit_context(actor_for_request(request)):
                order, created = services.order_import(
                    merchant=request.merchant, order=canonical_from_api(data, default_channel="manual")
                )
        except InvalidOrder as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Order {order.number} {'created' if created else 'updated'}.")
            return redirect("orders:detail", order_id=order.pk)
    return TemplateResponse(request, "orders/new.html", {"form": form})


@merchant_required
def order_import_csv(request):
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            form.add_error("file", "At most 10 MB per file.")
        else:
            batch = services.csv_import_preview(
                merchant=request.merchant, user=request.user, filename=upload.name, content=upload.read()
            )
            return redirect("orders:import_preview", import_id=batch.pk)
    return TemplateResponse(request, "orders/import.html", {"form": form})


@merchant_required
def order_import_preview(request, import_id: int):
    batch = get_for_merchant_or_404(CsvImport.objects, request.merchant, pk=import_id)
    if request.method == "POST":
        with audit_context(actor_for_request(request)):
            result = services.csv_import_confirm(merchant=request.merchant, csv_import=batch)
        messages.success(
            request,
            f"Imported: {result['created']} new, {result['updated']} updated, {len(result['failed'])} failed.",
        )
        return redirect("orders:import_preview", import_id=batch.pk)
    return TemplateResponse(
        request, "orders/import_preview.html", {"batch": batch, "orders": batch.orders[:200]}
    )


@merchant_required
def exception_queue(request):
    reason = request.GET.get("reason", "")
    form = SkuMappingForm(request.POST or None, initial={"external_sku": request.GET.get("sku", "")})
    if request.method == "POST" and form.is_valid():
        with audit_context(actor_for_request(request)):
            services.sku_mapping_create(merchant=request.merchant, **form.cleaned_data)
        messages.success(
            request,
            f"{form.cleaned_data['external_sku']} now means {form.cleaned_data['product_sku']}; waiting orders are validated again.",
        )
        return redirect("orders:exceptions")
    rows = list(selectors.exception_queue(merchant=request.merchant, reason=reason)[:200])
    return TemplateResponse(request, "orders/exceptions.html", {"rows": rows, "form": form, "reason": reason})


@merchant_required
def order_settings(request):
    current = preferences.order_settings_get(merchant=request.merchant)
    form = SettingsForm(
        request.POST or None,
        instance=current,
        initial={"preferred": ", ".join(current.preferred_warehouses or [])},
    )
    if request.method == "POST" and form.is_valid():
        fields = {k: form.cleaned_data[k] for k in SettingsForm.Meta.fields}
        fields["preferred_warehouses"] = [
            c.strip() for c in form.cleaned_data.get("preferred", "").split(",") if c.strip()
        ]
        with audit_context(actor_for_request(request)):
            preferences.order_settings_update(merchant=request.merchant, **fields)
        messages.success(request, "Order settings saved.")
        return redirect("orders:settings")
    return TemplateResponse(request, "orders/settings.html", {"form": form})


@merchant_required
def routing_report(request):
    stats = reports.routing_stats(merchant=request.merchant)
    current = preferences.order_settings_get(merchant=request.merchant)
    form = SimulateForm(
        request.GET if "simulate" in request.GET else None,
        initial={
            "allow_split": current.allow_split,
            "max_wait_days": current.max_wait_days,
            "split_penalty": current.split_penalty,
            "wait_cost_per_day": current.wait_cost_per_day,
            "preferred": ", ".join(current.preferred_warehouses or []),
            "default_lead_time_days": current.default_lead_time_days,
        },
    )
    simulation = None
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        simulation = reports.simulate(
            merchant=request.merchant,
            proposed=routing.RoutingSettings(
                allow_split=d["allow_split"],
                max_wait_days=d["max_wait_days"],
                split_penalty=d["split_penalty"] or Decimal("0"),
                wait_cost_per_day=d["wait_cost_per_day"] or Decimal("0"),
                preferred=tuple(c.strip() for c in (d.get("preferred") or "").split(",") if c.strip()),
                default_lead_days=d.get("default_lead_time_days") or 0,
            ),
        )
    return TemplateResponse(
        request, "orders/routing.html", {"stats": stats, "form": form, "simulation": simulation}
    )


@merchant_required
@require_POST
def saved_filter_save(request):
    name = request.POST.get("name", "").strip()
    if name:
        preferences.saved_filter_create(
            merchant=request.merchant, user=request.user, name=name, query=request.POST.get("query", "")
        )
        messages.success(request, f"Filter '{name}' saved.")
    return redirect(f"{reverse('orders:list')}?{request.POST.get('query', '')}")


@merchant_required
@require_POST
def saved_filter_delete(request, filter_id: int):
    preferences.saved_filter_delete(merchant=request.merchant, user=request.user, filter_id=filter_id)
    return redirect("orders:list")


STATUS_CHOICES = OrderStatus.choices
