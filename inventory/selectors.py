"""Reads of the catalog and of stock. ``available_to_sell`` is the one place channel figures are computed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, Q, QuerySet, Sum

from inventory.models import (
    Allocation,
    ChannelAllocationRule,
    InboundShipment,
    InboundShipmentLine,
    KitComponent,
    Location,
    LowStockAlert,
    Product,
    StockHold,
    StockLevel,
    StockMovement,
    StockQuant,
    Warehouse,
)


def _mid(merchant) -> int | None:
    if merchant is None:
        return None
    return merchant if isinstance(merchant, int) else merchant.pk


def _wid(warehouse) -> int | None:
    if warehouse is None:
        return None
    return warehouse if isinstance(warehouse, int) else warehouse.pk


def _free(on_hand: int, reserved: int, held: int, safety: int) -> int:
    return max(0, on_hand - reserved - held - safety)


# --- Catalog -------------------------------------------------------------------------------------------


def product_get(*, merchant, sku: str) -> Product:
    return Product.objects.for_merchant(merchant).get(sku=sku)


def product_list(
    *, merchant, q: str = "", status: str = "", kind: str = "", flag: str = ""
) -> QuerySet[Product]:
    qs = Product.objects.for_merchant(merchant)
    if q:
        qs = qs.filter(Q(sku__icontains=q) | Q(name__icontains=q) | Q(barcode=q))
    if status:
        qs = qs.filter(status=status)
    if kind == "kit":
        qs = qs.filter(is_kit=True)
    elif kind == "single":
        qs = qs.filter(is_kit=False)
    if flag in ("fragile", "hazmat", "requires_lot_tracking"):
        qs = qs.filter(**{flag: True})
    return qs.order_by("sku")


def kit_components(*, kit: Product) -> list[tuple[Product, int]]:
    return [
        (kc.component, kc.quantity) for kc in KitComponent.objects.filter(kit=kit).select_related("component")
    ]


def warehouse_list(*, merchant=None) -> QuerySet[Warehouse]:
    qs = Warehouse.objects.filter(is_active=True)
    if merchant is not None:
        qs = qs.visible_to(merchant)
    return qs.order_by("code")


# --- Availability --------------------------------------------------------------------------------------


def _levels_by_warehouse(
    mid: int, product_ids: list[int], warehouse_id: int | None
) -> dict[int, dict[int, int]]:
    """{product_id: {warehouse_id: free units}}"""
    qs = StockLevel.objects.filter(merchant_id=mid, product_id__in=product_ids)
    if warehouse_id is not None:
        qs = qs.filter(warehouse_id=warehouse_id)
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for pid, wid, on_hand, reserved, held, safety in qs.values_list(
        "product_id", "warehouse_id", "on_hand", "reserved", "held", "safety_stock"
    ):
        out[pid][wid] = _free(on_hand, reserved, held, safety)
    return out


def stock_available_by_warehouse(*, merchant, product: Product, warehouse=None) -> dict[int, int]:
    """Free units per warehouse id; a kit's figure is its free built units (kits assembled ahead) plus the
    minimum over its components (per warehouse)."""
    mid = _mid(merchant)
    wid = _wid(warehouse)
    if not product.is_kit:
        return dict(_levels_by_warehouse(mid, [product.pk], wid).get(product.pk, {}))
    comps = list(KitComponent.objects.filter(kit=product).values_list("component_id", "quantity"))
    if not comps:
        return {}
    levels = _levels_by_warehouse(mid, [product.pk, *[c for c, _ in comps]], wid)
    warehouses = set.intersection(*[set(levels.get(c, {})) for c, _ in comps])
    built = levels.get(product.pk, {})
    out = {w: min(max(0, levels[c][w]) // q for c, q in comps) for w in warehouses}
    for w, n in built.items():
        out[w] = out.get(w, 0) + max(0, n)
    return out


def stock_available(*, merchant, product: Product, warehouse=None) -> int:
    """Units that can be promised now (on hand − reserved − held − safety stock, never below 0), in one
    warehouse or summed over all of them."""
    return sum(stock_available_by_warehouse(merchant=merchant, product=product, warehouse=warehouse).values())


def channel_rule_for(*, merchant, product: Product, channel: str) -> ChannelAllocationRule | None:
    rules = list(
        ChannelAllocationRule.objects.for_merchant(merchant).filter(
            Q(product=product) | Q(product__isnull=True), channel=channel
        )
    )
    rules.sort(key=lambda r: r.product_id is None)
    return rules[0] if rules else None


def available_to_sell(*, merchant, product: Product, channel: str, warehouse=None) -> int:
    """What one sales channel may offer: free stock (reservations always subtracted, so a sync never
    re-inflates stock open orders hold) minus the channel's buffer, then its rule (share, cap or all), then
    "show zero below N". The one place this figure is computed."""
    base = stock_available(merchant=merchant, product=product, warehouse=warehouse)
    rule = channel_rule_for(merchant=merchant, product=product, channel=channel)
    return apply_channel_rule(base, rule)


@dataclass
class ChannelRow:
    channel: str
    own: ChannelAllocationRule | None  # this product's rule
    default: ChannelAllocationRule | None  # the channel's default rule
    available_to_sell: int

    @property
    def effective(self) -> ChannelAllocationRule | None:
        return self.own or self.default


def product_channel_rows(*, merchant, product: Product) -> list[ChannelRow]:
    """Per channel that has any rule (a default or this product's): both rules and what the channel may sell
    of this product now (one availability read for all channels)."""
    rules = list(
        ChannelAllocationRule.objects.for_merchant(merchant).filter(
            Q(product=product) | Q(product__isnull=True)
        )
    )
    base = stock_available(merchant=merchant, product=product)
    rows = []
    for channel in sorted({r.channel for r in rules}):
        own = next((r for r in rules if r.channel == channel and r.product_id == product.pk), None)
        default = next((r for r in rules if r.channel == channel and r.product_id is None), None)
        rows.append(ChannelRow(channel, own, default, apply_channel_rule(base, own or default)))
    return rows


def apply_channel_rule(base: int, rule: ChannelAllocationRule | None) -> int:
    if rule is None:
        return max(0, base)
    figure = max(0, base - rule.buffer)
    if rule.rule == ChannelAllocationRule.Rule.SHARE:
        figure = figure * rule.share_percent // 100
    elif rule.rule == ChannelAllocationRule.Rule.CAP:
        figure = min(figure, rule.cap)
    if figure < rule.show_zero_below:
        return 0
    return figure


# --- Picking -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickCandidate:
    location: Location
    lot: str
    expires_on: date | None
    on_shelf: int  # units of the lot at the location
    quantity: int  # units to take from here


TYPE_RANK = {Location.Type.PICK: 0, Location.Type.RESERVE: 1, Location.Type.RECEIVING: 2}


def pick_candidates(*, merchant, product: Product, warehouse, quantity: int) -> list[PickCandidate]:
    """Where to pick ``quantity`` units: pick faces first, then reserve, then the receiving dock; within
    that FIFO (oldest arrival first). Expiry-tracked products go FEFO first (soonest expiry wins over the
    location type). Returns as many as exist (check the sum)."""
    quants = list(
        StockQuant.objects.filter(
            merchant_id=_mid(merchant),
            product_id=product.pk,
            warehouse_id=_wid(warehouse),
            quantity__gt=0,
            location__type__in=Location.PICKABLE,
            location__is_active=True,
        ).select_related("location")
    )

    def key(q: StockQuant):
        exp = (q.expires_on is None, q.expires_on or date.max)
        rank = TYPE_RANK.get(q.location.type, 9)
        if product.requires_expiry_tracking or product.requires_lot_tracking:
            return (exp, rank, q.received_at, q.location.code)
        return (rank, exp, q.received_at, q.location.code)

    quants.sort(key=key)
    out, need = [], quantity
    for q in quants:
        if need <= 0:
            break
        take = min(need, q.quantity)
        out.append(
            PickCandidate(
                location=q.location, lot=q.lot, expires_on=q.expires_on, on_shelf=q.quantity, quantity=take
            )
        )
        need -= take
    return out


# --- Levels, movements, breakdown ---------------------------------------------------------------------


@dataclass
class LevelRow:
    product: Product
    warehouse: Warehouse
    on_hand: int
    reserved: int
    held: int
    safety_stock: int
    quarantined: int
    backordered: int
    inbound: int

    @property
    def available(self) -> int:
        return _free(self.on_hand, self.reserved, self.held, self.safety_stock)


def level_list(
    *, merchant, sku: str = "", warehouse: str = "", q: str = "", low_only: bool = False
) -> QuerySet[StockLevel]:
    qs = StockLevel.objects.for_merchant(merchant).select_related("product", "warehouse")
    if sku:
        qs = qs.filter(product__sku=sku)
    if warehouse:
        qs = qs.filter(warehouse__code=warehouse)
    if q:
        qs = qs.filter(Q(product__sku__icontains=q) | Q(product__name__icontains=q))
    if low_only:
        qs = qs.filter(product__low_stock_threshold__isnull=False).filter(
            on_hand__lt=F("reserved") + F("held") + F("safety_stock") + F("product__low_stock_threshold")
        )
    return qs.order_by("product__sku", "warehouse__code")


def movement_list(
    *,
    merchant,
    sku: str = "",
    warehouse: str = "",
    type: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    reference: str = "",
) -> QuerySet[StockMovement]:
    qs = StockMovement.objects.for_merchant(merchant).select_related(
        "product", "warehouse", "from_location", "to_location"
    )
    if sku:
        qs = qs.filter(product__sku=sku)
    if warehouse:
        qs = qs.filter(warehouse__code=warehouse)
    if type:
        qs = qs.filter(type=type)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    if reference:
        qs = qs.filter(reference=reference)
    return qs.order_by("-created_at", "-pk")


@dataclass
class Breakdown:
    """Why is available N? Every term of the sum, with the references behind each."""

    product: Product
    warehouse: Warehouse | None
    on_hand: int = 0
    reserved: int = 0
    held: int = 0
    safety_stock: int = 0
    quarantined: int = 0
    backordered: int = 0
    inbound: int = 0
    available: int = 0
    reservations: list[Allocation] = field(default_factory=list)
    backorders: list[Allocation] = field(default_factory=list)
    holds: list[StockHold] = field(default_factory=list)
    on_hold_reservations: list[Allocation] = field(default_factory=list)
    inbound_shipments: list[tuple[InboundShipment, int]] = field(default_factory=list)
    per_warehouse: list[LevelRow] = field(default_factory=list)
    components: list[tuple[Product, int, int]] = field(default_factory=list)  # (component, per kit, free)
    built_on_hand: int = 0  # kits: units assembled ahead (kit_build), on hand
    built_free: int = 0  # kits: of those, not reserved, held or safety stock


def availability_breakdown(*, merchant, product: Product, warehouse=None) -> Breakdown:
    mid = _mid(merchant)
    wid = _wid(warehouse)
    wh = Warehouse.objects.filter(pk=wid).first() if wid else None
    b = Breakdown(product=product, warehouse=wh)
    if product.is_kit:
        for comp, per in kit_components(kit=product):
            b.components.append((comp, per, stock_available(merchant=mid, product=comp, warehouse=wid)))
        built = StockLevel.objects.filter(merchant_id=mid, product=product)
        if wid:
            built = built.filter(warehouse_id=wid)
        for lv in built:
            b.built_on_hand += lv.on_hand
            b.built_free += lv.available
        b.available = stock_available(merchant=mid, product=product, warehouse=wid)
        allocs = Allocation.objects.filter(merchant_id=mid, product=product, status=Allocation.Status.OPEN)
        if wid:
            allocs = allocs.filter(warehouse_id=wid)
        allocs = list(allocs.order_by("-priority", "requested_at"))
        b.reservations = [a for a in allocs if a.allocated]
        b.backorders = [a for a in allocs if a.backordered]
        b.reserved = sum(a.allocated for a in allocs)
        b.backordered = sum(a.backordered for a in allocs)
        return b
    levels = StockLevel.objects.filter(merchant_id=mid, product=product).select_related("warehouse")
    if wid:
        levels = levels.filter(warehouse_id=wid)
    for lv in levels.order_by("warehouse__code"):
        row = LevelRow(
            product=product,
            warehouse=lv.warehouse,
            on_hand=lv.on_hand,
            reserved=lv.reserved,
            held=lv.held,
            safety_stock=lv.safety_stock,
            quarantined=lv.quarantined,
            backordered=lv.backordered,
            inbound=lv.inbound,
        )
        b.per_warehouse.append(row)
        for f in ("on_hand", "reserved", "held", "safety_stock", "quarantined", "backordered", "inbound"):
            setattr(b, f, getattr(b, f) + getattr(row, f))
        b.available += row.available
    allocs = Allocation.objects.filter(merchant_id=mid, product=product, status=Allocation.Status.OPEN)
    if wid:
        allocs = allocs.filter(warehouse_id=wid)
    allocs = list(allocs.select_related("parent", "warehouse").order_by("-priority", "requested_at", "pk"))
    b.reservations = [a for a in allocs if a.allocated]
    b.backorders = [a for a in allocs if a.backordered]
    b.on_hold_reservations = [
        a for a in allocs if a.allocated and (a.on_hold or (a.parent and a.parent.on_hold))
    ]
    holds = StockHold.objects.filter(merchant_id=mid, product=product, released_at__isnull=True)
    if wid:
        holds = holds.filter(warehouse_id=wid)
    b.holds = list(holds.select_related("warehouse"))
    lines = InboundShipmentLine.objects.filter(
        shipment__merchant_id=mid,
        product=product,
        shipment__status__in=[InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING],
    ).select_related("shipment", "shipment__warehouse")
    if wid:
        lines = lines.filter(shipment__warehouse_id=wid)
    b.inbound_shipments = [(ln.shipment, ln.outstanding) for ln in lines if ln.outstanding]
    return b


def low_stock_alerts(*, merchant, include_resolved: bool = False) -> QuerySet[LowStockAlert]:
    qs = LowStockAlert.objects.for_merchant(merchant).select_related("product")
    if not include_resolved:
        qs = qs.filter(resolved_at__isnull=True, dismissed=False)
    return qs.order_by("-created_at")


def inbound_list(*, merchant, status: str = "") -> QuerySet[InboundShipment]:
    qs = InboundShipment.objects.for_merchant(merchant).select_related("warehouse")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def quant_list(*, merchant, product: Product | None = None, warehouse=None) -> QuerySet[StockQuant]:
    qs = (
        StockQuant.objects.for_merchant(merchant)
        .filter(quantity__gt=0)
        .select_related("location", "warehouse", "product")
    )
    if product is not None:
        qs = qs.filter(product=product)
    if warehouse is not None:
        qs = qs.filter(warehouse_id=_wid(warehouse))
    return qs.order_by("warehouse__code", "location__code", "lot")


def stock_totals(*, merchant) -> dict[str, int]:
    agg = StockLevel.objects.for_merchant(merchant).aggregate(
        on_hand=Sum("on_hand"),
        reserved=Sum("reserved"),
        backordered=Sum("backordered"),
        inbound=Sum("inbound"),
    )
    return {k: v or 0 for k, v in agg.items()}


def stock_trend(*, merchant, product: Product | None = None, days: int = 30) -> list[tuple[date, int]]:
    """Units in the building at the end of each of the last ``days`` days (from the ledger: arrivals have
    no from-location, departures no to-location)."""
    from datetime import timedelta

    from django.db.models.functions import TruncDate
    from django.utils import timezone

    mid = _mid(merchant)
    quants = StockQuant.objects.filter(merchant_id=mid)
    moves = StockMovement.objects.filter(merchant_id=mid)
    if product is not None:
        ids = [product.pk]
        if product.is_kit:
            ids = list(KitComponent.objects.filter(kit=product).values_list("component_id", flat=True))
        quants = quants.filter(product_id__in=ids)
        moves = moves.filter(product_id__in=ids)
    now_total = quants.aggregate(n=Sum("quantity"))["n"] or 0
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    net: dict[date, int] = defaultdict(int)
    since = moves.filter(created_at__date__gte=start)
    for day, n in (
        since.filter(from_location__isnull=True)
        .annotate(d=TruncDate("created_at"))
        .values_list("d")
        .annotate(n=Sum("quantity"))
        .values_list("d", "n")
    ):
        net[day] += n
    for day, n in (
        since.filter(to_location__isnull=True)
        .annotate(d=TruncDate("created_at"))
        .values_list("d")
        .annotate(n=Sum("quantity"))
        .values_list("d", "n")
    ):
        net[day] -= n
    series: list[tuple[date, int]] = []
    level = now_total
    for i in range(days):
        day = today - timedelta(days=i)
        series.append((day, level))
        level -= net.get(day, 0)
    return list(reversed(series))


def trend_svg_points(
    series: list[tuple[date, int]], *, width: int = 600, height: int = 120, pad: int = 6
) -> dict:
    """Polyline points for an inline SVG chart of a trend (rendered server-side, no JavaScript)."""
    if not series:
        return {"points": "", "max": 0, "min": 0, "width": width, "height": height}
    values = [v for _, v in series]
    hi, lo = max(values), min(values)
    span = max(hi - lo, 1)
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    pts = " ".join(
        f"{pad + i * step:.1f},{height - pad - (v - lo) / span * (height - 2 * pad):.1f}"
        for i, v in enumerate(values)
    )
    return {
        "points": pts,
        "max": hi,
        "min": lo,
        "width": width,
        "height": height,
        "first": series[0][0],
        "last": series[-1][0],
    }


@dataclass(frozen=True)
class ReorderSuggestion:
    daily_demand: float  # units shipped per day, last 30 days
    cover_days: int
    suggested: int  # units to send now


def reorder_suggestion(
    *, merchant, product: Product, cover_days: int = 30, window_days: int = 30
) -> ReorderSuggestion:
    """How many units to send so that, at the last 30 days' shipping rate, stock covers ``cover_days`` plus
    the alert threshold — counting what is already available and inbound."""
    from datetime import timedelta

    from django.utils import timezone

    mid = _mid(merchant)
    since = timezone.now() - timedelta(days=window_days)
    shipped = (
        StockMovement.objects.filter(
            merchant_id=mid, product=product, type=StockMovement.Type.SHIP, created_at__gte=since
        ).aggregate(n=Sum("quantity"))["n"]
        or 0
    )
    daily = shipped / window_days
    inbound = (
        StockLevel.objects.filter(merchant_id=mid, product=product).aggregate(n=Sum("inbound"))["n"] or 0
    )
    target = round(daily * cover_days) + (product.low_stock_threshold or 0)
    have = stock_available(merchant=mid, product=product) + inbound
    return ReorderSuggestion(
        daily_demand=round(daily, 2), cover_days=cover_days, suggested=max(0, target - have)
    )
