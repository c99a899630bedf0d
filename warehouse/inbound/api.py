"""API: vendors, purchase orders and returns (merchant keys, tenant-scoped; foreign ids are 404)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from fulfil.api import Conflict, idempotent
from fulfil.audit import actor_for_request, audit_context
from inventory.models import Product, Warehouse
from warehouse.inbound import selectors, services
from warehouse.inbound.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnAuthorization,
    ReturnLine,
    ReturnReason,
    ReturnUnit,
    Vendor,
)


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = [
            "id",
            "name",
            "code",
            "email",
            "phone",
            "lead_time_days",
            "notes",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class POLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")

    class Meta:
        model = PurchaseOrderLine
        fields = ["sku", "quantity_ordered", "quantity_received", "unit_cost"]
        read_only_fields = ["quantity_received"]


class PurchaseOrderSerializer(serializers.ModelSerializer):
    vendor = serializers.PrimaryKeyRelatedField(queryset=Vendor.objects.none())
    warehouse = serializers.SlugRelatedField(slug_field="code", queryset=Warehouse.objects.none())
    lines = POLineSerializer(many=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "number",
            "vendor",
            "warehouse",
            "status",
            "ordered_on",
            "expected_on",
            "currency",
            "notes",
            "lines",
            "created_at",
        ]
        read_only_fields = ["id", "status", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        merchant = getattr(request, "merchant", None)
        self.fields["vendor"].queryset = Vendor.objects.for_merchant(merchant)
        self.fields["warehouse"].queryset = Warehouse.objects.visible_to(merchant)


class ReturnLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")

    class Meta:
        model = ReturnLine
        fields = ["sku", "quantity", "unit_price", "reason"]
        read_only_fields = ["unit_price", "reason"]


class ReturnUnitSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)

    class Meta:
        model = ReturnUnit
        fields = ["sku", "quantity", "grade", "created_at"]


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    lines = ReturnLineSerializer(many=True)
    units = ReturnUnitSerializer(many=True, read_only=True)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    buy_label = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = ReturnAuthorization
        fields = [
            "id",
            "number",
            "order",
            "status",
            "reason",
            "customer_note",
            "opened_by",
            "label_tracking",
            "label_url",
            "refund_amount",
            "currency",
            "lines",
            "units",
            "created_at",
            "received_at",
            "processed_at",
            "buy_label",
        ]
        read_only_fields = [
            "id",
            "number",
            "status",
            "opened_by",
            "label_tracking",
            "label_url",
            "refund_amount",
            "currency",
            "created_at",
            "received_at",
            "processed_at",
        ]


def _products(merchant, lines) -> list:
    out = []
    for i, ln in enumerate(lines):
        sku = ln["product"]["sku"]
        product = Product.objects.for_merchant(merchant).filter(sku=sku).first()
        if product is None:
            raise serializers.ValidationError({"lines": {i: {"sku": [f"Unknown SKU {sku!r}."]}}})
        out.append((product, ln))
    return out


class VendorListCreateApi(generics.ListCreateAPIView):
    serializer_class = VendorSerializer

    def get_queryset(self):
        return selectors.vendor_list(merchant=self.request.merchant)

    @idempotent
    def post(self, request, *args, **kwargs):
        ser = VendorSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        name = data.pop("name")
        with audit_context(actor_for_request(request)):
            vendor = services.vendor_create(merchant=request.merchant, name=name, **data)
        return Response(VendorSerializer(vendor).data, status=status.HTTP_201_CREATED)


class VendorDetailApi(generics.RetrieveUpdateAPIView):
    serializer_class = VendorSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.vendor_list(merchant=self.request.merchant)

    def perform_update(self, serializer):
        with audit_context(actor_for_request(self.request)):
            services.vendor_update(vendor=serializer.instance, **serializer.validated_data)


class PurchaseOrderListCreateApi(generics.ListCreateAPIView):
    serializer_class = PurchaseOrderSerializer

    def get_queryset(self):
        return selectors.purchase_order_list(merchant=self.request.merchant).prefetch_related(
            "lines__product"
        )

    @idempotent
    def post(self, request, *args, **kwargs):
        ser = PurchaseOrderSerializer(data=request.data, context={"request": request})
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        lines = [
            (p, ln["quantity_ordered"], ln.get("unit_cost") or 0)
            for p, ln in _products(request.merchant, d["lines"])
        ]
        with audit_context(actor_for_request(request)):
            po = services.purchase_order_create(
                merchant=request.merchant,
                vendor=d["vendor"],
                warehouse=d["warehouse"],
                number=d["number"],
                lines=lines,
                expected_on=d.get("expected_on"),
                notes=d.get("notes", ""),
            )
        return Response(PurchaseOrderSerializer(po, context={"request": request}).data, status=201)


class PurchaseOrderDetailApi(generics.RetrieveAPIView):
    serializer_class = PurchaseOrderSerializer

    def get_queryset(self):
        return selectors.purchase_order_list(merchant=self.request.merchant).prefetch_related(
            "lines__product"
        )


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="open, received, processed or cancelled"),
            OpenApiParameter(
                "opened_by", str, description="merchant, or customer (opened on the customer return portal)"
            ),
        ]
    )
)
class ReturnListCreateApi(generics.ListCreateAPIView):
    serializer_class = ReturnSerializer

    def get_queryset(self):
        qs = selectors.return_list(
            merchant=self.request.merchant, status=self.request.query_params.get("status", "")
        ).prefetch_related("lines__product", "units__product")
        opened_by = self.request.query_params.get("opened_by", "")
        if opened_by:
            qs = qs.filter(opened_by=opened_by)
        return qs

    @idempotent
    def post(self, request, *args, **kwargs):
        from orders.models import Order

        ser = ReturnSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        order = Order.objects.for_merchant(request.merchant).filter(pk=d["order_id"]).first()
        if order is None:
            raise serializers.ValidationError({"order": ["Unknown order."]})
        lines = [(p, ln["quantity"]) for p, ln in _products(request.merchant, d["lines"])]
        try:
            with audit_context(actor_for_request(request)):
                rma = services.return_open(
                    merchant=request.merchant,
                    order=order,
                    reason=d["reason"],
                    lines=lines,
                    customer_note=d.get("customer_note", ""),
                    buy_label=d.get("buy_label", False),
                )
        except services.FloorError as exc:
            raise Conflict(str(exc)) from exc
        except DjangoValidationError:
            raise
        return Response(ReturnSerializer(rma).data, status=201)


class ReturnDetailApi(generics.RetrieveAPIView):
    serializer_class = ReturnSerializer

    def get_queryset(self):
        return selectors.return_list(merchant=self.request.merchant).prefetch_related(
            "lines__product", "units__product"
        )
