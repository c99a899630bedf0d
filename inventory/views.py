"""Merchant screens: catalog, product page ("why is available N?"), inventory levels and movements, CSV
import/export, inbound shipments. Views parse input, call one service or selector, render."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required
from inventory import selectors, services
from inventory.exceptions import InventoryError
from inventory.forms import (
    ChannelRuleForm,
    ImportForm,
    InboundForm,
    ProductChannelRuleForm,
    ProductForm,
    StockSettingsForm,
)
from inventory.models import (
    CatalogImport,
    ChannelAllocationRule,
    InboundShipment,
    LowStockAlert,
    Product,
    StockMovement,
)


class _Echo:
    def write(self, value):
        return value


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(r) for r in rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _page(request, qs, per_page: int = 50):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _render(request, template: str, ctx: dict) -> TemplateResponse:
    response = TemplateResponse(request, template, ctx)
    response["Vary"] = "HX-Request"
    return response


# --- Catalog -------------------------------------------------------------------------------------------


@merchant_required
def product_list(request):
    g = request.GET
    qs = selectors.product_list(
        merchant=request.merchant,
        q=g.get("q", ""),
        status=g.get("status", ""),
        kind=g.get("kind", ""),
        flag=g.get("flag", ""),
    )
    if g.get("format") == "csv":
        return _csv_response(services.catalog_export_rows(merchant=request.merchant), "catalog.csv")
    page = _page(request, qs)
    ctx = {
        "page": page,
        "q": g.get("q", ""),
        "status": g.get("status", ""),
        "kind": g.get("kind", ""),
        "flag": g.get("flag", ""),
        "statuses": Product.Status.choices,
        "drafts": Product.objects.for_merchant(request.merchant).filter(status="draft").count(),
    }
    template = (
        "inventory/product_list.html#rows"
        if request.headers.get("HX-Request")
        else "inventory/product_list.html"
    )
    return _render(request, template, ctx)


@merchant_required
def product_new(request):
    form = ProductForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            with audit_context(actor_for_request(request)):
                product = services.product_create(
                    merchant=request.merchant, sku=fields.pop("sku"), name=fields.pop("name"), **fields
                )
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"{product.sku} added as a draft. Activate it from the catalog review.")
            return redirect("inventory:product_detail", pk=product.pk)
    return TemplateResponse(request, "inventory/product_form.html", {"form": form, "product": None})


@merchant_required
def product_edit(request, pk: int):
    product = get_for_merchant_or_404(Product.objects, request.merchant, pk=pk)
    form = ProductForm(request.POST or None, request.FILES or None, instance=product)
    if request.method == "POST" and form.is_valid():
        fresh = Product.objects.get(
            pk=product.pk
        )  # the form mutated ``product``; the service diffs from the row
        try:
            with audit_context(actor_for_request(request)):
                services.product_update(product=fresh, **form.service_fields())
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, "Saved.")
            return redirect("inventory:product_detail", pk=product.pk)
    return TemplateResponse(request, "inventory/product_form.html", {"form": form, "product": product})


@merchant_required
def product_detail(request, pk: int):
    product = get_for_merchant_or_404(Product.objects, request.merchant, pk=pk)
    return TemplateResponse(request, "inventory/product_detail.html", _product_ctx(request, product))


def _product_ctx(request, product: Product, channel_form: ProductChannelRuleForm | None = None) -> dict:
    warehouse_code = request.GET.get("warehouse", "")
    warehouse = selectors.warehouse_list(merchant=request.merchant).filter(code=warehouse_code).first()
    breakdown = selectors.availability_breakdown(
        merchant=request.merchant, product=product, warehouse=warehouse
    )
    movements = _page(request, selectors.movement_list(merchant=request.merchant, sku=product.sku), 25)
    trend = selectors.trend_svg_points(selectors.stock_trend(merchant=request.merchant, product=product))
    channel_rows = selectors.product_channel_rows(merchant=request.merchant, product=product)
    per_channel = [(row.channel, row.available_to_sell) for row in channel_rows]
    return {
        "product": product,
        "b": breakdown,
        "movements": movements,
        "trend": trend,
        "components": selectors.kit_components(kit=product) if product.is_kit else [],
        "warehouses": selectors.warehouse_list(merchant=request.merchant),
        "warehouse": warehouse,
        "per_channel": per_channel,
        "quants": selectors.quant_list(merchant=request.merchant, product=product)[:100],
        "channel_rows": channel_rows,
        "channel_form": channel_form or ProductChannelRuleForm(initial={"rule": "all"}),
        "rule_choices": ChannelAllocationRule.Rule.choices,
    }


@merchant_required
@require_POST
def product_channel_rule(request, pk: int):
    """Saves (or, with ``reset``, removes) this product's rule for one channel."""
    product = get_for_merchant_or_404(Product.objects, request.merchant, pk=pk)
    form = ProductChannelRuleForm(request.POST)
    if request.POST.get("reset") and request.POST.get("channel"):
        with audit_context(actor_for_request(request)):
            services.channel_rule_delete(
                merchant=request.merchant, channel=request.POST["channel"], product=product
            )
        messages.success(request, f"{request.POST['channel']}: back to the channel's default rule.")
        return redirect(f"{product_url(product)}#channels")
    if form.is_valid():
        try:
            with audit_context(actor_for_request(request)):
                services.channel_rule_save(merchant=request.merchant, product=product, **form.cleaned_data)
        except ValidationError as exc:
            for field_name, errs in exc.message_dict.items():
                form.add_error(field_name if field_name in form.fields else None, errs)
        else:
            messages.success(
                request, f"{form.cleaned_data['channel']}: rule saved; the channel will be updated."
            )
            return redirect(f"{product_url(product)}#channels")
    return TemplateResponse(
        request,
        "inventory/product_detail.html",
        _product_ctx(request, product, channel_form=form),
        status=400,
    )


def product_url(product: Product) -> str:
    from django.urls import reverse

    return reverse("inventory:product_detail", args=[product.pk])


@merchant_required
@require_POST
def product_safety_stock(request, pk: int, code: str):
    product = get_for_merchant_or_404(Product.objects, request.merchant, pk=pk)
    warehouse = selectors.warehouse_list(merchant=request.merchant).filter(code=code).first()
    form = StockSettingsForm(request.POST)
    if warehouse is None or not form.is_valid():
        messages.error(request, "Give a whole number of units.")
    else:
        with audit_context(actor_for_request(request)):
            services.stock_set_safety_stock(
                merchant=request.merchant,
                product=product,
                warehouse=warehouse,
                safety_stock=form.cleaned_data["safety_stock"],
            )
        messages.success(
            request, f"Safety stock in {warehouse.code} set to {form.cleaned_data['safety_stock']}."
        )
    return redirect("inventory:product_detail", pk=product.pk)


@merchant_required
def catalog_review(request):
    drafts = (
        Product.objects.for_merchant(request.merchant).filter(status=Product.Status.DRAFT).order_by("sku")
    )
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("product") if i.isdigit()]
        with audit_context(actor_for_request(request)):
            n = services.catalog_activate(merchant=request.merchant, product_ids=ids or None)
        messages.success(request, f"{n} product{'s' if n != 1 else ''} activated: they can now be ordered.")
        return redirect("inventory:catalog_review")
    return TemplateResponse(request, "inventory/catalog_review.html", {"drafts": drafts})


@merchant_required
def catalog_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        name, content = form.cleaned_data["file"]
        staged = services.catalog_import_stage(merchant=request.merchant, content=content, filename=name)
        return redirect("inventory:catalog_import_preview", pk=staged.pk)
    return TemplateResponse(request, "inventory/catalog_import.html", {"form": form})


@merchant_required
def catalog_import_preview(request, pk: int):
    staged = get_for_merchant_or_404(CatalogImport.objects, request.merchant, pk=pk)
    if request.method == "POST":
        with audit_context(actor_for_request(request)):
            created, updated, skipped = services.catalog_import_confirm(
                merchant=request.merchant, staged=staged
            )
        messages.success(
            request,
            f"Imported: {created} created, {updated} updated"
            + (f", {len(skipped)} rows skipped." if skipped else "."),
        )
        return redirect("inventory:product_list")
    preview = services.catalog_import_parse(merchant=request.merchant, content=staged.content)
    return TemplateResponse(
        request, "inventory/catalog_import_preview.html", {"staged": staged, "preview": preview}
    )


# --- Inventory -----------------------------------------------------------------------------------------


@merchant_required
def inventory_home(request):
    g = request.GET
    levels = selectors.level_list(
        merchant=request.merchant,
        q=g.get("q", ""),
        warehouse=g.get("warehouse", ""),
        low_only=g.get("low") == "1",
    )
    if g.get("format") == "csv":
        rows = [
            [
                "sku",
                "name",
                "warehouse",
                "on_hand",
                "reserved",
                "held",
                "safety_stock",
                "available",
                "backordered",
                "inbound",
                "quarantined",
            ]
        ]
        rows += [
            [
                lv.product.sku,
                lv.product.name,
                lv.warehouse.code,
                lv.on_hand,
                lv.reserved,
                lv.held,
                lv.safety_stock,
                lv.available,
                lv.backordered,
                lv.inbound,
                lv.quarantined,
            ]
            for lv in levels
        ]
        return _csv_response(rows, "inventory.csv")
    ctx = {
        "page": _page(request, levels),
        "q": g.get("q", ""),
        "warehouse": g.get("warehouse", ""),
        "low": g.get("low") == "1",
        "warehouses": selectors.warehouse_list(merchant=request.merchant),
        "alerts": [
            (a, selectors.reorder_suggestion(merchant=request.merchant, product=a.product))
            for a in selectors.low_stock_alerts(merchant=request.merchant)[:20]
        ],
        "totals": selectors.stock_totals(merchant=request.merchant),
        "trend": selectors.trend_svg_points(selectors.stock_trend(merchant=request.merchant)),
    }
    template = (
        "inventory/inventory.html#levels" if request.headers.get("HX-Request") else "inventory/inventory.html"
    )
    return _render(request, template, ctx)


@merchant_required
@require_POST
def alert_dismiss(request, pk: int):
    alert = get_for_merchant_or_404(LowStockAlert.objects, request.merchant, pk=pk)
    LowStockAlert.objects.filter(pk=alert.pk).update(dismissed=True)
    return redirect("inventory:home")


@merchant_required
def movement_list(request):
    g = request.GET
    since = None
    if g.get("since"):
        from django.utils.dateparse import parse_date

        d = parse_date(g["since"])
        if d:
            from datetime import datetime, time

            from django.utils import timezone

            since = timezone.make_aware(datetime.combine(d, time.min))
    qs = selectors.movement_list(
        merchant=request.merchant,
        sku=g.get("sku", ""),
        warehouse=g.get("warehouse", ""),
        type=g.get("type", ""),
        since=since,
        reference=g.get("reference", ""),
    )
    if g.get("format") == "csv":
        rows = [
            [
                "time",
                "type",
                "sku",
                "warehouse",
                "quantity",
                "from",
                "to",
                "lot",
                "reason",
                "reference",
                "actor",
            ]
        ]
        rows += [
            [
                m.created_at.isoformat(),
                m.type,
                m.product.sku,
                m.warehouse.code,
                m.quantity,
                m.from_location.code if m.from_location_id else "",
                m.to_location.code if m.to_location_id else "",
                m.lot,
                m.reason,
                m.reference,
                m.actor_label,
            ]
            for m in qs.iterator(chunk_size=1000)
        ]
        return _csv_response(rows, "movements.csv")
    return TemplateResponse(
        request,
        "inventory/movements.html",
        {
            "page": _page(request, qs),
            "g": g,
            "types": StockMovement.Type.choices,
            "warehouses": selectors.warehouse_list(merchant=request.merchant),
        },
    )


@merchant_required
def report(request):
    """Reports by product, location and period: movements summed per product and type over a date range."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
    days = max(1, min(days, 366))
    since = timezone.now() - timedelta(days=days)
    by = request.GET.get("by", "product")
    qs = selectors.movement_list(merchant=request.merchant, since=since)
    if by == "location":
        rows = (
            qs.values("warehouse__code", "to_location__code", "type")
            .annotate(units=Sum("quantity"))
            .order_by("warehouse__code", "to_location__code", "type")
        )
    else:
        rows = (
            qs.values("product__sku", "product__name", "type")
            .annotate(units=Sum("quantity"))
            .order_by("product__sku", "type")
        )
    return TemplateResponse(
        request, "inventory/report.html", {"rows": list(rows[:2000]), "by": by, "days": days}
    )


@merchant_required
def channel_rules(request):
    form = ChannelRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with audit_context(actor_for_request(request)):
            rule = services.channel_rule_save(
                merchant=request.merchant,
                channel=form.cleaned_data["channel"],
                **{
                    k: form.cleaned_data[k]
                    for k in ("rule", "share_percent", "cap", "buffer", "show_zero_below")
                },
            )
        messages.success(request, f"Rule for {rule.channel} saved; channels will be updated.")
        return redirect("inventory:channel_rules")
    rules = ChannelAllocationRule.objects.for_merchant(request.merchant).order_by("channel")
    return TemplateResponse(request, "inventory/channel_rules.html", {"form": form, "rules": rules})


# --- Inbound shipments ---------------------------------------------------------------------------------


@merchant_required
def inbound_list(request):
    qs = selectors.inbound_list(
        merchant=request.merchant, status=request.GET.get("status", "")
    ).prefetch_related("lines")
    return TemplateResponse(
        request,
        "inventory/inbound_list.html",
        {"page": _page(request, qs), "statuses": InboundShipment.Status.choices},
    )


@merchant_required
def inbound_new(request):
    warehouses = selectors.warehouse_list(merchant=request.merchant)
    form = InboundForm(request.POST or None, warehouses=warehouses)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        products = {
            p.sku: p
            for p in Product.objects.for_merchant(request.merchant).filter(sku__in=[s for s, _ in d["lines"]])
        }
        missing = [s for s, _ in d["lines"] if s not in products]
        if missing:
            form.add_error("lines", f"Unknown SKU: {', '.join(missing)}")
        else:
            try:
                with audit_context(actor_for_request(request)):
                    shipment = services.inbound_create(
                        merchant=request.merchant,
                        warehouse=d["warehouse"],
                        lines=[(products[s], q) for s, q in d["lines"]],
                        reference=d["reference"],
                        expected_at=d["expected_at"],
                        carrier=d["carrier"],
                        tracking_number=d["tracking_number"],
                    )
            except InventoryError as exc:
                form.add_error("lines", str(exc))
            else:
                messages.success(request, "Inbound shipment created. Label your boxes with its number.")
                return redirect("inventory:inbound_detail", pk=shipment.pk)
    return TemplateResponse(request, "inventory/inbound_new.html", {"form": form})


@merchant_required
def inbound_detail(request, pk: int):
    shipment = get_for_merchant_or_404(
        InboundShipment.objects.select_related("warehouse"), request.merchant, pk=pk
    )
    return TemplateResponse(
        request,
        "inventory/inbound_detail.html",
        {"s": shipment, "lines": shipment.lines.select_related("product")},
    )
