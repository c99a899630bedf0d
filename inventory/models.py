"""Catalog, warehouses and the stock ledger.

Quantities live in three places that must always agree:

* ``StockMovement`` — the append-only ledger (every physical movement, never updated or deleted);
* ``StockQuant`` — current units per product × location × lot, maintained in the same transaction as the
  movement that changed them (``check_inventory`` recomputes them from the ledger);
* ``StockLevel`` — per product × warehouse counters: ``on_hand`` (sellable units: every location except
  quarantine and returns), ``quarantined``, ``reserved`` (sum of open allocations), ``held``, ``safety_stock``,
  ``backordered`` (unfilled demand) and ``inbound`` (expected on open ASNs).

``available = on_hand - reserved - held - safety_stock`` (never shown below zero). Reservations change
``reserved`` with a conditional UPDATE, so the database — not Python — decides whether stock is there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from fulfil.tenancy import TenantModel, TenantQuerySet
from inventory.exceptions import AppendOnlyError, InsufficientStock  # noqa: F401 - re-exported

# --- Catalog ------------------------------------------------------------------------------------------


class Product(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    class Packaging(models.TextChoices):
        ANY = "", "Best fit (our choice)"
        OWN = "own", "Ships in its own box"
        BOX = "box", "Box"
        POLY = "poly", "Poly mailer"
        PADDED = "padded", "Padded mailer"
        GIFT = "gift", "Gift box"

    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    barcode = models.CharField(max_length=14, blank=True, help_text="UPC-A, EAN-8, EAN-13 or GTIN-14")
    weight_g = models.PositiveIntegerField("weight (g)", default=0)
    length_mm = models.PositiveIntegerField("length (mm)", default=0)
    width_mm = models.PositiveIntegerField("width (mm)", default=0)
    height_mm = models.PositiveIntegerField("height (mm)", default=0)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="customs value")
    currency = models.CharField(max_length=3, default="USD")
    hs_code = models.CharField("HS code", max_length=12, blank=True)
    country_of_origin = models.CharField(max_length=2, blank=True)
    fragile = models.BooleanField(default=False)
    hazmat = models.BooleanField(default=False)
    un_class = models.CharField("UN hazard class", max_length=10, blank=True)
    requires_lot_tracking = models.BooleanField(default=False)
    requires_expiry_tracking = models.BooleanField(default=False)
    temperature_min_c = models.SmallIntegerField(null=True, blank=True)
    temperature_max_c = models.SmallIntegerField(null=True, blank=True)
    humidity_max_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    packaging = models.CharField(max_length=10, choices=Packaging.choices, blank=True, default="")
    custom_inserts = models.CharField(max_length=255, blank=True, help_text="e.g. thank-you card, sample")
    is_kit = models.BooleanField(default=False)
    in_kits = models.BooleanField(default=False, editable=False, help_text="a component of some kit")
    photo = models.ImageField(upload_to="products/%Y/%m/", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    low_stock_threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="alert when available (all warehouses) falls below this"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_merchant_sku"),
            models.CheckConstraint(condition=Q(hazmat=True) | Q(un_class=""), name="product_un_class_hazmat"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    @property
    def is_orderable(self) -> bool:
        return self.status == self.Status.ACTIVE


class KitComponent(models.Model):
    kit = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="used_in_kits")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["component_id"]
        constraints = [
            models.UniqueConstraint(fields=["kit", "component"], name="kit_component_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="kit_component_qty_positive"),
            models.CheckConstraint(condition=~Q(kit=F("component")), name="kit_component_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.kit_id} ← {self.quantity} × {self.component_id}"


class ProductPhoto(TenantModel):
    """One photo of a product (``product_photo_add``, the API's ``…/photos/``). The product's ``photo`` is its
    primary one — the picture pickers and packers see — and is always one of these when any exist."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="products/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=40, blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"photo {self.pk} of {self.product_id}"


# --- Warehouses ---------------------------------------------------------------------------------------


class WarehouseQuerySet(models.QuerySet):
    def visible_to(self, merchant) -> WarehouseQuerySet:
        """Operator warehouses (the 3PL's) plus the merchant's own."""
        merchant_id = merchant if isinstance(merchant, int) or merchant is None else merchant.pk
        return self.filter(Q(owner_merchant__isnull=True) | Q(owner_merchant_id=merchant_id))


class Warehouse(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    owner_merchant = models.ForeignKey(
        "accounts.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="empty for the operator's warehouses; set for a merchant's own or partner warehouse",
    )
    street1 = models.CharField(max_length=200, blank=True)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    phone = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, default="America/New_York")
    cutoff_time = models.TimeField(default="15:00", help_text="orders released before this ship the same day")
    hazmat_certified = models.BooleanField(default=False)
    cold_storage = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    objects = WarehouseQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def address_lines(self) -> list[str]:
        city = ", ".join(p for p in [self.city, f"{self.state} {self.postal_code}".strip()] if p)
        return [line for line in [self.street1, self.street2, city, self.country] if line]


class Location(models.Model):
    class Type(models.TextChoices):
        RECEIVING = "receiving", "Receiving dock"
        PICK = "pick", "Pick face"
        RESERVE = "reserve", "Reserve / bulk"
        PACKING = "packing", "Packing"
        STAGING = "staging", "Staging"
        QUARANTINE = "quarantine", "Quarantine"
        RETURNS = "returns", "Returns"

    # Units in these locations are on hand but never sellable.
    UNSELLABLE = (Type.QUARANTINE, Type.RETURNS)
    # Where pickers take stock from, best first.
    PICKABLE = (Type.PICK, Type.RESERVE, Type.RECEIVING)

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="locations")
    code = models.CharField(max_length=40, help_text="zone-aisle-bay-level-bin, e.g. A-03-12-1-A")
    type = models.CharField(max_length=12, choices=Type.choices, default=Type.PICK)
    zone = models.CharField(max_length=10, blank=True)
    aisle = models.PositiveSmallIntegerField(null=True, blank=True)
    bay = models.PositiveSmallIntegerField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    bin = models.CharField(max_length=10, blank=True)
    x = models.FloatField(default=0, help_text="metres from the floor's origin (along the front wall)")
    y = models.FloatField(default=0, help_text="metres from the floor's origin (into the building)")
    capacity = models.PositiveIntegerField(default=0, help_text="units; 0 = unlimited")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["warehouse_id", "code"]
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="location_wh_code")]
        indexes = [models.Index(fields=["warehouse", "type"], name="location_wh_type")]

    def __str__(self) -> str:
        return f"{self.warehouse.code}:{self.code}" if self.warehouse_id else self.code

    @property
    def sellable(self) -> bool:
        return self.type not in self.UNSELLABLE


# --- Current quantities -------------------------------------------------------------------------------


class StockQuant(TenantModel):
    """Units of one product in one location and lot, now."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="quants")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="quants")
    lot = models.CharField(max_length=64, blank=True, default="")
    expires_on = models.DateField(null=True, blank=True)
    quantity = models.IntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now, help_text="first arrival, for FIFO")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "location", "lot"], name="quant_product_location_lot"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="quant_quantity_non_negative"),
        ]
        indexes = [models.Index(fields=["product", "warehouse"], name="quant_product_wh")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}[{self.lot}]={self.quantity}"


class StockLevel(TenantModel):
    """Per product × warehouse counters. ``available`` is derived; the database enforces the rest."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    on_hand = models.IntegerField(default=0, help_text="sellable units in the building (incl. picked)")
    reserved = models.IntegerField(default=0, help_text="units allocated to open demand")
    held = models.IntegerField(default=0, help_text="units on an inventory hold")
    safety_stock = models.IntegerField(default=0, help_text="units never offered for sale")
    quarantined = models.IntegerField(default=0, help_text="damaged / returned units awaiting a decision")
    backordered = models.IntegerField(default=0, help_text="demand waiting for stock")
    inbound = models.IntegerField(default=0, help_text="expected on open inbound shipments")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "product", "warehouse"], name="level_product_wh"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=0)
                & Q(reserved__gte=0)
                & Q(held__gte=0)
                & Q(safety_stock__gte=0)
                & Q(quarantined__gte=0)
                & Q(backordered__gte=0)
                & Q(inbound__gte=0),
                name="level_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand") - F("held")), name="level_reserved_lte_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.held - self.safety_stock)


# --- The ledger ---------------------------------------------------------------------------------------


class StockMovementQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The stock ledger is append-only: movements are never updated.")

    def delete(self):
        raise AppendOnlyError("The stock ledger is append-only: movements are never deleted.")


class StockMovement(TenantModel):
    """One physical movement of stock. Append-only: corrections are new movements."""

    class Type(models.TextChoices):
        RECEIVE = "receive", "Receive"
        PUTAWAY = "putaway", "Putaway"
        MOVE = "move", "Move"
        PICK = "pick", "Pick"
        PACK = "pack", "Pack"
        SHIP = "ship", "Ship"
        ADJUST = "adjust", "Adjust"
        COUNT = "count", "Count"
        RETURN = "return", "Return"
        DAMAGE = "damage", "Damage"
        # Kit assembly ahead of orders (inventory.services.kits): components used up, kit units made; and the
        # reverse, a built kit taken apart into its components.
        KIT_USE = "kit_use", "Kit assembly: component used"
        KIT_BUILD = "kit_build", "Kit assembly: kit built"
        KIT_BREAK = "kit_break", "Kit breakdown: kit taken apart"
        KIT_PART = "kit_part", "Kit breakdown: component back"

    type = models.CharField(max_length=10, choices=Type.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    from_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lot = models.CharField(max_length=64, blank=True, default="")
    expires_on = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = models.Manager.from_queryset(StockMovementQuerySet)()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="movement_quantity_positive"),
            models.CheckConstraint(
                condition=Q(from_location__isnull=False) | Q(to_location__isnull=False),
                name="movement_has_a_location",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "product", "created_at"], name="movement_product_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.quantity} × {self.product_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("The stock ledger is append-only: movements are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The stock ledger is append-only: movements are never deleted.")


# --- Demand -------------------------------------------------------------------------------------------


class Allocation(TenantModel):
    """The demand of one reference (e.g. ``order_line:42``) for one product in one warehouse.

    ``allocated`` units are reserved (and counted in the level's ``reserved``), ``picked`` of them sit in
    packing, ``shipped`` have left. ``requested - allocated - shipped`` is the backorder, filled in
    priority-then-time order when stock arrives. A kit's allocation is a parent whose children reserve the
    components; the parent touches the kit's own level only for ``prebuilt`` kits (units built ahead by
    ``kit_build``), reserved before components. For a parent: ``allocated = prebuilt + children's allocated /
    per_kit``, ``picked`` counts picked built kits, and each child's backorder is ``per_kit`` × the parent's.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    # Every index here is written on each reservation (and again when it closes, unless the update is HOT),
    # so the table keeps only the ones a query needs (migration 0007): ``merchant_id`` and ``(merchant_id,
    # reference)`` lookups use the unique constraint's index, ``parent_id`` is indexed for kit rows only, and
    # ``warehouse_id`` has no index of its own (only a warehouse delete would scan for it).
    merchant = models.ForeignKey(
        "accounts.Merchant", on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    reference = models.CharField(max_length=100)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="allocations")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, db_index=False, related_name="+")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, db_index=False, related_name="children"
    )
    per_kit = models.PositiveIntegerField(default=1, help_text="component units per kit (children only)")
    prebuilt = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="kit parents: kits of `allocated` reserved from built kit units (the kit's own level); "
        "`picked` counts those picked",
    )
    requested = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0)
    picked = models.PositiveIntegerField(default=0)
    shipped = models.PositiveIntegerField(default=0)
    priority = models.SmallIntegerField(default=0, help_text="higher first")
    requested_at = models.DateTimeField(default=timezone.now)
    on_hold = models.BooleanField(default=False)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "reference", "product", "warehouse"], name="allocation_ref_product_wh"
            ),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("requested") - F("shipped")), name="allocation_within_request"
            ),
            models.CheckConstraint(condition=Q(picked__lte=F("allocated")), name="allocation_picked_lte"),
            models.CheckConstraint(condition=Q(prebuilt__lte=F("allocated")), name="allocation_prebuilt_lte"),
        ]
        indexes = [
            models.Index(
                fields=["product", "warehouse", "-priority", "requested_at"],
                name="allocation_backorder_queue",
                condition=Q(status="open"),
            ),
            models.Index(fields=["parent"], name="allocation_parent", condition=Q(parent__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.allocated}/{self.requested} of {self.product_id}"

    @property
    def backordered(self) -> int:
        return max(0, self.requested - self.allocated - self.shipped)


class StockHold(TenantModel):
    """Units of a product in a warehouse taken out of availability (QC, a dispute, a recall)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="holds")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"hold {self.quantity} × {self.product_id}: {self.reason}"


# --- Inbound (ASNs) -----------------------------------------------------------------------------------


class InboundShipment(TenantModel):
    class Status(models.TextChoices):
        EXPECTED = "expected", "Expected"
        RECEIVING = "receiving", "Receiving"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="inbound_shipments")
    reference = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    expected_at = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.EXPECTED)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"ASN {self.pk} {self.reference}"


class InboundShipmentLine(models.Model):
    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity_expected = models.PositiveIntegerField(default=0)
    quantity_received = models.PositiveIntegerField(default=0, help_text="good units put on hand")
    quantity_damaged = models.PositiveIntegerField(default=0, help_text="units put in quarantine")

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["shipment", "product"], name="asn_line_product")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity_received}+{self.quantity_damaged}/{self.quantity_expected}"

    @property
    def discrepancy(self) -> int:
        """Received (good + damaged) minus expected: negative is short, positive is over."""
        return self.quantity_received + self.quantity_damaged - self.quantity_expected

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity_expected - self.quantity_received - self.quantity_damaged)


# --- Channels and alerts ------------------------------------------------------------------------------


class ChannelAllocationRule(TenantModel):
    """How much of the available stock one sales channel may sell. ``product`` empty = the channel's
    default rule. ``available_to_sell`` (selectors) is the one place that applies it."""

    class Rule(models.TextChoices):
        ALL = "all", "All available"
        SHARE = "share", "A share of available"
        CAP = "cap", "At most a fixed number"

    channel = models.CharField(max_length=100, help_text="channel key, e.g. 'shopify' or 'amazon:12'")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rule = models.CharField(max_length=5, choices=Rule.choices, default=Rule.ALL)
    share_percent = models.PositiveSmallIntegerField(default=100)
    cap = models.PositiveIntegerField(default=0)
    buffer = models.PositiveIntegerField(default=0, help_text="channel safety stock, never offered")
    show_zero_below = models.PositiveIntegerField(
        default=0, help_text="publish 0 when the channel's figure is below this"
    )

    class Meta:
        ordering = ["channel", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "channel", "product"], name="channel_rule_unique"),
            models.UniqueConstraint(
                fields=["merchant", "channel"],
                condition=Q(product__isnull=True),
                name="channel_rule_default_unique",
            ),
            models.CheckConstraint(condition=Q(share_percent__lte=100), name="channel_rule_share_lte_100"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.rule}"


class CatalogImport(TenantModel):
    """An uploaded catalog CSV between its preview and the merchant's confirmation. Nothing reaches the
    catalog until ``catalog_import_confirm``."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Previewed"
        CONFIRMED = "confirmed", "Imported"

    filename = models.CharField(max_length=200, blank=True)
    content = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    created_at = models.DateTimeField(default=timezone.now)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class LowStockAlert(TenantModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="low_stock_alerts")
    available = models.IntegerField()
    threshold = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    dismissed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(resolved_at__isnull=True), name="low_stock_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"low stock {self.product_id}: {self.available} < {self.threshold}"
