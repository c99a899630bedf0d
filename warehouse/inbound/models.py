"""Receiving floor and stock control: vendors, purchase orders, receiving sessions, QC, putaway, cycle counts
and returns. Stock quantities are never written here — every unit moves through ``inventory.services``;
these models record what the floor did (scans, counts, grades) and link it to the ledger by reference.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from fulfil.tenancy import TenantModel

USER = settings.AUTH_USER_MODEL


# --- Vendors and purchase orders ----------------------------------------------------------------------


class Vendor(TenantModel):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    lead_time_days = models.PositiveSmallIntegerField(
        default=14, help_text="days from ordering to arrival (forecasting uses it)"
    )
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["merchant", "name"], name="inbound_vendor_name")]

    def __str__(self) -> str:
        return self.name


class PurchaseOrder(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIAL = "partial", "Partially received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=64)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    ordered_on = models.DateField(default=timezone.localdate)
    expected_on = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["merchant", "number"], name="inbound_po_number")]

    def __str__(self) -> str:
        return f"PO {self.number}"


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity_ordered = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "product"], name="inbound_po_line_product")
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity_received}/{self.quantity_ordered}"


# --- Receiving ----------------------------------------------------------------------------------------


class ReceivingSession(TenantModel):
    """The floor's side of one ASN: when it arrived at the dock, who received it, when it was done.
    ``dock_to_stock`` = arrival → the last unit made available."""

    class Status(models.TextChoices):
        OPEN = "open", "Receiving"
        DONE = "done", "Done"

    shipment = models.OneToOneField(
        "inventory.InboundShipment", on_delete=models.CASCADE, related_name="receiving_session"
    )
    purchase_order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    dock = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    arrived_at = models.DateTimeField(default=timezone.now)
    last_available_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    report_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-arrived_at", "-pk"]

    def __str__(self) -> str:
        return f"receiving ASN {self.shipment_id}"

    @property
    def dock_to_stock_seconds(self) -> float | None:
        if self.last_available_at is None:
            return None
        return max(0.0, (self.last_available_at - self.arrived_at).total_seconds())


class ReceiptLine(TenantModel):
    """One scan (or typed count) at the dock. ``client_scan_id`` makes a re-sent scan a no-op."""

    session = models.ForeignKey(ReceivingSession, on_delete=models.CASCADE, related_name="receipts")
    client_scan_id = models.CharField(max_length=64)
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    damaged = models.BooleanField(default=False)
    damage_note = models.CharField(max_length=200, blank=True)
    photo = models.ImageField(upload_to="inbound/damage/%Y/%m/", blank=True)
    lot = models.CharField(max_length=64, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    raw_scan = models.CharField(max_length=200, blank=True)
    on_asn = models.BooleanField(default=True, help_text="false: the product was not on the ASN (flagged)")
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "client_scan_id"], name="inbound_receipt_scan_id"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inbound_receipt_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}{' damaged' if self.damaged else ''}"


# --- Quality control ----------------------------------------------------------------------------------


class QcChecklist(TenantModel):
    """Checks for a product category at receiving. ``category`` empty = every product; otherwise it matches
    a product's category (or SKU prefix, for catalogs without categories)."""

    name = models.CharField(max_length=100)
    category = models.CharField(max_length=100, blank=True)
    items = models.JSONField(default=list, help_text="the questions, each passes or fails")
    sample_rate_pct = models.PositiveSmallIntegerField(default=10, help_text="% of received units inspected")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_rate_pct__lte=100), name="inbound_qc_sample_rate_lte_100"
            )
        ]

    def __str__(self) -> str:
        return self.name


class QcInspection(TenantModel):
    checklist = models.ForeignKey(QcChecklist, on_delete=models.PROTECT, related_name="inspections")
    session = models.ForeignKey(
        ReceivingSession, null=True, blank=True, on_delete=models.CASCADE, related_name="inspections"
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    client_scan_id = models.CharField(max_length=64, blank=True)
    sampled = models.PositiveIntegerField()
    failed = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, help_text="{question: true/false}")
    passed = models.BooleanField()
    notes = models.CharField(max_length=300, blank=True)
    corrective_action = models.CharField(max_length=300, blank=True)
    inspector = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"QC {self.product_id}: {'pass' if self.passed else 'FAIL'}"


# --- Putaway ------------------------------------------------------------------------------------------


class LocationProfile(models.Model):
    """What a location can take (operator data): temperature control, hazmat, size and weight limits."""

    location = models.OneToOneField("inventory.Location", on_delete=models.CASCADE, related_name="profile")
    cold = models.BooleanField(default=False)
    hazmat = models.BooleanField(default=False)
    max_length_mm = models.PositiveIntegerField(default=0)
    max_width_mm = models.PositiveIntegerField(default=0)
    max_height_mm = models.PositiveIntegerField(default=0)
    max_weight_g = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"profile of {self.location_id}"


class PutawayTask(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    receipt = models.ForeignKey(
        ReceiptLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="putaways"
    )
    lot = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    from_location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    suggested_location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggestion_reason = models.CharField(max_length=40, blank=True)
    to_location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["warehouse", "status"], name="inbound_putaway_wh_status")]

    def __str__(self) -> str:
        return f"putaway {self.quantity} × {self.product_id}"


# --- Cycle counts -------------------------------------------------------------------------------------


class CountSettings(models.Model):
    """Per-warehouse count policy (defaults in ``abc.CountPolicy``)."""

    warehouse = models.OneToOneField("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    a_days = models.PositiveSmallIntegerField(default=30)
    b_days = models.PositiveSmallIntegerField(default=90)
    c_days = models.PositiveSmallIntegerField(default=365)
    a_share_pct = models.PositiveSmallIntegerField(default=80)
    b_share_pct = models.PositiveSmallIntegerField(default=95)
    recount_variance_pct = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5.00"))
    recount_variance_units = models.PositiveIntegerField(default=2)
    approval_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("100.00"))

    def __str__(self) -> str:
        return f"count settings of {self.warehouse_id}"


class ProductClass(TenantModel):
    """ABC class of a product in a warehouse, recomputed by the nightly classification."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    abc_class = models.CharField(max_length=1, default="C")
    units_moved = models.PositiveIntegerField(default=0)
    last_counted_on = models.DateField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["abc_class", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="inbound_product_class_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.abc_class}"


class CycleCount(TenantModel):
    """A blind count of one product in one location. ``expected`` is never shown to the counter."""

    class Reason(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SHORT_PICK = "short_pick", "Short pick"
        LOCATION_EMPTY = "location_empty", "Location emptied"
        MANUAL = "manual", "Manual"

    class Status(models.TextChoices):
        OPEN = "open", "To count"
        RECOUNT = "recount", "Recount needed"
        APPROVAL = "approval", "Waiting for approval"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected (no adjustment)"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.OPEN, Status.RECOUNT, Status.APPROVAL)

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.SCHEDULED)
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    expected = models.IntegerField(null=True, blank=True, help_text="system quantity at the first count")
    first_count = models.IntegerField(null=True, blank=True)
    recount = models.IntegerField(null=True, blank=True)
    final_count = models.IntegerField(null=True, blank=True)
    variance = models.IntegerField(default=0)
    unit_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    variance_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    counted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recounted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    adjustment_reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)
    source_key = models.CharField(max_length=100, blank=True, help_text="the trigger (dedupes events)")
    created_at = models.DateTimeField(default=timezone.now)
    counted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "product"],
                condition=Q(status__in=["open", "recount", "approval"]),
                name="inbound_one_open_count",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "status"], name="inbound_count_wh_status")]

    def __str__(self) -> str:
        return f"count {self.pk}: {self.product_id}@{self.location_id}"

    @property
    def accurate(self) -> bool:
        return self.status == self.Status.DONE and self.variance == 0


# --- Returns ------------------------------------------------------------------------------------------


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Arrived damaged"
    DEFECTIVE = "defective", "Defective"
    WRONG_ITEM = "wrong_item", "Wrong item sent"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    TOO_LATE = "too_late", "Arrived too late"
    OTHER = "other", "Other"


class ReturnAuthorization(TenantModel):
    """An RMA for a shipped order. ``origin`` freezes who picked and packed it, the box and the carrier so
    analytics can tie returns back to the step that caused them."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        CANCELLED = "cancelled", "Cancelled"

    class OpenedBy(models.TextChoices):
        MERCHANT = "merchant", "Merchant"
        CUSTOMER = "customer", "Customer"

    number = models.CharField(max_length=32)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    customer_note = models.TextField(blank=True)
    opened_by = models.CharField(max_length=10, choices=OpenedBy.choices, default=OpenedBy.MERCHANT)
    request_key = models.CharField(
        max_length=64, blank=True, help_text="the opening form's key: a re-sent form returns this RMA"
    )
    customer_email = models.CharField(max_length=254, blank=True)
    customer_photo = models.ImageField(upload_to="inbound/returns/%Y/%m/", blank=True)
    label_shipment_id = models.PositiveIntegerField(null=True, blank=True)
    label_tracking = models.CharField(max_length=100, blank=True)
    label_url = models.CharField(max_length=500, blank=True)
    origin = models.JSONField(default=dict, help_text="picker, packer, box, carrier of the original order")
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="inbound_rma_number"),
            models.UniqueConstraint(
                fields=["merchant", "request_key"],
                condition=~Q(request_key=""),
                name="inbound_rma_request_key",
            ),
        ]

    def __str__(self) -> str:
        return f"RMA {self.number}"


class ReturnLine(models.Model):
    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    reason = models.CharField(max_length=20, choices=ReturnReason.choices, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


class ReturnUnit(TenantModel):
    """One returned unit (or a counted handful) scanned and graded at the returns bench."""

    class Grade(models.TextChoices):
        RESTOCK = "restock", "Restock (sellable)"
        REFURBISH = "refurbish", "Refurbish"
        QUARANTINE = "quarantine", "Quarantine"
        DISPOSE = "dispose", "Dispose"

    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.CASCADE, related_name="units")
    client_scan_id = models.CharField(max_length=64)
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    grade = models.CharField(max_length=10, choices=Grade.choices)
    lot = models.CharField(max_length=64, blank=True)
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    graded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["rma", "client_scan_id"], name="inbound_return_unit_scan_id"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inbound_return_unit_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} → {self.grade}"


def _portal_token() -> str:
    import secrets

    return secrets.token_urlsafe(12)


class ReturnPortalSettings(models.Model):
    """A merchant's customer self-service return portal: the public page ``/returns/<token>/`` where a
    customer finds a shipped order (order number + email or ship-to postal code) and opens a return."""

    merchant = models.OneToOneField("accounts.Merchant", on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    token = models.CharField(max_length=32, unique=True, default=_portal_token)
    window_days = models.PositiveSmallIntegerField(default=30, help_text="days after shipping")
    allowed_reasons = models.JSONField(default=list, help_text="reason codes; empty = every reason")
    prepaid_labels = models.BooleanField(default=False, help_text="buy a return label for the customer")
    instructions = models.TextField(blank=True, help_text="shown with the RMA number")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"return portal of {self.merchant_id}"

    def reasons(self) -> list[tuple[str, str]]:
        allowed = set(self.allowed_reasons or [])
        return [(v, label) for v, label in ReturnReason.choices if not allowed or v in allowed]
