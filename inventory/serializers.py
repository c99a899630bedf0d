"""API shapes (validation of shape only; rules live in the services)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.barcodes import validate_barcode
from inventory.models import (
    InboundShipment,
    InboundShipmentLine,
    Product,
    StockLevel,
    Warehouse,
)


class ComponentSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class ComponentsField(serializers.ListField):
    """``[{"sku", "quantity"}]``: written as SKUs, read from the kit's components."""

    child = ComponentSerializer()

    def to_representation(self, data):
        rows = (
            data.select_related("component").order_by("component__sku")
            if hasattr(data, "select_related")
            else data
        )
        return [{"sku": kc.component.sku, "quantity": kc.quantity} for kc in rows]


class ProductPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()
    primary = serializers.SerializerMethodField()
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    size_bytes = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        url = obj.image.url
        return request.build_absolute_uri(url) if request else url

    def get_primary(self, obj) -> bool:
        return bool(obj.image.name) and obj.image.name == obj.product.photo.name


class ProductPhotoUploadSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="JPEG, PNG, WebP or GIF, at most 5 MB (multipart/form-data)")
    primary = serializers.BooleanField(
        required=False, default=False, help_text="make it the photo pick and pack screens show"
    )


class ProductSerializer(serializers.ModelSerializer):
    value = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True, required=False)
    components = ComponentsField(required=False)
    photo_url = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "description",
            "barcode",
            "weight_g",
            "length_mm",
            "width_mm",
            "height_mm",
            "value",
            "currency",
            "hs_code",
            "country_of_origin",
            "fragile",
            "hazmat",
            "un_class",
            "requires_lot_tracking",
            "requires_expiry_tracking",
            "temperature_min_c",
            "temperature_max_c",
            "humidity_max_pct",
            "packaging",
            "custom_inserts",
            "is_kit",
            "components",
            "status",
            "low_stock_threshold",
            "photo_url",
            "photos",
            "available",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "photo_url", "photos", "available", "created_at", "updated_at"]
        # uniqueness per merchant is checked by the service (the merchant is not a field here)
        validators: list = []

    def get_photo_url(self, obj: Product) -> str | None:
        if not obj.photo:
            return None
        request = self.context.get("request")
        url = obj.photo.url
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(ProductPhotoSerializer(many=True))
    def get_photos(self, obj: Product) -> list[dict]:
        rows = list(obj.photos.all().order_by("created_at", "pk"))
        for row in rows:
            row.product = obj
        return ProductPhotoSerializer(rows, many=True, context=self.context).data

    def get_available(self, obj: Product) -> int:
        from inventory.selectors import stock_available

        return stock_available(merchant=obj.merchant_id, product=obj)

    def validate_barcode(self, value: str) -> str:
        value = (value or "").strip()
        if value:
            problem = validate_barcode(value)
            if problem:
                raise serializers.ValidationError(problem)
        return value

    def validate_sku(self, value: str) -> str:
        value = value.strip()
        if not value or "/" in value or any(c.isspace() for c in value):
            raise serializers.ValidationError("A SKU is non-empty, without spaces or slashes.")
        return value

    def validate_country_of_origin(self, value: str) -> str:
        value = (value or "").upper()
        if value and (len(value) != 2 or not value.isalpha()):
            raise serializers.ValidationError("Use the 2-letter ISO country code, e.g. US.")
        return value


class WarehouseSerializer(serializers.ModelSerializer):
    address = serializers.SerializerMethodField()
    owned_by_you = serializers.SerializerMethodField()

    class Meta:
        model = Warehouse
        fields = [
            "code",
            "name",
            "address",
            "street1",
            "street2",
            "city",
            "state",
            "postal_code",
            "country",
            "timezone",
            "cutoff_time",
            "hazmat_certified",
            "cold_storage",
            "owned_by_you",
        ]

    def get_address(self, obj: Warehouse) -> str:
        return ", ".join(obj.address_lines)

    def get_owned_by_you(self, obj: Warehouse) -> bool:
        merchant = self.context.get("merchant")
        return bool(merchant and obj.owner_merchant_id == merchant.pk)


class InventoryLevelSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    available = serializers.IntegerField()

    class Meta:
        model = StockLevel
        fields = [
            "sku",
            "warehouse",
            "on_hand",
            "reserved",
            "available",
            "backordered",
            "inbound",
            "held",
            "safety_stock",
            "quarantined",
            "updated_at",
        ]


class MovementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    type = serializers.CharField()
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    quantity = serializers.IntegerField()
    locals()["from"] = serializers.CharField(source="from_location.code", allow_null=True, default=None)
    to = serializers.CharField(source="to_location.code", allow_null=True, default=None)
    lot = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True)
    reason = serializers.CharField()
    reference = serializers.CharField()
    actor = serializers.CharField(source="actor_label")


class InboundLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField(source="quantity_expected")
    received = serializers.IntegerField(source="quantity_received")
    damaged = serializers.IntegerField(source="quantity_damaged")
    discrepancy = serializers.IntegerField()

    class Meta:
        model = InboundShipmentLine
        fields = ["sku", "quantity", "received", "damaged", "discrepancy"]


class InboundShipmentSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    lines = InboundLineSerializer(many=True)

    class Meta:
        model = InboundShipment
        fields = [
            "id",
            "warehouse",
            "reference",
            "status",
            "expected_at",
            "carrier",
            "tracking_number",
            "notes",
            "created_at",
            "received_at",
            "lines",
        ]


class InboundCreateLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class InboundCreateSerializer(serializers.Serializer):
    warehouse = serializers.CharField(max_length=20)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expected_at = serializers.DateField(required=False, allow_null=True, default=None)
    carrier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    lines = InboundCreateLineSerializer(many=True, allow_empty=False)


class ReceiveLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000)
    damaged = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, default=0)
    lot = serializers.CharField(
        max_length=64, required=False, allow_blank=True, allow_null=True, default=None
    )
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if attrs["quantity"] + attrs.get("damaged", 0) == 0:
            raise serializers.ValidationError("Give a quantity or a damaged count.")
        return attrs


class ReceiveSerializer(serializers.Serializer):
    lines = ReceiveLineSerializer(many=True, allow_empty=False)
    location = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    close = serializers.BooleanField(required=False, default=False)
