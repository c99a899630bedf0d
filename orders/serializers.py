"""API shapes of the order book (validate shape only; the services decide)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from orders.canonical import SHIPPING_SERVICES
from orders.models import Order, OrderException, OrderLine


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    street1 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    street2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    state = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, min_length=2, required=False, default="US")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")


class LineInSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=100000)
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    tax = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    discount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    name = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class OrderCreateSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=128)
    channel = serializers.ChoiceField(choices=["api", "manual"], default="api")
    number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    ship_to = AddressSerializer()
    bill_to = AddressSerializer(required=False)
    customer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    customer_email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    lines = LineInSerializer(many=True, min_length=1, max_length=500)
    shipping_service = serializers.ChoiceField(choices=SHIPPING_SERVICES, default="standard")
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, default=0)
    currency = serializers.CharField(max_length=3, min_length=3, default="USD")
    shipping_paid = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=50
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    gift_message = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    placed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class LineChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="an existing line; omit to add a line")
    sku = serializers.CharField(
        max_length=100, required=False, help_text="new SKU (substitute) or SKU to add"
    )
    quantity = serializers.IntegerField(min_value=0, max_value=100000, required=False, help_text="0 removes")
    unit_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False
    )


class OrderPatchSerializer(serializers.Serializer):
    ship_to = AddressSerializer(required=False, partial=True)
    lines = LineChangeSerializer(many=True, required=False, max_length=500)
    shipping_service = serializers.ChoiceField(choices=SHIPPING_SERVICES, required=False)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False)


class CancelLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False, max_length=100)
    quantity = serializers.IntegerField(min_value=1, required=False)


class CancelSerializer(serializers.Serializer):
    lines = CancelLineSerializer(
        many=True, required=False, help_text="cancel only these lines (or quantities)"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class HoldSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class AllocationOutSerializer(serializers.Serializer):
    warehouse = serializers.CharField(source="warehouse_code")
    requested = serializers.IntegerField()
    allocated = serializers.IntegerField()


class LineOutSerializer(serializers.ModelSerializer):
    allocations = serializers.SerializerMethodField()

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "name",
            "quantity",
            "cancelled_quantity",
            "shipped_quantity",
            "allocated_quantity",
            "backordered_quantity",
            "unit_price",
            "tax",
            "discount",
            "allocations",
        ]

    def get_allocations(self, line) -> list[dict]:
        if not hasattr(line, "allocations"):
            return []
        return AllocationOutSerializer(line.allocations.all(), many=True).data


class ExceptionOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderException
        fields = ["id", "reason", "detail", "sku", "blocking", "created_at"]


class ShipmentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    carrier = serializers.CharField(default="")
    service = serializers.CharField(default="")
    tracking_number = serializers.CharField(default="")
    label_url = serializers.CharField(default="", required=False)
    status = serializers.CharField(default="")


class OrderOutSerializer(serializers.ModelSerializer):
    ship_to = serializers.SerializerMethodField()
    lines = LineOutSerializer(many=True, read_only=True)
    warehouses = serializers.SerializerMethodField()
    special_handling = serializers.ListField(child=serializers.CharField(), read_only=True)
    shipments = serializers.SerializerMethodField()
    exceptions = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "channel_account",
            "external_id",
            "status",
            "customer_name",
            "customer_email",
            "ship_to",
            "bill_to",
            "shipping_service",
            "priority",
            "same_day_cutoff",
            "special_handling",
            "currency",
            "subtotal",
            "tax_total",
            "discount_total",
            "shipping_paid",
            "total",
            "refund_due",
            "tags",
            "note",
            "gift_message",
            "lines",
            "warehouses",
            "estimated_shipping",
            "estimated_zone",
            "promised_delivery",
            "is_split",
            "routing",
            "exception_reason",
            "exceptions",
            "shipments",
            "placed_at",
            "created_at",
            "updated_at",
        ]

    def get_ship_to(self, order) -> dict:
        return order.ship_to

    def get_warehouses(self, order) -> list[str]:
        codes: list[str] = []
        for line in order.lines.all():
            for alloc in getattr(line, "allocations", None).all() if hasattr(line, "allocations") else []:
                if alloc.warehouse_code not in codes:
                    codes.append(alloc.warehouse_code)
        return codes

    def get_shipments(self, order) -> list[dict]:
        from orders.selectors import order_shipments

        return ShipmentOutSerializer(order_shipments(order), many=True).data

    def get_exceptions(self, order) -> list[dict]:
        if not self.context.get("detail"):
            return []
        return ExceptionOutSerializer(
            order.exceptions.filter(resolved_at__isnull=True).order_by("pk"), many=True
        ).data


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="created_at")
    action = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    source = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    message = serializers.CharField()
    request_id = serializers.CharField()
