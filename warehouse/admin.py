from django.contrib import admin

from warehouse.models import (
    Batch,
    BoxType,
    FloorMetric,
    PackingRule,
    PackSession,
    PickTask,
    QcChecklist,
    QcResult,
    ReplenishmentTask,
    WarehouseLayout,
    Wave,
)


@admin.register(BoxType)
class BoxTypeAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "warehouse",
        "kind",
        "length_mm",
        "width_mm",
        "height_mm",
        "max_weight_g",
        "cost",
        "merchant",
        "is_active",
    )
    list_filter = ("warehouse", "kind", "is_active")


@admin.register(PackingRule)
class PackingRuleAdmin(admin.ModelAdmin):
    list_display = ("product", "ships_in_own_container", "no_bag", "this_side_up", "void_fill", "qc_category")


@admin.register(QcChecklist)
class QcChecklistAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "stage", "sample_pct", "is_active")


@admin.register(QcResult)
class QcResultAdmin(admin.ModelAdmin):
    list_display = ("created_at", "product", "stage", "passed", "reason", "quarantined", "user")
    list_filter = ("passed", "stage")


@admin.register(Wave)
class WaveAdmin(admin.ModelAdmin):
    list_display = ("name", "warehouse", "status", "scheduled", "cutoff_at", "created_at")


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "warehouse",
        "status",
        "picker",
        "route_length_m",
        "single_order_length_m",
        "route_method",
    )
    list_filter = ("status", "warehouse")


admin.site.register([PickTask, PackSession, ReplenishmentTask, FloorMetric, WarehouseLayout])
