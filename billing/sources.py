"""Reads of the lower apps' data (orders, inventory, carriers, inbound) as billing needs it — the one place
that knows their model shapes, so a change there is fixed here only. Billing never writes their tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps

from billing import shipping

ZERO = Decimal("0")


def _model(label: str, name: str):
    try:
        return apps.get_model(label, name)
    except LookupError:
        return None


@dataclass
class OrderProfile:
    """What pricing needs to know about an order."""

    order: object
    units: int
    kits: int
    inserts: int
    weight_g: Decimal
    item_dims: tuple[int, int, int]  # the largest item, mm
    fragile: bool
    hazmat: bool
    gift_wrap: bool
    custom_packaging: bool
    speed: str
    dest_zip: str
    origin_zip: str
    number: str
    product_ids: list[int] = field(default_factory=list)


def order_get(merchant_id: int, order_id: int):
    Order = _model("orders", "Order")
    if Order is None:
        return None
    return Order.objects.filter(merchant_id=merchant_id, pk=order_id).first()


# Warehouse id (None = the default: the first active shared warehouse) -> postal code, memoised for the
# estimate's hot path; short TTL, cleared when a warehouse is saved or deleted (see ``billing.handlers``).
ORIGIN_CACHE_TTL = 60.0
_origin_cache: dict[object, tuple[float, str | None]] = {}
_MISSING = object()


def origin_cache_clear(*_args, **_kwargs) -> None:
    _origin_cache.clear()


def _warehouse_postal(key) -> str | None:
    """The postal code of warehouse ``key`` (``None`` when there is no such warehouse)."""
    now = time.monotonic()
    hit = _origin_cache.get(key)
    if hit is not None and now - hit[0] <= ORIGIN_CACHE_TTL:
        return hit[1]
    Warehouse = _model("inventory", "Warehouse")
    if Warehouse is None:
        return None
    qs = (
        Warehouse.objects.filter(is_active=True, owner_merchant__isnull=True).order_by("pk")
        if key is _MISSING
        else Warehouse.objects.filter(pk=key)
    )
    row = qs.values_list("postal_code", flat=True).first()
    if len(_origin_cache) > 1000:
        _origin_cache.clear()
    _origin_cache[key] = (now, None if row is None else (row or ""))
    return _origin_cache[key][1]


# The columns ``order_profile`` reads: the estimate (every order event) loads only these — an order row has
# over fifty columns, and building and converting them was most of the estimate's CPU.
ESTIMATE_ORDER_FIELDS = ("id", "merchant_id", "number", "external_id", "is_fragile", "is_hazmat", "is_gift",
                         "custom_packaging", "shipping_service", "ship_to_postal_code", "routing")  # fmt: skip
ESTIMATE_LINE_FIELDS = ("id", "order_id", "quantity", "cancelled_quantity", "shipped_quantity", "product_id",
                        *(f"product__{f}" for f in ("id", "weight_g", "length_mm", "width_mm", "height_mm",
                                                     "fragile", "hazmat", "is_kit", "custom_inserts")))  # fmt: skip


def order_for_estimate(merchant_id: int, order_id: int):
    """``(order, lines)`` with only what ``order_profile`` reads (two queries), or ``(None, [])``."""
    Order = _model("orders", "Order")
    if Order is None:
        return None, []
    order = Order.objects.filter(merchant_id=merchant_id, pk=order_id).only(*ESTIMATE_ORDER_FIELDS).first()
    if order is None:
        return None, []
    OrderLine = _model("orders", "OrderLine")
    lines = list(
        OrderLine.objects.filter(order_id=order.pk).select_related("product").only(*ESTIMATE_LINE_FIELDS)
    )
    return order, lines


def _origin_zip(order) -> str:
    wh_id = None
    routing = getattr(order, "routing", None) or {}
    if isinstance(routing, dict):
        wh_id = routing.get("warehouse_id") or (routing.get("winner") or {}).get("warehouse_id")
    postal = _warehouse_postal(wh_id) if wh_id else None
    if postal is None:
        postal = _warehouse_postal(_MISSING)
    return (postal or "").strip() or "43004"


def order_profile(order, *, shipped_only: bool = False, lines: list | None = None) -> OrderProfile:
    units = kits = inserts = 0
    weight = ZERO
    dims = (0, 0, 0)
    fragile, hazmat = bool(getattr(order, "is_fragile", False)), bool(getattr(order, "is_hazmat", False))
    product_ids = []
    for line in order.lines.select_related("product").all() if lines is None else lines:
        qty = line.quantity - getattr(line, "cancelled_quantity", 0)
        if shipped_only and getattr(line, "shipped_quantity", 0):
            qty = line.shipped_quantity
        if qty <= 0:
            continue
        units += qty
        product = getattr(line, "product", None)
        if product is None:
            continue
        product_ids.append(product.pk)
        weight += Decimal(product.weight_g or 0) * qty
        item = tuple(
            sorted((product.length_mm or 0, product.width_mm or 0, product.height_mm or 0), reverse=True)
        )
        if item[0] * item[1] * item[2] > dims[0] * dims[1] * dims[2]:
            dims = item
        fragile = fragile or bool(product.fragile)
        hazmat = hazmat or bool(product.hazmat)
        if product.is_kit:
            kits += qty
        if getattr(product, "custom_inserts", ""):
            inserts += 1
    if dims == (0, 0, 0):
        dims = (150, 100, 50)
    return OrderProfile(
        order=order, units=max(units, 1), kits=kits, inserts=inserts, weight_g=weight, item_dims=dims,
        fragile=fragile, hazmat=hazmat, gift_wrap=bool(getattr(order, "is_gift", False)),
        custom_packaging=bool(getattr(order, "custom_packaging", False)),
        speed=getattr(order, "shipping_service", "standard") or "standard",
        dest_zip=getattr(order, "ship_to_postal_code", "") or "", origin_zip=_origin_zip(order),
        number=getattr(order, "number", "") or getattr(order, "external_id", "") or str(order.pk),
        product_ids=product_ids,
    )  # fmt: skip


def shipments_for_order(merchant_id: int, order_id: int, shipment_id: int | None = None) -> list:
    Shipment = _model("carriers", "Shipment")
    if Shipment is None:
        return []
    qs = Shipment.objects.filter(merchant_id=merchant_id)
    if shipment_id:
        qs = qs.filter(pk=shipment_id)
    elif any(f.name == "order" for f in Shipment._meta.get_fields()):
        qs = qs.filter(order_id=order_id)
    else:
        return []
    return [s for s in qs.select_related("account") if getattr(s, "status", "") not in ("voided", "failed")]


def shipment_is_byo(shipment) -> bool:
    account = getattr(shipment, "account", None)
    return bool(account is not None and getattr(account, "merchant_id", None))


def shipment_by_tracking(merchant_id: int | None, tracking: str):
    Shipment = _model("carriers", "Shipment")
    if Shipment is None or not tracking:
        return None
    qs = Shipment.objects.filter(tracking_number=tracking)
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    return qs.first()


def box_for_shipment(shipment, profile: OrderProfile) -> shipping.Box:
    """The stocked box whose size matches the parcel's dimensions (else the one that fits the order)."""
    dims = sorted((getattr(shipment, "length_mm", 0), getattr(shipment, "width_mm", 0),
                   getattr(shipment, "height_mm", 0)), reverse=True)  # fmt: skip
    if dims[0]:
        for box in shipping.BOXES:
            inner = sorted((box.length_mm, box.width_mm, box.height_mm), reverse=True)
            if all(d <= b for d, b in zip(dims, inner, strict=True)):
                return box
    return choose_box(profile)


def choose_box(profile: OrderProfile) -> shipping.Box:
    length, width, height = profile.item_dims
    return shipping.choose_box(units=profile.units, length_mm=length, width_mm=width, height_mm=height,
                               fragile=profile.fragile)  # fmt: skip


def inbound_shipment(merchant_id: int, shipment_id: int):
    Inbound = _model("inventory", "InboundShipment")
    if Inbound is None:
        return None
    return Inbound.objects.filter(merchant_id=merchant_id, pk=shipment_id).prefetch_related("lines").first()


def inbound_units_received(shipment) -> int:
    return sum((ln.quantity_received or 0) + (ln.quantity_damaged or 0) for ln in shipment.lines.all())


def kit_task_get(merchant_id: int, task_id: int):
    """The warehouse's build-kit task (``warehouse.KitBuildTask``) a kitting charge comes from."""
    Task = _model("warehouse", "KitBuildTask")
    if Task is None:
        return None
    return Task.objects.filter(merchant_id=merchant_id, pk=task_id).first()


def product_get(merchant_id: int, product_id: int):
    Product = _model("inventory", "Product")
    if Product is None:
        return None
    return Product.objects.filter(merchant_id=merchant_id, pk=product_id).first()


def return_get(merchant_id: int, rma_id: int):
    Rma = _model("inbound", "ReturnAuthorization")
    if Rma is None:
        return None
    return Rma.objects.filter(merchant_id=merchant_id, pk=rma_id).first()


@dataclass
class Occupancy:
    merchant_id: int
    location: object
    kind: str  # storage rate key
    quantity: Decimal
    long_term_cubic_feet: Decimal


CUBIC_MM_PER_FT = Decimal("28316846.592")


def storage_occupancy(*, as_of) -> list[Occupancy]:
    """Per merchant × location occupied at ``as_of``: reserve locations bill a pallet, pick faces a bin (a
    shelf when the location has no bin letter); stock older than 180 days adds cubic feet of long-term
    surcharge. Receiving, packing, staging, quarantine and returns locations are free."""
    from datetime import timedelta

    Quant = _model("inventory", "StockQuant")
    if Quant is None:
        return []
    rows: dict[tuple[int, int], Occupancy] = {}
    old_before = as_of - timedelta(days=180)
    for q in Quant.objects.filter(quantity__gt=0).select_related("location", "product").order_by("pk"):
        loc = q.location
        if loc.type == "reserve":
            kind = "storage.pallet"
        elif loc.type == "pick":
            kind = "storage.bin" if loc.bin else "storage.shelf"
        else:
            continue
        key = (q.merchant_id, loc.pk)
        occ = rows.setdefault(key, Occupancy(q.merchant_id, loc, kind, Decimal(1), ZERO))
        if q.received_at and q.received_at < old_before:
            p = q.product
            cuft = Decimal(p.length_mm * p.width_mm * p.height_mm * q.quantity) / CUBIC_MM_PER_FT
            occ.long_term_cubic_feet += cuft.quantize(Decimal("0.0001"))
    return list(rows.values())


def warehouses() -> list:
    Warehouse = _model("inventory", "Warehouse")
    if Warehouse is None:
        return []
    return list(Warehouse.objects.filter(is_active=True, owner_merchant__isnull=True).order_by("code"))
