"""Outbound floor: waves, batches (pick carts), pick tasks, box catalog, pack sessions, QC, metrics.

Warehouse staff work across merchants in their warehouse, so most rows here are operator-owned (scoped by
warehouse); rows that act on one merchant's goods carry that merchant (``TenantModel``) so the services
can call inventory and orders for the right tenant.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from fulfil.tenancy import TenantModel


class WarehouseLayout(models.Model):
    """Optional layout facts the locations alone do not give: cross aisles between blocks, the depot."""

    warehouse = models.OneToOneField("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    middle_cross_aisles_y = models.JSONField(
        default=list, blank=True, help_text="y (m) of cross aisles between the front and back ones"
    )
    depot_x = models.FloatField(null=True, blank=True, help_text="x (m) where carts start; default packing")

    def __str__(self) -> str:
        return f"layout of {self.warehouse_id}"


class BoxType(models.Model):
    class Kind(models.TextChoices):
        BOX = "box", "Box"
        MAILER = "mailer", "Mailer"
        POLY_BAG = "poly_bag", "Poly bag"
        BRANDED = "branded", "Merchant's branded box"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="box_types")
    merchant = models.ForeignKey(
        "accounts.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="set for a merchant's branded box: used only for that merchant's orders",
    )
    code = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BOX)
    length_mm = models.PositiveIntegerField()
    width_mm = models.PositiveIntegerField()
    height_mm = models.PositiveIntegerField()
    max_weight_g = models.PositiveIntegerField(default=20000)
    tare_g = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse_id", "length_mm", "width_mm", "height_mm"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "code"], name="boxtype_wh_code"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="boxtype_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.length_mm}×{self.width_mm}×{self.height_mm}"


class PackingRule(TenantModel):
    """Per-product packing rules beyond inventory's ``Product.packaging`` choice."""

    class VoidFill(models.TextChoices):
        NONE = "", "None"
        PAPER = "paper", "Kraft paper"
        AIR = "air", "Air pillows"
        BUBBLE = "bubble", "Bubble wrap"

    product = models.OneToOneField("inventory.Product", on_delete=models.CASCADE, related_name="packing_rule")
    ships_in_own_container = models.BooleanField(default=False)
    no_bag = models.BooleanField(default=False, help_text="must not be bagged")
    this_side_up = models.BooleanField(default=False)
    void_fill = models.CharField(max_length=10, choices=VoidFill.choices, blank=True, default="")
    instructions = models.CharField(max_length=255, blank=True)
    qc_category = models.CharField(max_length=40, blank=True, help_text="selects the QC checklist")

    def __str__(self) -> str:
        return f"packing rule for {self.product_id}"


class Wave(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PICKING = "picking", "Picking"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    rules = models.JSONField(default=dict, blank=True)
    cutoff_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scheduled = models.BooleanField(default=False, help_text="created by the cut-off schedule")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    """One picker's cart: a tote per order, one route (the pick list)."""

    class Status(models.TextChoices):
        OPEN = "open", "Ready to pick"
        PICKING = "picking", "Picking"
        PICKED = "picked", "Picked"
        CANCELLED = "cancelled", "Cancelled"

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="batches")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=30, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    single_order = models.BooleanField(default=False, help_text="expedited or large order picked alone")
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    route_length_m = models.FloatField(default=0)
    single_order_length_m = models.FloatField(default=0, help_text="travel if each order were picked alone")
    route_method = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.number


class BatchOrder(TenantModel):
    """An order on a cart, in its own tote."""

    class Status(models.TextChoices):
        PICKING = "picking", "Picking"
        PICKED = "picked", "Picked"
        SHORT = "short", "Short (backordered)"
        PACKED = "packed", "Packed"
        SHIPPED = "shipped", "Shipped"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="orders")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    tote = models.CharField(max_length=30)
    slot = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PICKING)

    class Meta:
        ordering = ["batch_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "order"], name="batchorder_batch_order"),
            models.UniqueConstraint(fields=["batch", "slot"], name="batchorder_batch_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.tote}"


class PickTask(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "To pick"
        PICKED = "picked", "Picked"
        SHORT = "short", "Short"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="tasks")
    batch_order = models.ForeignKey(BatchOrder, on_delete=models.CASCADE, related_name="tasks")
    line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    picked_quantity = models.PositiveIntegerField(default=0)
    short_quantity = models.PositiveIntegerField(default=0)
    sequence = models.PositiveIntegerField(default=0, help_text="position on the route")
    location_confirmed = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    picked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    picked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch_id", "sequence", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(picked_quantity__lte=models.F("quantity")), name="picktask_picked_lte_qty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} @ {self.location_id}"

    @property
    def remaining(self) -> int:
        return self.quantity - self.picked_quantity - self.short_quantity


class ReplenishmentTask(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    to_location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    from_location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_confirmed = models.BooleanField(default=False, help_text="the from-location was scanned")
    moved_quantity = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "to_location"], condition=Q(status="open"), name="replen_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"replenish {self.product_id} → {self.to_location_id}"


class ScanEvent(models.Model):
    """Every scan the screens post, keyed by the id the tablet generated: a retried POST (lost
    connection) finds its first answer here instead of scanning twice."""

    scan_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    screen = models.CharField(max_length=10)
    code = models.CharField(max_length=200, blank=True)
    ok = models.BooleanField(default=True)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.screen}:{self.code}"


class PackSession(TenantModel):
    class Status(models.TextChoices):
        VERIFYING = "verifying", "Verifying items"
        PACKED = "packed", "Packed"
        LABELLED = "labelled", "Label bought"
        SHIPPED = "shipped", "Shipped"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    batch_order = models.ForeignKey(
        BatchOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    packer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VERIFYING)
    verified = models.JSONField(default=dict, blank=True, help_text="{line_id: units scanned}")
    plan = models.JSONField(default=dict, blank=True, help_text="the recommended parcels")
    weight_g = models.PositiveIntegerField(null=True, blank=True)
    shipment_ids = models.JSONField(default=list, blank=True)
    qc_due = models.JSONField(
        default=dict, blank=True, help_text="the checklist to answer for the unit just scanned, if any"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=~Q(status="shipped"), name="packsession_one_open_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"packing {self.order_id}"


class QcChecklist(models.Model):
    class Stage(models.TextChoices):
        PICK = "pick", "Picking"
        PACK = "pack", "Packing"

    category = models.CharField(
        max_length=40, help_text="product category (PackingRule.qc_category); blank = all"
    )
    stage = models.CharField(max_length=4, choices=Stage.choices, default=Stage.PACK)
    name = models.CharField(max_length=100)
    questions = models.JSONField(default=list, help_text='["Seal intact?", "No visible damage?"]')
    sample_pct = models.PositiveSmallIntegerField(
        default=100, help_text="share of units (tasks at picking) checked, 0–100"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "stage"]

    def __str__(self) -> str:
        return self.name


class QcResult(TenantModel):
    checklist = models.ForeignKey(QcChecklist, on_delete=models.PROTECT, related_name="results")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    pick_task = models.ForeignKey(
        PickTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="qc_results"
    )
    stage = models.CharField(max_length=4, choices=QcChecklist.Stage.choices)
    passed = models.BooleanField()
    failed_questions = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    quarantined = models.PositiveIntegerField(default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"QC {'pass' if self.passed else 'fail'} {self.product_id}"


class FloorMetric(models.Model):
    """One measured fact for analytics: picks, travel, mis-scans, short picks, pack time, box fill."""

    class Kind(models.TextChoices):
        PICK = "pick", "Units picked (per task)"
        TRAVEL_M = "travel_m", "Route metres (per batch)"
        MIS_SCAN = "mis_scan", "Mis-scan caught"
        SHORT_PICK = "short_pick", "Short pick"
        PACK_SECONDS = "pack_seconds", "Pack time (s, per order)"
        BOX_UTILISATION = "box_util", "Box utilisation (item / box volume)"
        BATCH_SECONDS = "batch_seconds", "Batch pick time (s)"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merchant = models.ForeignKey(
        "accounts.Merchant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=14, choices=Kind.choices)
    value = models.FloatField()
    lines = models.PositiveIntegerField(default=0)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["warehouse", "kind", "created_at"], name="floormetric_wh_kind")]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class KitBuildTask(TenantModel):
    """Kits to assemble ahead of orders at a warehouse (``warehouse.kitting``): the merchant (or an operator)
    asks for ``quantity``; staff scan the components and confirm what they built, possibly in parts; each
    confirmation moves stock through ``inventory.services.kit_build``."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+")
    kit = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(help_text="kits asked for")
    built_quantity = models.PositiveIntegerField(default=0)
    scanned = models.JSONField(
        default=dict, blank=True, help_text="{component id: units scanned, not yet built}"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    notes = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="kit_task_quantity_positive"),
            models.CheckConstraint(condition=Q(built_quantity__lte=F("quantity")), name="kit_task_built_lte"),
        ]

    def __str__(self) -> str:
        return f"build {self.quantity} × {self.kit_id} at {self.warehouse_id}"

    @property
    def remaining(self) -> int:
        return max(0, self.quantity - self.built_quantity)
