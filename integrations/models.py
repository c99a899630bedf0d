"""Sales channels: connections to merchants' stores and marketplaces, the webhook inbox, the outbound push
queue, the per-connection event log and the dead-letter list.

Inbound work lands in ``WebhookInbox`` (one row per platform event id, committed before we answer 2xx) and is
processed in Celery; outbound work (stock levels, fulfillments, cancellations) lands in ``ChannelPush`` (one row
per connection × key, so repeated changes coalesce) and is pushed in Celery. Both are swept periodically, so a
killed worker or a restarted Redis loses nothing. Models hold fields and constraints; no I/O.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from fulfil.crypto import EncryptedTextField
from fulfil.tenancy import TenantModel


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    AMAZON = "amazon", "Amazon"
    EBAY = "ebay", "eBay"
    WALMART = "walmart", "Walmart"


class ChannelConnection(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for authorisation"
        ACTIVE = "active", "Connected"
        ERROR = "error", "Needs attention"
        DISABLED = "disabled", "Disconnected"
        TEST = "test", "Test mode"

    class Review(models.TextChoices):
        AUTO = "auto", "Release automatically"
        HOLD = "hold", "Hold for my review"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=120, blank=True)
    account_id = models.CharField(
        max_length=255, help_text="shop domain, store URL, seller id or partner id on the platform"
    )
    base_url = models.CharField(
        max_length=255, blank=True, help_text="API base URL when it is not the platform's default"
    )
    credentials = EncryptedTextField(blank=True, default="", help_text="JSON: keys and secrets")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="when the platform's refresh token stops working (eBay: 18 months)"
    )
    webhook_secret = EncryptedTextField(blank=True, default="")
    scopes = models.CharField(max_length=500, blank=True)
    oauth_state = models.CharField(max_length=64, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    broken_since = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    # Order import settings
    import_from = models.DateTimeField(null=True, blank=True, help_text="ignore orders placed before this")
    import_statuses = models.JSONField(default=list, blank=True, help_text="channel statuses to import")
    review = models.CharField(max_length=4, choices=Review.choices, default=Review.AUTO)
    # Inventory sync settings
    inventory_sync = models.BooleanField(default=True)
    inventory_warehouses = models.JSONField(default=list, blank=True, help_text="warehouse ids; [] = all")
    inventory_buffer = models.PositiveIntegerField(default=0, help_text="units never offered on this channel")
    inventory_products = models.JSONField(default=list, blank=True, help_text="product ids; [] = all")
    sku_map = models.JSONField(default=dict, blank=True, help_text="channel SKU → our SKU")
    shipping_map = models.JSONField(
        default=dict, blank=True, help_text="channel shipping method → standard|expedited|overnight"
    )
    channel_location_id = models.CharField(max_length=64, blank=True, help_text="our location on the channel")

    cursor = models.CharField(max_length=500, blank=True, help_text="reconciliation poll position")
    last_order_sync_at = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    rate_state = models.JSONField(default=dict, blank=True)
    first_import = models.JSONField(default=dict, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform", "account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "account_id"],
                condition=~Q(status="disabled"),
                name="channel_connection_live_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} · {self.display_name}"

    @property
    def display_name(self) -> str:
        return self.name or self.account_id

    @property
    def channel_key(self) -> str:
        return f"{self.platform}:{self.pk}"

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.ERROR, self.Status.TEST)


class WebhookInbox(models.Model):
    """One row per platform event, inserted before the webhook is acknowledged."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed (retrying)"
        DEAD = "dead", "Dead letter"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    event_id = models.CharField(max_length=255)
    account_id = models.CharField(max_length=255, blank=True)
    connection = models.ForeignKey(
        ChannelConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox"
    )
    topic = models.CharField(max_length=100)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["platform", "event_id"], name="webhook_inbox_event")]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="webhook_inbox_pending",
                condition=Q(status__in=["pending", "failed"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic} {self.event_id}"


class ChannelPush(TenantModel):
    """An outbound change waiting to be sent. ``key`` coalesces: a second stock change of the same product
    while the first is pending is one push of the latest figure."""

    class Kind(models.TextChoices):
        INVENTORY = "inventory", "Stock level"
        FULFILLMENT = "fulfillment", "Fulfillment with tracking"
        CANCELLATION = "cancellation", "Cancellation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Sent"
        DEAD = "dead", "Dead letter"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="pushes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["connection", "key"], name="channel_push_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class ChannelEvent(TenantModel):
    """The visible log: every webhook and poll received, every push sent, with its outcome."""

    class Direction(models.TextChoices):
        IN = "in", "Received"
        OUT = "out", "Sent"

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        IGNORED = "ignored", "Ignored"
        RETRY = "retry", "Will retry"
        ERROR = "error", "Error"
        DEAD = "dead", "Dead letter"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="events")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=100)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    message = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"


class DeadLetter(TenantModel):
    """Work that failed after every retry. A person inspects it and replays it (or dismisses it)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REPLAYED = "replayed", "Replayed"
        DISMISSED = "dismissed", "Dismissed"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="dead_letters")
    inbox = models.ForeignKey(WebhookInbox, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    push = models.ForeignKey(ChannelPush, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    summary = models.CharField(max_length=300)
    error = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.summary


class PrivacyRequest(TenantModel):
    """A platform's mandatory privacy request (Shopify customers/data_request, customers/redact, shop/redact)."""

    class Kind(models.TextChoices):
        DATA_REQUEST = "data_request", "Customer data request"
        CUSTOMER_REDACT = "customer_redact", "Customer redact"
        SHOP_REDACT = "shop_redact", "Shop redact"

    connection = models.ForeignKey(
        ChannelConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    platform = models.CharField(max_length=20, choices=Platform.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer_email = models.CharField(max_length=255, blank=True)
    order_ids = models.JSONField(default=list)
    event_id = models.CharField(max_length=255, blank=True, help_text="the platform's webhook/event id")
    received_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True)
    deferred_order_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="our orders still in flight, redacted when they ship or are cancelled",
    )
    export = models.JSONField(null=True, blank=True, help_text="a data request's answer, for the merchant")
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "event_id"], condition=~Q(event_id=""), name="privacy_request_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_email}"


class ChannelListing(TenantModel):
    """A product (variant / listing) on the channel, and which of our products it is. Filled by a product
    fetch; the merchant chooses which listings we fulfil and confirms the SKU mapping."""

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(max_length=100)
    parent_id = models.CharField(max_length=100, blank=True)
    inventory_item_id = models.CharField(max_length=100, blank=True)
    sku = models.CharField(max_length=100, blank=True)
    barcode = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=255)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    product = models.ForeignKey(
        "inventory.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    selected = models.BooleanField(default=True, help_text="we fulfil and sync stock for it")
    last_pushed_quantity = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="channel_listing_external")
        ]

    def __str__(self) -> str:
        return f"{self.sku or self.external_id} — {self.name}"
