"""Billing API: the public quote (no authentication), an order's costs, invoices."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import calculator, selectors, services, shipping, sources
from billing.models import ChargeLine, Invoice, OrderCost
from billing.pdf import invoice_pdf
from fulfil.drf import AnonBurstThrottle, KeyRateThrottle


def money(value) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


class QuoteRequestSerializer(serializers.Serializer):
    monthly_orders = serializers.IntegerField(min_value=1, max_value=1_000_000)
    units_per_order = serializers.IntegerField(min_value=1, max_value=100, default=1)
    weight_g = serializers.IntegerField(min_value=1, max_value=70_000)
    length_mm = serializers.IntegerField(min_value=1, max_value=3_000)
    width_mm = serializers.IntegerField(min_value=1, max_value=3_000)
    height_mm = serializers.IntegerField(min_value=1, max_value=3_000)
    zones = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=8), required=False,
                                  max_length=200, default=list)  # fmt: skip
    postal_codes = serializers.ListField(child=serializers.CharField(max_length=10), required=False, max_length=200,
                                         default=list)  # fmt: skip
    origin_postal_code = serializers.CharField(
        max_length=10, required=False, default=calculator.DEFAULT_ORIGIN
    )
    pallets = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=Decimal(0), default=Decimal(0)
    )
    cubic_feet = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal(0), default=Decimal(0)
    )
    speed = serializers.ChoiceField(choices=shipping.SPEEDS, default="standard")
    fragile = serializers.BooleanField(default=False)
    hazmat = serializers.BooleanField(default=False)
    gift_wrap = serializers.BooleanField(default=False)

    def validate_postal_codes(self, value):
        for code in value:
            try:
                shipping.zip3(code)
            except ValueError as exc:
                raise serializers.ValidationError(f"{code!r} is not a US ZIP code.") from exc
        return value

    def validate_origin_postal_code(self, value):
        try:
            shipping.zip3(value)
        except ValueError as exc:
            raise serializers.ValidationError("Not a US ZIP code.") from exc
        return value


class LineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    category = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField()
    amount = serializers.CharField()


class MethodSerializer(serializers.Serializer):
    carrier = serializers.CharField()
    service = serializers.CharField()
    code = serializers.CharField()
    speed = serializers.CharField()
    carrier_rate = serializers.CharField(help_text="average carrier rate per order across the destinations")
    price = serializers.CharField(help_text="per order as billed: carrier rate + markup + label fee")
    days_min = serializers.IntegerField()
    days_max = serializers.IntegerField()
    billable_weight_lb = serializers.IntegerField()


class TierPointSerializer(serializers.Serializer):
    monthly_orders = serializers.IntegerField()
    tier = serializers.CharField()
    per_order = serializers.CharField()


class QuoteResponseSerializer(serializers.Serializer):
    currency = serializers.CharField()
    rate_card = serializers.CharField()
    tier = serializers.CharField()
    box = serializers.CharField()
    method = MethodSerializer()
    per_order = serializers.DictField(help_text="{total, by_category, lines}")
    monthly = serializers.DictField(help_text="{total, fulfillment, packaging, shipping, storage, lines}")
    methods = MethodSerializer(many=True)
    tiers = TierPointSerializer(many=True)


def _lines(priced) -> list[dict]:
    return [
        {"kind": ln.kind, "category": ln.category, "description": ln.description,
         "quantity": f"{ln.quantity.normalize():f}", "unit_price": f"{ln.unit_price:.4f}", "amount": money(ln.amount)}
        for ln in priced.lines
    ]  # fmt: skip


def _method(m) -> dict:
    return {"carrier": m.service.carrier, "service": m.service.name, "code": m.service.code, "speed": m.service.speed,
            "carrier_rate": money(m.carrier_cost), "price": money(m.billed), "days_min": m.days_min,
            "days_max": m.days_max, "billable_weight_lb": m.billable_lb}  # fmt: skip


class PricingQuoteApi(APIView):
    """The public pricing calculator: no authentication; anonymous callers are rate limited per IP."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonBurstThrottle, KeyRateThrottle]

    @extend_schema(
        request=QuoteRequestSerializer, responses={200: QuoteResponseSerializer}, auth=[],
        summary="Quote fulfillment costs (public, no authentication)",
        description="Same engine as invoices. Weights in grams, lengths in millimetres; money as strings.",
    )  # fmt: skip
    def post(self, request):
        s = QuoteRequestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        inp = calculator.QuoteInput(
            monthly_orders=d["monthly_orders"], units_per_order=d["units_per_order"], weight_g=Decimal(d["weight_g"]),
            length_mm=Decimal(d["length_mm"]), width_mm=Decimal(d["width_mm"]), height_mm=Decimal(d["height_mm"]),
            destinations=calculator.destinations_from(zones=d["zones"], postal_codes=d["postal_codes"],
                                                      origin_zip=d["origin_postal_code"]),
            pallets=d["pallets"], cubic_feet=d["cubic_feet"], speed=d["speed"], fragile=d["fragile"],
            hazmat=d["hazmat"], gift_wrap=d["gift_wrap"], origin_zip=d["origin_postal_code"],
        )  # fmt: skip
        card = selectors.card_in_force(None)
        q = calculator.quote(inp, card=card)
        b = q.breakdown()
        return Response({
            "currency": card.currency,
            "rate_card": card.label,
            "tier": q.tier.name,
            "box": q.box.code,
            "method": _method(q.method),
            "per_order": {"total": money(q.per_order_total), "storage_share": money(q.storage_per_order),
                          "by_category": {k: money(v) for k, v in q.per_order.by_category().items()},
                          "lines": _lines(q.per_order)},
            "monthly": {"total": money(q.monthly.total), **{k: money(v) for k, v in b.items()},
                        "lines": _lines(q.monthly)},
            "methods": [_method(m) for m in q.methods],
            "tiers": [{"monthly_orders": v, "tier": t, "per_order": money(c)} for v, t, c in q.chart],
        })  # fmt: skip


class CostSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField(help_text="estimated | actual")
    estimated = serializers.DictField(allow_null=True)
    actual = serializers.DictField(allow_null=True)
    difference = serializers.CharField(allow_null=True)


def _cost_block(data: dict, total) -> dict | None:
    if total is None:
        return None
    cats = data.get("by_category", {})
    return {
        "total": money(total),
        "fulfillment": money(Decimal(cats.get("fulfillment", 0))),
        "packaging": money(Decimal(cats.get("packaging", 0))),
        "shipping": money(Decimal(cats.get("shipping", 0))),
        "surcharges": money(Decimal(cats.get("surcharges", 0)) + Decimal(cats.get("adjustments", 0))),
        "tier": data.get("tier", ""),
        "lines": [{k: v for k, v in ln.items()} for ln in data.get("lines", [])],
        **{k: data[k] for k in ("box", "service", "zone") if k in data},
    }


class OrderCostsApi(APIView):
    @extend_schema(responses={200: CostSerializer, 404: OpenApiResponse(description="unknown or foreign order")},
                   summary="An order's cost: estimated before shipping, actual after, line by line")  # fmt: skip
    def get(self, request, order_id: int):
        merchant = request.merchant
        if merchant is None or sources.order_get(merchant.pk, order_id) is None:
            raise NotFound("Not found.")
        cost = OrderCost.objects.for_merchant(merchant).filter(order_id=order_id).first()
        if (
            cost is None or cost.actual_total is None
        ):  # not shipped: always the estimate of the order as it is now
            cost = services.order_cost_estimate(merchant_id=merchant.pk, order_id=order_id)
        return Response({
            "order_id": order_id,
            "currency": cost.currency,
            "status": "actual" if cost.actual_total is not None else "estimated",
            "estimated": _cost_block(cost.estimated, cost.estimated_total),
            "actual": _cost_block(cost.actual, cost.actual_total),
            "difference": money(cost.difference),
        })  # fmt: skip


class InvoiceLineSerializer(serializers.ModelSerializer):
    quantity = serializers.SerializerMethodField()
    unit_price = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()

    class Meta:
        model = ChargeLine
        fields = ["id", "occurred_at", "kind", "category", "description", "quantity", "unit_price", "amount",
                  "tax_rate", "tax", "currency", "tier", "source", "corrects"]  # fmt: skip

    def get_quantity(self, obj) -> str:
        return f"{obj.quantity.normalize():f}"

    def get_unit_price(self, obj) -> str:
        return f"{obj.unit_price:.6f}"

    def get_amount(self, obj) -> str:
        return money(obj.amount)

    def get_tax(self, obj) -> str:
        return money(obj.tax)

    def get_source(self, obj) -> dict:
        return {"type": obj.source_type.model if obj.source_type_id else "", "id": obj.source_id,
                "label": obj.source_label}  # fmt: skip


class InvoiceSerializer(serializers.ModelSerializer):
    subtotal = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    amount_paid = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = ["id", "number", "period_start", "period_end", "issued_at", "due_on", "status", "currency",
                  "subtotal", "tax", "total", "amount_paid", "balance", "pdf_url"]  # fmt: skip

    def get_subtotal(self, obj) -> str:
        return money(obj.subtotal)

    def get_tax(self, obj) -> str:
        return money(obj.tax)

    def get_total(self, obj) -> str:
        return money(obj.total)

    def get_amount_paid(self, obj) -> str:
        return money(obj.amount_paid)

    def get_balance(self, obj) -> str:
        return money(obj.balance)

    def get_pdf_url(self, obj) -> str:
        url = reverse("api:invoice-pdf", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = serializers.SerializerMethodField()

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]

    @extend_schema_field(InvoiceLineSerializer(many=True))
    def get_lines(self, obj) -> list[dict]:
        return InvoiceLineSerializer(obj.lines.select_related("source_type").order_by("occurred_at", "pk"),
                                     many=True).data  # fmt: skip


class InvoiceListApi(ListAPIView):
    serializer_class = InvoiceSerializer

    def get_queryset(self):
        qs = Invoice.objects.for_merchant(self.request.merchant).order_by("-issued_at", "-pk")
        status = self.request.query_params.get("status")
        if status:
            qs = qs.filter(status=status)
        return qs

    @extend_schema(summary="Invoices: period, totals, status, PDF link")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvoiceDetailApi(RetrieveAPIView):
    serializer_class = InvoiceDetailSerializer

    def get_queryset(self):
        return Invoice.objects.for_merchant(self.request.merchant)

    @extend_schema(summary="An invoice with every line and what caused it")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvoicePdfApi(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY}, summary="The invoice as a PDF")
    def get(self, request, pk: int):
        invoice = (
            Invoice.objects.for_merchant(request.merchant).select_related("merchant").filter(pk=pk).first()
        )
        if invoice is None:
            raise NotFound("Not found.")
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response


class ShortfallSerializer(serializers.Serializer):
    landing_orders = serializers.IntegerField(help_text="the orders the month is assumed to land at")
    orders_short = serializers.IntegerField()
    tier = serializers.CharField(
        help_text="the tier the month is billed at; its per-order rate prices the shortfall"
    )
    rate = serializers.CharField()
    amount = serializers.CharField()


class ScenarioSerializer(serializers.Serializer):
    pct_of_commitment = serializers.IntegerField()
    landing_orders = serializers.IntegerField()
    orders_short = serializers.IntegerField()
    amount = serializers.CharField()


class PeriodSerializer(serializers.Serializer):
    month = serializers.DateField()
    time_zone = serializers.CharField()
    committed_orders = serializers.IntegerField()
    actual_orders = serializers.IntegerField()
    shortfall_orders = serializers.IntegerField()
    charge_line_id = serializers.IntegerField(allow_null=True)
    amount = serializers.CharField(allow_null=True)


class VolumeSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="this month, in the merchant's time zone")
    month_to_date = serializers.IntegerField()
    projected = serializers.IntegerField(help_text="where the month lands at this pace")
    committed = serializers.IntegerField(help_text="committed orders this month, pro-rated by days")
    tier = serializers.CharField()
    projected_tier = serializers.CharField()
    on_track = serializers.BooleanField()
    currency = serializers.CharField()
    shortfall = ShortfallSerializer(
        allow_null=True, help_text="the shortfall charge if the month lands as projected"
    )
    scenarios = ScenarioSerializer(many=True)
    periods = PeriodSerializer(many=True, help_text="the last 12 closed commitment months")


class VolumeApi(APIView):
    @extend_schema(responses={200: VolumeSerializer},
                   summary="Volume against the commitment: this month's forecast, its shortfall charge, closed months")  # fmt: skip
    def get(self, request):
        from billing.models import CommitmentPeriod

        merchant = request.merchant
        if merchant is None:
            raise NotFound("Not found.")
        f = selectors.forecast(merchant)
        s = f["shortfall"]
        periods = CommitmentPeriod.objects.for_merchant(merchant).select_related("charge_line")[:12]
        card = selectors.card_in_force(merchant)
        return Response({
            "month": f["month"], "month_to_date": f["month_to_date"], "projected": f["projected"],
            "committed": f["committed"], "tier": f["tier"], "projected_tier": f["projected_tier"],
            "on_track": f["on_track"], "currency": card.currency,
            "shortfall": None if s is None else {"landing_orders": s["actual"], "orders_short": s["shortfall"],
                                                 "tier": s["tier"], "rate": money(s["rate"]), "amount": money(s["amount"])},
            "scenarios": [{"pct_of_commitment": r["pct"], "landing_orders": r["orders"], "orders_short": r["shortfall"],
                           "amount": money(r["amount"])} for r in f["shortfall_scenarios"]],
            "periods": [{"month": p.month, "time_zone": p.time_zone, "committed_orders": p.committed_orders,
                         "actual_orders": p.actual_orders, "shortfall_orders": p.shortfall_orders,
                         "charge_line_id": p.charge_line_id,
                         "amount": money(p.charge_line.amount) if p.charge_line else None} for p in periods],
        })  # fmt: skip
