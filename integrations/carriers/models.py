"""Carrier accounts, shipments and their tracking, rate quotes (for analytics), webhook events, scan forms."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from fulfil.crypto import EncryptedTextField
from fulfil.tenancy import TenantModel

ZERO = Decimal("0.00")


class CarrierCode(models.TextChoices):
    USPS = "usps", "USPS"
    UPS = "ups", "UPS"
    FEDEX = "fedex", "FedEx"
    DHL_EXPRESS = "dhl_express", "DHL Express"


class LabelFormat(models.TextChoices):
    PDF = "PDF", "PDF 4×6"
    ZPL = "ZPL", "ZPL (thermal printer)"
    PNG = "PNG", "PNG"


class ServiceLevel(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPEDITED = "expedited", "Expedited"
    OVERNIGHT = "overnight", "Overnight"


class CarrierAccount(TenantModel):
    """One provider credential for one carrier. Operator-owned when ``merchant`` is empty; otherwise a
    merchant's bring-your-own account (visible and usable only by that merchant)."""

    class Provider(models.TextChoices):
        EASYPOST = "easypost", "EasyPost"

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        PRODUCTION = "production", "Production"

    class Circuit(models.TextChoices):
        CLOSED = "closed", "Healthy"
        OPEN = "open", "Paused after failures"
        HALF_OPEN = "half_open", "Trying again"

    merchant = models.ForeignKey(
        "accounts.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_index=True,
        related_name="+",
        help_text="empty for the operator's accounts",
    )
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.EASYPOST)
    carrier = models.CharField(max_length=20, choices=CarrierCode.choices)
    api_key = EncryptedTextField(help_text="EasyPost API key, encrypted at rest")
    provider_account_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="EasyPost carrier account id (ca_…); empty = every account of the key",
    )
    webhook_secret = EncryptedTextField(blank=True, default="")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.TEST)
    is_enabled = models.BooleanField(default=True)
    enabled_services = models.JSONField(default=list, blank=True, help_text="empty = every service")
    markup_percent = models.DecimalField(max_digits=6, decimal_places=2, default=ZERO)
    markup_flat = models.DecimalField(max_digits=8, decimal_places=2, default=ZERO)
    default_package = models.JSONField(
        default=dict, blank=True, help_text='{"length_mm", "width_mm", "height_mm", "package_type"}'
    )
    label_format = models.CharField(max_length=3, choices=LabelFormat.choices, default=LabelFormat.PDF)
    timeout_seconds = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("8.00"))
    priority = models.IntegerField(default=0, help_text="tie-break between equal rates: higher first")
    # circuit breaker: the live state is in the shared cache; these mirror it for screens
    circuit_state = models.CharField(max_length=10, choices=Circuit.choices, default=Circuit.CLOSED)
    circuit_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["carrier", "name", "pk"]
        indexes = [models.Index(fields=["merchant", "is_enabled"], name="carrier_acct_m_enabled")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_carrier_display()}, {self.mode})"

    @property
    def is_operator_owned(self) -> bool:
        return self.merchant_id is None

    @property
    def masked_key(self) -> str:
        key = self.api_key or ""
        return f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "••••"

    def price_for(self, amount: Decimal) -> Decimal:
        """Carrier cost plus this account's markup, rounded once to cents."""
        marked = amount * (Decimal(1) + self.markup_percent / Decimal(100)) + self.markup_flat
        return marked.quantize(Decimal("0.01"))


class ShippingRule(TenantModel):
    """How a merchant's orders of one service level choose a rate."""

    class Rule(models.TextChoices):
        CHEAPEST = "cheapest", "Cheapest"
        FASTEST = "fastest", "Fastest"
        CHEAPEST_WITHIN = "cheapest_within", "Cheapest arriving within N days"
        PREFERRED = "preferred", "Preferred carrier"

    service_level = models.CharField(max_length=12, choices=ServiceLevel.choices)
    rule = models.CharField(max_length=20, choices=Rule.choices, default=Rule.CHEAPEST)
    max_days = models.PositiveSmallIntegerField(null=True, blank=True)
    preferred_carrier = models.CharField(max_length=20, choices=CarrierCode.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "service_level"], name="shipping_rule_m_level"),
        ]

    def __str__(self) -> str:
        return f"{self.service_level}: {self.rule}"


class Shipment(TenantModel):
    class Status(models.TextChoices):
        NEW = "new", "New"
        RATED = "rated", "Rated"
        BUYING = "buying", "Buying label"
        PURCHASED = "purchased", "Label bought"
        IN_TRANSIT = "in_transit", "In transit"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Exception"
        RETURNED = "returned", "Returned to sender"
        VOIDED = "voided", "Voided"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    account = models.ForeignKey(
        CarrierAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    carrier = models.CharField(max_length=20, choices=CarrierCode.choices, blank=True)
    service = models.CharField(max_length=100, blank=True)
    service_level = models.CharField(
        max_length=12, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    idempotency_key = models.CharField(max_length=200)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    public_tracking_url = models.URLField(max_length=500, blank=True)
    label_url = models.URLField(max_length=1000, blank=True)
    label_file = models.FileField(upload_to="labels/%Y/%m/", blank=True)
    label_format = models.CharField(max_length=3, choices=LabelFormat.choices, default=LabelFormat.PDF)
    rate = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="carrier cost"
    )
    price = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="cost with the account's markup"
    )
    currency = models.CharField(max_length=3, default="USD")
    carrier_fees = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    fees = models.JSONField(default=list, blank=True)
    insurance_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    insurance_cost = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    signature = models.CharField(max_length=20, blank=True)
    delivery_days = models.PositiveSmallIntegerField(null=True, blank=True)
    guaranteed = models.BooleanField(default=False)
    chosen_reason = models.CharField(max_length=500, blank=True)
    candidates = models.JSONField(default=list, blank=True, help_text="the ranked rates at purchase time")
    error = models.CharField(max_length=1000, blank=True)
    # parcel
    weight_g = models.PositiveIntegerField(default=0)
    length_mm = models.PositiveIntegerField(default=0)
    width_mm = models.PositiveIntegerField(default=0)
    height_mm = models.PositiveIntegerField(default=0)
    hazmat = models.BooleanField(default=False)
    lithium = models.BooleanField(default=False)
    to_address = models.JSONField(default=dict, blank=True)
    from_address = models.JSONField(default=dict, blank=True)
    # provider ids
    provider_shipment_id = models.CharField(max_length=100, blank=True, db_index=True)
    provider_rate_id = models.CharField(max_length=100, blank=True)
    provider_tracker_id = models.CharField(max_length=100, blank=True, db_index=True)
    refund_status = models.CharField(max_length=20, blank=True)
    scan_form = models.ForeignKey(
        "ScanForm", null=True, blank=True, on_delete=models.SET_NULL, related_name="shipments"
    )
    # time
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    purchased_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    est_delivery_at = models.DateTimeField(null=True, blank=True)
    last_tracking_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "idempotency_key"], name="shipment_m_idempotency"),
            models.CheckConstraint(condition=Q(carrier_fees__gte=0), name="shipment_fees_nonneg"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-id"], name="shipment_m_id"),
            models.Index(fields=["status", "last_tracking_at"], name="shipment_status_tracked"),
        ]

    def __str__(self) -> str:
        return self.tracking_number or f"shipment {self.pk}"

    @property
    def has_label(self) -> bool:
        return bool(self.tracking_number) and self.status not in (self.Status.VOIDED, self.Status.FAILED)

    @property
    def label_link(self) -> str:
        if self.label_file:
            return self.label_file.url
        return self.label_url


ACTIVE_TRACKING = [
    Shipment.Status.PURCHASED,
    Shipment.Status.IN_TRANSIT,
    Shipment.Status.OUT_FOR_DELIVERY,
    Shipment.Status.EXCEPTION,
]


class TrackingEvent(TenantModel):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    status = models.CharField(max_length=20)
    message = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    provider_status_detail = models.CharField(max_length=60, blank=True)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "fingerprint"], name="tracking_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


class RateQuote(TenantModel):
    """Every rate a shop saw (or the error an account gave), for analytics: cost by carrier and service,
    failures by account. ``chosen`` marks the winner."""

    shop_id = models.CharField(max_length=40, db_index=True)
    account = models.ForeignKey(
        CarrierAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="quotes"
    )
    carrier = models.CharField(max_length=20, blank=True)
    service = models.CharField(max_length=100, blank=True)
    service_level = models.CharField(max_length=12, blank=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    delivery_days = models.PositiveSmallIntegerField(null=True, blank=True)
    guaranteed = models.BooleanField(default=False)
    eligible = models.BooleanField(default=True)
    excluded_reason = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=300, blank=True)
    chosen = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(default=0)
    to_postal_code = models.CharField(max_length=20, blank=True)
    to_country = models.CharField(max_length=2, blank=True)
    weight_g = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "carrier", "service"], name="ratequote_m_carrier")]

    def __str__(self) -> str:
        return f"{self.carrier} {self.service} {self.amount}"


class WebhookEvent(models.Model):
    """One EasyPost event, stored once (dedupe on the provider's event id)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    provider = models.CharField(max_length=20, default="easypost")
    event_id = models.CharField(max_length=100)
    description = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"


class ScanForm(models.Model):
    """An end-of-day manifest (USPS SCAN form) for one account's labels."""

    account = models.ForeignKey(CarrierAccount, on_delete=models.PROTECT, related_name="scan_forms")
    provider_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, blank=True)
    form_url = models.URLField(max_length=1000, blank=True)
    tracking_numbers = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.provider_id or f"scan form {self.pk}"


class AddressProposal(TenantModel):
    """A carrier's corrected address, proposed to the merchant; never applied without a person's say-so."""

    class Status(models.TextChoices):
        VALID = "valid", "Valid as entered"
        PROPOSED = "proposed", "Correction proposed"
        UNVERIFIABLE = "unverifiable", "Could not verify"
        ACCEPTED = "accepted", "Correction accepted"
        REJECTED = "rejected", "Kept as entered"

    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="address_proposals"
    )
    original = models.JSONField(default=dict)
    proposed = models.JSONField(default=dict, blank=True)
    messages = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"address check {self.pk} ({self.status})"
