from django.contrib import admin

from billing import models


class ReadOnlyMixin:
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "merchant", "created_at"]
    list_filter = ["kind"]


@admin.register(models.RateCardVersion)
class RateCardVersionAdmin(admin.ModelAdmin):
    """Versions can be added (a new, later effective date) but never changed: old charges depend on them."""

    list_display = ["card", "version", "effective_from", "notes"]
    list_filter = ["card"]

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = [
        "merchant",
        "cycle",
        "next_cycle_start",
        "terms_days",
        "credit_limit",
        "credit_hold_override",
    ]
    search_fields = ["merchant__name"]


@admin.register(models.ChargeLine)
class ChargeLineAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "merchant", "occurred_at", "kind", "amount", "tax", "invoice", "source_label"]
    list_filter = ["category"]
    search_fields = ["source_key", "source_label"]


@admin.register(models.Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "merchant", "period_start", "period_end", "status", "total", "amount_paid"]
    list_filter = ["status"]
    readonly_fields = ["number", "sequence", "subtotal", "tax", "total", "amount_paid", "amount_credited"]


admin.site.register(models.TaxRate)
admin.site.register(models.VolumeCommitment)
admin.site.register(models.PaymentMethod)
admin.site.register(models.Payment)
admin.site.register(models.PaymentDispute)
admin.site.register(models.LineDispute)
admin.site.register(models.StripeEvent)
admin.site.register(models.CarrierAdjustment)
admin.site.register(models.OrderCost)
admin.site.register(models.SavedEstimate)
