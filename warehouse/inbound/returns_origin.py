"""What a return is tied back to: the original order's shipped lines, its warehouse, and who picked and
packed it, in which box, with which carrier. Read through the app registry so this keeps working while
the outbound and carrier apps evolve (a missing model or field just leaves that key empty)."""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.core.exceptions import FieldError

from inventory.models import Allocation, Warehouse

SHIPPED_STATUSES = {"shipped", "delivered"}


def order_lines_shipped(order) -> dict[int, tuple[int, Decimal]]:
    """``{product_id: (units shipped, unit price)}`` of the order."""
    out: dict[int, tuple[int, Decimal]] = {}
    for line in order.lines.all():
        if line.product_id is None:
            continue
        shipped = line.shipped_quantity
        if not shipped and order.status in SHIPPED_STATUSES:
            shipped = line.quantity - line.cancelled_quantity
        prev = out.get(line.product_id, (0, line.unit_price))
        out[line.product_id] = (prev[0] + shipped, line.unit_price)
    return out


def order_warehouse(order) -> Warehouse | None:
    refs = [f"order_line:{pk}" for pk in order.lines.values_list("pk", flat=True)]
    alloc = (
        Allocation.objects.filter(merchant_id=order.merchant_id, reference__in=refs).order_by("pk").first()
    )
    if alloc is not None:
        return alloc.warehouse
    wid = (getattr(order, "routing", None) or {}).get("warehouse_id")
    if wid:
        wh = Warehouse.objects.filter(pk=wid).first()
        if wh:
            return wh
    return Warehouse.objects.filter(is_active=True, owner_merchant__isnull=True).order_by("pk").first()


def _model(label: str, name: str):
    try:
        return apps.get_model(label, name)
    except LookupError:
        return None


def _first(model, **lookup):
    if model is None:
        return None
    try:
        return model.objects.filter(**lookup).order_by("-pk").first()
    except (FieldError, ValueError):
        return None


def _user_label(obj, *fields: str) -> str:
    for f in fields:
        user = getattr(obj, f, None)
        if user is not None:
            return getattr(user, "email", "") or str(user)
    return ""


def order_origin(order) -> dict:
    """``{"picker", "packer", "box", "carrier", "service", "shipment_id"}`` — empty strings when unknown."""
    origin = {"picker": "", "packer": "", "box": "", "carrier": "", "service": "", "shipment_id": None}
    shipment = _first(_model("carriers", "Shipment"), order=order)
    if shipment is not None:
        origin["carrier"] = str(getattr(shipment, "carrier", "") or "")
        origin["service"] = str(getattr(shipment, "service", "") or "")
        origin["shipment_id"] = shipment.pk
    for name in ("PackRecord", "Pack", "PackedParcel", "Parcel", "Package"):
        pack = _first(_model("warehouse", name), order=order)
        if pack is not None:
            origin["packer"] = _user_label(pack, "packer", "packed_by", "user")
            box = getattr(pack, "box", None)
            origin["box"] = str(getattr(box, "code", "") or box or "") if box is not None else ""
            break
    for name in ("PickTask", "PickLine", "Pick"):
        model = _model("warehouse", name)
        pick = _first(model, order=order) or _first(model, order_line__order=order)
        if pick is not None:
            origin["picker"] = _user_label(pick, "picker", "picked_by", "user")
            break
    return origin
