"""Shared machinery's tables: the event outbox, the audit trail, idempotency records."""

from django.conf import settings
from django.db import models


class OutboxEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    event_type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict)
    merchant_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    handled = models.JSONField(default=list, help_text="Handlers that already completed for this event.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="outbox_status_created")]
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} ({self.status})"


class AuditEntry(models.Model):
    """One business change: who, what, before/after, when, from where. Append-only."""

    merchant_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="e.g. 'api key …abcd', 'system', 'shopify'"
    )
    source = models.CharField(
        max_length=30, default="system", help_text="ui, api, system, webhook, admin, worker"
    )
    object_type = models.CharField(max_length=60, db_index=True)
    object_id = models.CharField(max_length=64)
    action = models.CharField(max_length=60)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id", "created_at"], name="audit_object")]
        ordering = ["pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.action}"


class IdempotencyRecord(models.Model):
    """The first answer to a write made with an ``Idempotency-Key`` header, replayed for retries."""

    scope = models.CharField(max_length=100, help_text="who made the call: membership or api key")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
