"""API shapes of the carrier layer (money as strings with two decimals plus a currency)."""

from __future__ import annotations

from rest_framework import serializers

from .models import CarrierCode, ServiceLevel, Shipment, TrackingEvent


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["status", "message", "location", "occurred_at"]


class ShipmentSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id", allow_null=True, read_only=True)
    label_url = serializers.SerializerMethodField()
    rate = serializers.DecimalField(
        max_digits=10, decimal_places=2, source="price", allow_null=True, read_only=True
    )
    carrier_cost = serializers.DecimalField(
        max_digits=10, decimal_places=2, source="rate", allow_null=True, read_only=True
    )
    carrier_fees = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    insurance_cost = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    tracking_url = serializers.CharField(source="public_tracking_url", read_only=True)
    tracking_events = TrackingEventSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "carrier",
            "service",
            "service_level",
            "status",
            "tracking_number",
            "tracking_url",
            "label_url",
            "label_format",
            "rate",
            "carrier_cost",
            "currency",
            "carrier_fees",
            "insurance_cost",
            "signature",
            "delivery_days",
            "guaranteed",
            "chosen_reason",
            "error",
            "weight_g",
            "length_mm",
            "width_mm",
            "height_mm",
            "created_at",
            "purchased_at",
            "shipped_at",
            "delivered_at",
            "est_delivery_at",
            "tracking_events",
        ]

    def get_label_url(self, obj: Shipment) -> str:
        if obj.label_file:
            request = self.context.get("request")
            url = obj.label_file.url
            return request.build_absolute_uri(url) if request else url
        return obj.label_url


class RateQuoteRequestSerializer(serializers.Serializer):
    weight_g = serializers.IntegerField(min_value=1, max_value=1_000_000)
    length_mm = serializers.IntegerField(min_value=0, max_value=10_000, default=0)
    width_mm = serializers.IntegerField(min_value=0, max_value=10_000, default=0)
    height_mm = serializers.IntegerField(min_value=0, max_value=10_000, default=0)
    hazmat = serializers.BooleanField(default=False)
    lithium = serializers.BooleanField(default=False)
    service_level = serializers.ChoiceField(choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    signature = serializers.ChoiceField(choices=["", "signature", "adult_signature"], default="")
    insurance_amount = serializers.DecimalField(
        max_digits=10, decimal_places=2, required=False, allow_null=True
    )
    warehouse = serializers.CharField(max_length=20, required=False, help_text="warehouse code to ship from")
    to = serializers.DictField(
        child=serializers.CharField(allow_blank=True), help_text="street1, city, state, postal_code, country"
    )


class RateOutSerializer(serializers.Serializer):
    carrier = serializers.ChoiceField(choices=CarrierCode.choices)
    service = serializers.CharField()
    price = serializers.CharField()
    total = serializers.CharField()
    currency = serializers.CharField()
    delivery_days = serializers.IntegerField(allow_null=True)
    guaranteed = serializers.BooleanField()
    eligible = serializers.BooleanField()
    excluded_reason = serializers.CharField()


class RateQuoteResponseSerializer(serializers.Serializer):
    rule = serializers.CharField()
    reason = serializers.CharField()
    chosen = RateOutSerializer(allow_null=True)
    rates = RateOutSerializer(many=True)
    excluded = RateOutSerializer(many=True)
    errors = serializers.ListField(child=serializers.CharField())
