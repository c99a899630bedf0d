"""The order book: one order shape for every channel, its lines, per-warehouse line allocations, the
exceptions queue, merchant order settings, SKU mappings and saved filters.

Status changes only through the named transitions in ``orders.services`` (see ``orders.workflow`` for the
table of allowed moves). Models hold fields, constraints and small invariants; no I/O.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from fulfil.tenancy import TenantModel

ZERO = Decimal("0.00")


class OrderStatus(models.TextChoices):
    NEW = "new", "New"
    VALIDATED = "validated", "Validated"
    ALLOCATED = "allocated", "Allocated"
    BACKORDERED = "backordered", "Backordered"
    ON_HOLD = "on_hold", "On hold"
    EXCEPTION = "exception", "Exception"
    RELEASED = "released", "Released to warehouse"
    PICKING = "picking", "Picking"
    PACKED = "packed", "Packed"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class ShippingService(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPEDITED = "expedited", "Expedited"
    OVERNIGHT = "overnight", "Overnight"


class Channel(models.TextChoices):
    MANUAL = "manual", "Manual"
    API = "api", "API"
    CSV = "csv", "CSV upload"
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    AMAZON = "amazon", "Amazon"
    EBAY = "ebay", "eBay"
    WALMART = "walmart", "Walmart"


class Order(TenantModel):
    Status = OrderStatus

    # identity
    number = models.CharField(max_length=64, blank=True, help_text="Customer-facing order number")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.MANUAL)
    channel_account = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=128)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.NEW)
    held_from_status = models.CharField(max_length=20, blank=True, help_text="Status before a hold")

    # customer and addresses
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    ship_to_name = models.CharField(max_length=200, blank=True)
    ship_to_company = models.CharField(max_length=200, blank=True)
    ship_to_street1 = models.CharField(max_length=200, blank=True)
    ship_to_street2 = models.CharField(max_length=200, blank=True)
    ship_to_city = models.CharField(max_length=100, blank=True)
    ship_to_state = models.CharField(max_length=100, blank=True)
    ship_to_postal_code = models.CharField(max_length=20, blank=True)
    ship_to_country = models.CharField(max_length=2, default="US")
    ship_to_phone = models.CharField(max_length=40, blank=True)
    ship_to_email = models.CharField(max_length=254, blank=True)
    bill_to = models.JSONField(default=dict, blank=True)

    # service, priority, handling
    shipping_service = models.CharField(
        max_length=20, choices=ShippingService.choices, default=ShippingService.STANDARD
    )
    priority = models.IntegerField(default=0, help_text="Higher goes first")
    same_day_cutoff = models.BooleanField(default=False, help_text="Must leave before today's cut-off")
    is_fragile = models.BooleanField(default=False)
    is_hazmat = models.BooleanField(default=False)
    is_gift = models.BooleanField(default=False)
    custom_packaging = models.BooleanField(default=False)
    requires_cold_chain = models.BooleanField(default=False)

    # money
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    shipping_paid = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    refund_due = models.DecimalField(
        max_digits=12, decimal_places=2, default=ZERO, help_text="Computed for cancelled lines"
    )

    # free text
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    gift_message = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)
    source_hash = models.CharField(max_length=64, blank=True, help_text="hash of the last imported version")
    search_text = models.CharField(
        max_length=600, blank=True, help_text="lower-case number, external id, customer name, email"
    )

    # routing
    routing = models.JSONField(default=dict, blank=True, help_text="Every candidate and why the winner won")
    estimated_shipping = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    estimated_zone = models.PositiveSmallIntegerField(null=True, blank=True)
    promised_delivery = models.DateField(null=True, blank=True)
    is_split = models.BooleanField(default=False)
    is_international = models.BooleanField(default=False)

    # exceptions (the open reasons are OrderException rows; this is the first one, for filtering)
    exception_reason = models.CharField(max_length=40, blank=True)

    # time
    placed_at = models.DateTimeField(default=timezone.now)
    channel_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    released_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "external_id"], name="order_merchant_channel_external"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_nonneg"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-id"], name="order_m_id"),
            models.Index(fields=["merchant", "status", "-id"], name="order_m_status_id"),
            models.Index(fields=["merchant", "channel", "-id"], name="order_m_channel_id"),
            models.Index(fields=["merchant", "-created_at", "-id"], name="order_m_created"),
            models.Index(fields=["merchant", "-priority", "-id"], name="order_m_priority"),
            models.Index(fields=["merchant", "exception_reason", "-id"], name="order_m_exception"),
            models.Index(fields=["status", "-priority", "id"], name="order_status_queue"),
            models.Index(fields=["merchant", "customer_email", "-id"], name="order_m_email"),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.channel}:{self.external_id}"

    @property
    def ship_to(self) -> dict:
        return {
            "name": self.ship_to_name,
            "company": self.ship_to_company,
            "street1": self.ship_to_street1,
            "street2": self.ship_to_street2,
            "city": self.ship_to_city,
            "state": self.ship_to_state,
            "postal_code": self.ship_to_postal_code,
            "country": self.ship_to_country,
            "phone": self.ship_to_phone,
            "email": self.ship_to_email,
        }

    @property
    def is_expedited(self) -> bool:
        return self.shipping_service in (ShippingService.EXPEDITED, ShippingService.OVERNIGHT)

    @property
    def special_handling(self) -> list[str]:
        flags = []
        for attr, label in (
            ("is_fragile", "fragile"),
            ("is_hazmat", "hazmat"),
            ("is_gift", "gift"),
            ("custom_packaging", "custom packaging"),
            ("requires_cold_chain", "cold chain"),
        ):
            if getattr(self, attr):
                flags.append(label)
        return flags


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "inventory.Product",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="our product the SKU maps to (empty while the SKU is unknown)",
    )
    sku = models.CharField(max_length=100)
    name = models.CharField(max_length=300, blank=True)
    external_line_id = models.CharField(max_length=128, blank=True)
    quantity = models.PositiveIntegerField()
    cancelled_quantity = models.PositiveIntegerField(default=0)
    allocated_quantity = models.PositiveIntegerField(default=0)
    backordered_quantity = models.PositiveIntegerField(default=0)
    shipped_quantity = models.PositiveIntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_qty_pos"),
            models.CheckConstraint(
                condition=Q(cancelled_quantity__lte=models.F("quantity")), name="orderline_cancel_le_qty"
            ),
        ]
        indexes = [models.Index(fields=["sku"], name="orderline_sku")]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"

    @property
    def reference(self) -> str:
        return f"order_line:{self.pk}"

    @property
    def open_quantity(self) -> int:
        """What the order still needs from stock for this line."""
        return max(0, self.quantity - self.cancelled_quantity - self.shipped_quantity)

    @property
    def line_total(self) -> Decimal:
        qty = self.quantity - self.cancelled_quantity
        return (self.unit_price * qty + self.tax - self.discount).quantize(Decimal("0.01"))


class OrderLineAllocation(models.Model):
    """How much of one line one warehouse was asked for and holds — a mirror of inventory's Allocation for
    the reference ``order_line:<line id>`` in that warehouse, refreshed after every reservation change."""

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    warehouse_code = models.CharField(max_length=20, blank=True)
    requested = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["line_id", "warehouse_code"]
        constraints = [
            models.UniqueConstraint(fields=["line", "warehouse"], name="linealloc_line_wh"),
            models.CheckConstraint(condition=Q(allocated__lte=models.F("requested")), name="linealloc_le"),
        ]
        indexes = [models.Index(fields=["warehouse_code", "line"], name="linealloc_wh_code")]

    def __str__(self) -> str:
        return f"{self.line_id}@{self.warehouse_code}: {self.allocated}/{self.requested}"


class ExceptionReason(models.TextChoices):
    UNKNOWN_SKU = "unknown_sku", "Unknown SKU"
    BAD_ADDRESS = "bad_address", "Bad or incomplete address"
    MISSING_DATA = "missing_data", "Missing data"
    CUSTOMS = "customs", "Customs data missing"
    NO_WAREHOUSE = "no_warehouse", "No warehouse can ship it"
    UPDATE_IN_WAREHOUSE = "update_in_warehouse", "Channel update after picking started"
    CANCEL_IN_WAREHOUSE = "cancel_in_warehouse", "Channel cancel after picking started"


# Reasons that other apps' reactions raise (kept out of ``choices`` so adding one needs no migration).
RELEASE_HOLD = "release_hold"  # a release guard (e.g. billing's credit hold) stopped the release
CARRIER_LABEL = "carrier_label"  # the carrier layer could not buy a label
DELIVERY_EXCEPTION = "delivery_exception"  # the carrier reported a delivery exception
EXTRA_REASON_LABELS = {
    RELEASE_HOLD: "Held before release",
    CARRIER_LABEL: "No shipping label",
    DELIVERY_EXCEPTION: "Delivery exception",
    "intercept": "Intercept requested",
}


class OrderException(TenantModel):
    """One reason an order needs a person. Open while ``resolved_at`` is empty."""

    Reason = ExceptionReason

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="exceptions")
    reason = models.CharField(max_length=40, choices=ExceptionReason.choices)
    detail = models.TextField(blank=True)
    sku = models.CharField(max_length=100, blank=True)
    blocking = models.BooleanField(default=True, help_text="Keeps the order in status 'exception'")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "resolved_at", "reason"], name="orderexc_queue")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.reason}"

    @property
    def reason_label(self) -> str:
        """The reason for people, also for reasons other apps' reactions raise (not in ``choices``)."""
        return EXTRA_REASON_LABELS.get(self.reason) or self.get_reason_display()


class SkuMapping(TenantModel):
    """A channel's SKU that means one of our products (fixing an 'unknown SKU' exception)."""

    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True, help_text="blank = any")
    external_sku = models.CharField(max_length=100)
    product_sku = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "external_sku"], name="skumap_merchant_channel_sku"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_sku} → {self.product_sku}"


class OrderSettings(TenantModel):
    """Per-merchant switches: customer notifications and routing preferences."""

    notify_received = models.BooleanField(default=True, help_text="Email when the warehouse receives it")
    notify_shipped = models.BooleanField(default=True, help_text="Email with tracking when shipped")
    notify_backordered = models.BooleanField(default=True, help_text="Email when delayed/backordered")
    notify_cancelled = models.BooleanField(default=True, help_text="Email when cancelled")
    notify_modified = models.BooleanField(default=True, help_text="Email when the order is changed")
    notify_delivered = models.BooleanField(default=True, help_text="Email when the carrier delivered it")
    notify_delivery_exception = models.BooleanField(
        default=True, help_text="Email when the carrier reports a delivery problem"
    )
    reply_to = models.EmailField(blank=True)
    auto_release = models.BooleanField(default=True, help_text="Release allocated orders to the warehouse")
    allow_split = models.BooleanField(default=True)
    max_wait_days = models.PositiveSmallIntegerField(
        default=0, help_text="Wait up to N days for stock instead of splitting (0 = never wait)"
    )
    split_penalty = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("3.00"), help_text="Extra cost of one more parcel"
    )
    wait_cost_per_day = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("2.00"))
    default_lead_time_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="Restock time to assume when no inbound shipment covers a shortfall (0 = only wait for "
        "announced inbound shipments)",
    )
    preferred_warehouses = models.JSONField(
        default=list, blank=True, help_text="warehouse codes, first wins ties"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant"], name="ordersettings_merchant")]
        verbose_name_plural = "order settings"

    def __str__(self) -> str:
        return f"order settings of {self.merchant_id}"


class SavedFilter(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=1000, help_text="the list page's query string")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CsvImport(TenantModel):
    """An uploaded CSV of orders: parsed rows and row errors shown as a preview until confirmed."""

    class Status(models.TextChoices):
        PREVIEW = "preview"
        DONE = "done"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    orders = models.JSONField(default=list, help_text="canonical orders as JSON, ready to import")
    errors = models.JSONField(default=list, help_text="[{row, message}]")
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"CSV import {self.pk} ({self.status})"
