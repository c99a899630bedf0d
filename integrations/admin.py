from django.contrib import admin

from integrations import services
from integrations.models import (
    ChannelConnection,
    ChannelEvent,
    ChannelPush,
    DeadLetter,
    PrivacyRequest,
    WebhookInbox,
)


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(admin.ModelAdmin):
    list_display = ["platform", "account_id", "merchant", "status", "last_order_sync_at", "last_push_at"]
    list_filter = ["platform", "status"]
    search_fields = ["account_id", "name"]
    exclude = ["credentials", "access_token", "refresh_token", "webhook_secret", "oauth_state"]


@admin.register(WebhookInbox)
class WebhookInboxAdmin(admin.ModelAdmin):
    list_display = ["platform", "topic", "event_id", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["platform", "status"]
    search_fields = ["event_id", "account_id"]


@admin.register(ChannelPush)
class ChannelPushAdmin(admin.ModelAdmin):
    list_display = ["connection", "kind", "key", "status", "attempts", "updated_at"]
    list_filter = ["kind", "status"]


@admin.register(ChannelEvent)
class ChannelEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "connection", "direction", "kind", "outcome", "message"]
    list_filter = ["outcome", "direction"]


@admin.action(description="Replay the selected dead letters")
def replay(modeladmin, request, queryset):
    for dl in queryset.filter(status="open"):
        services.dead_letter_replay(dead_letter=dl)


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["created_at", "connection", "summary", "status"]
    list_filter = ["status"]
    actions = [replay]


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(admin.ModelAdmin):
    list_display = ["received_at", "platform", "kind", "customer_email", "completed_at", "result"]
    list_filter = ["kind", "completed_at"]
