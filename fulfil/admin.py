from django.contrib import admin, messages

from fulfil import outbox
from fulfil.models import AuditEntry, IdempotencyRecord, OutboxEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "merchant_id", "status", "attempts", "created_at", "dispatched_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_type", "last_error", "=merchant_id"]
    actions = ["retry"]

    @admin.action(description="Retry failed events")
    def retry(self, request, queryset):
        ids = list(queryset.filter(status=OutboxEvent.Status.FAILED).values_list("pk", flat=True))
        for event_id in ids:
            outbox.retry_failed(event_id)
        messages.success(request, f"{len(ids)} events queued again.")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "object_type",
        "object_id",
        "action",
        "actor_label",
        "source",
        "merchant_id",
    ]
    list_filter = ["object_type", "action", "source"]
    search_fields = ["object_id", "actor_label", "message", "request_id", "=merchant_id"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["scope", "key", "method", "path", "status_code", "created_at"]
    search_fields = ["scope", "key", "path"]
