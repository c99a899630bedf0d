"""Billing: rate cards (versioned), charge lines (immutable, linked to what caused them), invoices, payments
through Stripe, commitments, estimates and per-order costs. Money is Decimal + currency."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from fulfil.tenancy import TenantModel

ZERO = Decimal("0")


def _money(**kw):
    return models.DecimalField(max_digits=14, decimal_places=2, default=ZERO, **kw)


def new_token() -> str:
    return secrets.token_urlsafe(16)


class ImmutableError(Exception):
    pass


class RateCard(models.Model):
    """The published standard card (``merchant`` empty, ``kind=standard``) or one merchant's contract card,
    which overrides parts of the standard card."""

    class Kind(models.TextChoices):
        STANDARD = "standard", "Standard (published)"
        CONTRACT = "contract", "Contract"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STANDARD)
    merchant = models.ForeignKey(
        "accounts.Merchant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant"], condition=models.Q(kind="contract"), name="billing_one_contract_card"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(kind="standard"), name="billing_one_standard_card"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RateCardVersion(models.Model):
    """One dated version of a card. Never edited once created: a price change is a new version with a later
    ``effective_from``, so charges rated under an old version re-compute to the same amounts forever.
    ``data`` is the whole card for a standard version, or only the overrides for a contract version."""

    card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField()
    data = models.JSONField()
    notes = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["card_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["card", "version"], name="billing_card_version_unique"),
            models.UniqueConstraint(fields=["card", "effective_from"], name="billing_card_effective_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.card.name} v{self.version} (from {self.effective_from:%Y-%m-%d})"

    def save(self, *args, **kwargs):
        if self.pk and not kwargs.pop("force_allowed", False):
            raise ImmutableError("Rate card versions are immutable; publish a new version.")
        super().save(*args, **kwargs)


class BillingAccount(TenantModel):
    """A merchant's billing settings: cycle, terms, credit limit, tax jurisdiction and Stripe customer."""

    class Cycle(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        BIWEEKLY = "biweekly", "Every two weeks"
        MONTHLY = "monthly", "Monthly"

    cycle = models.CharField(max_length=10, choices=Cycle.choices, default=Cycle.MONTHLY)
    cycle_anchor = models.DateField(help_text="the first day of the first cycle")
    next_cycle_start = models.DateField()
    terms_days = models.PositiveSmallIntegerField(
        default=0, help_text="0 = charged on issue (autopay); 15 or 30 = net terms"
    )
    credit_limit = _money()
    credit_hold_override = models.BooleanField(default=False)
    credit_hold_override_reason = models.CharField(max_length=300, blank=True)
    tax_jurisdiction = models.CharField(max_length=10, blank=True, help_text="e.g. US-NY")
    currency = models.CharField(max_length=3, default="USD")
    autopay = models.BooleanField(default=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant"], name="billing_one_account_per_merchant")]


class VolumeCommitment(TenantModel):
    """A promise of monthly orders that unlocks a tier. A mid-term change ends this one (``ends_on``) and
    starts a new one; the minimum fee of the partial month is pro-rated by days."""

    class Term(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        ANNUAL = "annual", "Annual"

    term = models.CharField(max_length=10, choices=Term.choices, default=Term.MONTHLY)
    monthly_orders = models.PositiveIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_on", "-pk"]


class CommitmentPeriod(TenantModel):
    """One closed commitment month (calendar month in the merchant's time zone): what was committed
    (pro-rated by days across mid-term changes), what shipped, and the shortfall charge line it produced
    (none when the commitment was met). Written once when the month ends; never edited."""

    month = models.DateField(help_text="first day of the month")
    time_zone = models.CharField(max_length=64, default="UTC")
    committed_orders = models.PositiveIntegerField()
    actual_orders = models.PositiveIntegerField()
    shortfall_orders = models.PositiveIntegerField()
    tier = models.CharField(max_length=40, blank=True)
    volume_basis = models.PositiveIntegerField(default=0)
    commitment_ids = models.JSONField(default=list)
    charge_line = models.ForeignKey(
        "ChargeLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "month"], name="billing_one_commitment_period_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"Commitment {self.month:%b %Y}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("A closed commitment period is never edited.")
        super().save(*args, **kwargs)


class TaxRate(models.Model):
    """A tax rate on services in a jurisdiction, optionally per category ("*" = all)."""

    jurisdiction = models.CharField(max_length=10)
    category = models.CharField(max_length=20, default="*")
    rate = models.DecimalField(max_digits=6, decimal_places=5)
    effective_from = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["jurisdiction", "category", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "category", "effective_from"], name="billing_tax_rate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction} {self.category} {self.rate}"


class InvoiceCounter(models.Model):
    """One row per operator; locked with SELECT … FOR UPDATE to hand out gap-free invoice numbers."""

    operator = models.CharField(max_length=40, unique=True, default="fulfil")
    prefix = models.CharField(max_length=10, default="INV-")
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.operator}: next {self.next_number}"


class Invoice(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        PAST_DUE = "past_due", "Past due"
        VOID = "void", "Void"

    number = models.CharField(max_length=30, unique=True)
    sequence = models.PositiveIntegerField()
    period_start = models.DateField()
    period_end = models.DateField(help_text="exclusive")
    issued_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = _money()
    tax = _money()
    total = _money()
    amount_paid = _money()
    amount_credited = _money()
    payment_attempts = models.PositiveSmallIntegerField(default=0)
    next_payment_attempt = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "period_start"], name="billing_one_invoice_per_cycle"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid - self.amount_credited


class ChargeLine(TenantModel):
    """One priced billable activity. Immutable: a correction is a new line (``corrects`` points at the line it
    corrects). ``source`` is the object that caused it (order, shipment, inbound shipment, storage-day…),
    ``source_key`` makes its creation idempotent per merchant. ``activity`` and ``rate_versions`` are the exact
    inputs of the pricing function, so the line re-computes to the same amount forever."""

    # Indexes kept to what reads need (rating inserts ~a million lines a cycle): the unique
    # (merchant, source_key) also serves merchant lookups, (merchant, invoice, occurred_at) the unbilled scan.
    merchant = models.ForeignKey(
        "accounts.Merchant", on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    category = models.CharField(max_length=20)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=16, decimal_places=6)
    amount = _money()
    tax_rate = models.DecimalField(max_digits=6, decimal_places=5, default=ZERO)
    tax = _money()
    currency = models.CharField(max_length=3, default="USD")
    tier = models.CharField(max_length=40, blank=True)
    volume_basis = models.PositiveIntegerField(default=0, help_text="monthly orders used to choose the tier")
    activity = models.JSONField(default=dict)
    rate_versions = models.JSONField(default=list)
    source_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source_id = models.CharField(max_length=64, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    source_label = models.CharField(max_length=200, blank=True)
    source_key = models.CharField(max_length=160)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="outbox event that caused it")
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "source_key"], name="billing_charge_once"),
        ]
        indexes = [
            models.Index(fields=["merchant", "invoice", "occurred_at"], name="billing_cl_unbilled"),
            models.Index(fields=["source_type", "source_id"], name="billing_cl_source"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("Charge lines are immutable; add a correcting line instead.")
        super().save(*args, **kwargs)

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax

    @property
    def unit_price_display(self) -> str:
        """At least cents, more digits only when the rate has them (a storage-day is 25.00 / 30)."""
        q = self.unit_price.normalize()
        return f"{q:f}" if -q.as_tuple().exponent > 2 else f"{q:.2f}"


class PaymentMethod(TenantModel):
    """A saved card or US bank account. A bank account waits in ``pending_verification`` until the merchant
    confirms the microdeposits; only ``active`` methods are charged. The ACH debit mandate the merchant accepted
    (when, from which IP address and browser) is kept with the Stripe mandate id."""

    class Type(models.TextChoices):
        CARD = "card", "Card"
        US_BANK_ACCOUNT = "us_bank_account", "US bank account"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING_VERIFICATION = "pending_verification", "Waiting for microdeposit verification"
        VERIFICATION_FAILED = "verification_failed", "Verification failed"

    stripe_payment_method_id = models.CharField(max_length=64)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.CARD)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    stripe_setup_intent_id = models.CharField(max_length=64, blank=True)
    holder_name = models.CharField(max_length=200, blank=True)
    account_type = models.CharField(max_length=20, blank=True, help_text="checking or savings")
    microdeposit_type = models.CharField(max_length=20, blank=True, help_text="amounts or descriptor_code")
    microdeposits_arrive_at = models.DateTimeField(null=True, blank=True)
    verification_url = models.URLField(
        max_length=500, blank=True, help_text="Stripe's hosted verification page"
    )
    verification_error = models.CharField(max_length=300, blank=True)
    mandate_id = models.CharField(max_length=64, blank=True)
    mandate_accepted_at = models.DateTimeField(null=True, blank=True)
    mandate_ip = models.GenericIPAddressField(null=True, blank=True)
    mandate_user_agent = models.CharField(max_length=300, blank=True)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["stripe_payment_method_id"], name="billing_pm_unique"),
        ]

    def __str__(self) -> str:
        if self.type == self.Type.US_BANK_ACCOUNT:
            return f"{self.brand or 'Bank account'} ({self.account_type or 'checking'}) •••• {self.last4}"
        return f"{(self.brand or self.get_type_display()).title()} •••• {self.last4}"


class Payment(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing (bank debit)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    attempt = models.PositiveSmallIntegerField(default=1)
    amount = _money()
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_payment_intent_id = models.CharField(max_length=64, blank=True)
    payment_method = models.ForeignKey(PaymentMethod, null=True, blank=True, on_delete=models.SET_NULL)
    failure_message = models.CharField(max_length=300, blank=True)
    amount_refunded = _money()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "attempt"], name="billing_payment_attempt_once"),
        ]


class StripeEvent(models.Model):
    """Every Stripe webhook event we accepted, once (idempotency on the event id)."""

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    result = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class PaymentDispute(TenantModel):
    """A chargeback raised through Stripe on one of our payments."""

    stripe_dispute_id = models.CharField(max_length=80, unique=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes"
    )
    amount = _money()
    currency = models.CharField(max_length=3, default="USD")
    reason = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class LineDispute(TenantModel):
    """The merchant questions one charge line; the operator accepts (a credit line is added) or rejects."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted — credited"
        REJECTED = "rejected", "Rejected"

    line = models.ForeignKey(ChargeLine, on_delete=models.PROTECT, related_name="disputes")
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    credit_line = models.ForeignKey(
        ChargeLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"], condition=models.Q(status="open"), name="billing_one_open_dispute_per_line"
            )
        ]


class Notice(TenantModel):
    """Billing notices shown to the merchant (and emailed): payment failed, retry scheduled, credit warnings."""

    kind = models.CharField(max_length=30)
    message = models.CharField(max_length=500)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="notices"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]


class SavedEstimate(models.Model):
    """A calculator estimate saved to share by link; claimed by a merchant after sign-up."""

    token = models.CharField(max_length=32, unique=True, default=new_token)
    inputs = models.JSONField()
    summary = models.JSONField(default=dict)
    rate_versions = models.JSONField(default=list)
    merchant = models.ForeignKey(
        "accounts.Merchant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.token


class OrderCost(TenantModel):
    """An order's estimated cost (from intake, refreshed when the order changes) and actual cost (when
    shipped). ``order_id`` is the orders app's Order id (no FK: billing only reads the order book)."""

    order_id = models.BigIntegerField()
    order_number = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    estimated = models.JSONField(default=dict)
    estimated_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    estimated_at = models.DateTimeField(null=True, blank=True)
    actual = models.JSONField(default=dict)
    actual_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    actual_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "order_id"], name="billing_order_cost_once")
        ]

    @property
    def difference(self) -> Decimal | None:
        if self.actual_total is None or self.estimated_total is None:
            return None
        return self.actual_total - self.estimated_total


class CarrierAdjustment(TenantModel):
    """A carrier's billed amount for a label that differs from what we charged (reweigh, address correction),
    imported from the carrier's or EasyPost's invoice, matched to the label, passed on with its evidence."""

    class Reason(models.TextChoices):
        REWEIGH = "reweigh", "Reweigh / dimensional correction"
        ADDRESS = "address_correction", "Address correction"
        OTHER = "other", "Other carrier adjustment"

    tracking_number = models.CharField(max_length=80)
    shipment_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    charged_amount = _money()
    billed_amount = _money()
    evidence = models.JSONField(default=dict)
    charge_line = models.ForeignKey(
        ChargeLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    import_ref = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "tracking_number", "reason", "import_ref"],
                name="billing_carrier_adj_once",
            )
        ]
