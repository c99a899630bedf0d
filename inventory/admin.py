from django.contrib import admin

from inventory.models import (
    Allocation,
    ChannelAllocationRule,
    InboundShipment,
    InboundShipmentLine,
    KitComponent,
    Location,
    LowStockAlert,
    Product,
    StockHold,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Quantities change only through the services (and the ledger never changes): look, don't touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class KitComponentInline(admin.TabularInline):
    model = KitComponent
    fk_name = "kit"
    extra = 0
    raw_id_fields = ["component"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "merchant", "status", "is_kit", "hazmat", "fragile"]
    list_filter = ["status", "is_kit", "hazmat", "fragile"]
    search_fields = ["sku", "name", "barcode"]
    inlines = [KitComponentInline]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "state", "owner_merchant", "hazmat_certified", "cold_storage"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "warehouse", "type", "zone", "aisle", "bay", "level", "x", "y", "capacity"]
    list_filter = ["warehouse", "type"]
    search_fields = ["code"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "type",
        "product",
        "warehouse",
        "quantity",
        "from_location",
        "to_location",
        "lot",
        "reference",
        "actor_label",
    ]
    list_filter = ["type", "warehouse"]
    search_fields = ["product__sku", "reference", "lot"]
    date_hierarchy = "created_at"


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = [
        "product",
        "warehouse",
        "on_hand",
        "reserved",
        "held",
        "safety_stock",
        "quarantined",
        "backordered",
        "inbound",
    ]
    list_filter = ["warehouse"]
    search_fields = ["product__sku"]


@admin.register(StockQuant)
class StockQuantAdmin(ReadOnlyAdmin):
    list_display = ["product", "location", "lot", "expires_on", "quantity"]
    search_fields = ["product__sku", "location__code", "lot"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "product",
        "warehouse",
        "requested",
        "allocated",
        "picked",
        "shipped",
        "priority",
        "on_hold",
        "status",
    ]
    list_filter = ["status", "on_hold", "warehouse"]
    search_fields = ["reference", "product__sku"]


class InboundLineInline(admin.TabularInline):
    model = InboundShipmentLine
    extra = 0
    can_delete = False
    readonly_fields = ["product", "quantity_expected", "quantity_received", "quantity_damaged"]


@admin.register(InboundShipment)
class InboundShipmentAdmin(admin.ModelAdmin):
    list_display = ["pk", "merchant", "warehouse", "reference", "status", "expected_at", "received_at"]
    list_filter = ["status", "warehouse"]
    readonly_fields = ["status", "received_at"]
    inlines = [InboundLineInline]


admin.site.register(StockHold, ReadOnlyAdmin)
admin.site.register(LowStockAlert, ReadOnlyAdmin)
admin.site.register(ChannelAllocationRule)
