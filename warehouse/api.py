"""Read-only API for warehouse staff keys (an operator user's key, no merchant): waves and a cart's pick list
in route order. Merchant keys get 403 — the outbound floor works across merchants. A staff key sees only the
warehouses its user is assigned to (``warehouse.access``): other waves are left out, another warehouse's
cart or ``?warehouse=`` code is a 403."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from inventory.models import Warehouse
from warehouse import selectors
from warehouse.access import require_warehouse, staff_scope
from warehouse.models import Batch, PickTask, Wave


class WarehouseStaffOnly(BasePermission):
    message = "Only warehouse staff keys can read the outbound floor."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # 401 from DRF
        if not getattr(user, "is_operator", False):
            raise PermissionDenied(self.message)
        if getattr(request, "merchant", None) is not None:
            raise PermissionDenied(self.message)
        return True


class BatchSummarySerializer(serializers.ModelSerializer):
    orders = serializers.IntegerField(source="order_count", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "number", "status", "single_order", "route_length_m", "route_method", "orders"]


class WaveSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    batches = serializers.SerializerMethodField()

    class Meta:
        model = Wave
        fields = [
            "id",
            "name",
            "warehouse",
            "status",
            "rules",
            "cutoff_at",
            "scheduled",
            "created_at",
            "batches",
        ]

    @extend_schema_field(BatchSummarySerializer(many=True))
    def get_batches(self, wave: Wave) -> list[dict]:
        batches = [b for b in wave.batches.all() if b.status != Batch.Status.CANCELLED]
        for b in batches:
            b.order_count = len(b.orders.all())
        return BatchSummarySerializer(batches, many=True).data


class PickLineSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code", read_only=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)
    fragile = serializers.BooleanField(source="product.fragile", read_only=True)
    tote = serializers.CharField(source="batch_order.tote", read_only=True)
    order = serializers.CharField(source="batch_order.order.number", read_only=True)

    class Meta:
        model = PickTask
        fields = [
            "id",
            "sequence",
            "location",
            "sku",
            "name",
            "fragile",
            "lot",
            "quantity",
            "picked_quantity",
            "short_quantity",
            "status",
            "tote",
            "order",
        ]


class CartSerializer(serializers.ModelSerializer):
    wave = serializers.IntegerField(source="wave_id", read_only=True)
    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    picker = serializers.CharField(source="picker.email", read_only=True, default=None)
    pick_list = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id",
            "number",
            "wave",
            "warehouse",
            "status",
            "single_order",
            "picker",
            "route_length_m",
            "single_order_length_m",
            "route_method",
            "pick_list",
        ]

    @extend_schema_field(PickLineSerializer(many=True))
    def get_pick_list(self, batch: Batch) -> list[dict]:
        """The pick list is the route: tasks in walk order."""
        return PickLineSerializer(selectors.batch_tasks(batch=batch), many=True).data


@extend_schema(
    parameters=[
        OpenApiParameter("warehouse", str, description="warehouse code"),
        OpenApiParameter("status", str, enum=[c for c, _ in Wave.Status.choices]),
    ]
)
class WaveListApi(generics.ListAPIView):
    """Waves, newest first, with their carts. Warehouse staff keys only."""

    serializer_class = WaveSerializer
    permission_classes = [WarehouseStaffOnly]

    def get_queryset(self):
        qs = selectors.wave_list().prefetch_related("batches__orders").order_by("-created_at", "-pk")
        qs = staff_scope(qs, self.request.user)
        code = self.request.query_params.get("warehouse", "").strip()
        if code:
            asked = Warehouse.objects.filter(code=code).first()
            if asked is not None:
                require_warehouse(self.request.user, asked)
            qs = qs.filter(warehouse__code=code)
        status = self.request.query_params.get("status", "").strip()
        if status:
            if status not in Wave.Status.values:
                raise serializers.ValidationError({"status": [f"Unknown status {status!r}."]})
            qs = qs.filter(status=status)
        return qs


class CartDetailApi(generics.RetrieveAPIView):
    """One cart (batch) with its pick list in route order. Warehouse staff keys only."""

    serializer_class = CartSerializer
    permission_classes = [WarehouseStaffOnly]

    def get_object(self):
        batch = get_object_or_404(
            Batch.objects.select_related("warehouse", "picker"), pk=self.kwargs["batch_id"]
        )
        require_warehouse(self.request.user, batch.warehouse)
        return batch
