"""Warehouses and their locations, including the rectangular layout generator."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from fulfil.audit import audit_record
from inventory.models import Location, Warehouse


def warehouse_create(*, code: str, name: str, owner_merchant=None, **fields) -> Warehouse:
    with transaction.atomic():
        wh = Warehouse.objects.create(code=code, name=name, owner_merchant=owner_merchant, **fields)
        audit_record(
            obj_type="warehouse",
            obj_id=wh.pk,
            action="create",
            merchant_id=getattr(owner_merchant, "pk", None),
            after={"code": code, "name": name},
        )
    return wh


def location_code(zone: str, aisle: int, bay: int, level: int, bin: str = "A") -> str:
    """zone-aisle-bay-level-bin, e.g. ``A-03-12-1-A``."""
    return f"{zone}-{aisle:02d}-{bay:02d}-{level}-{bin}"


@dataclass(frozen=True)
class LayoutSpec:
    aisles: int
    bays: int
    levels: int
    zone: str = "A"
    bay_width_m: float = 1.2
    aisle_pitch_m: float = 3.0  # centre-to-centre distance between aisles (rack + walkway)
    front_cross_aisle_m: float = 6.0  # depth of the front area (dock, packing) before the racks
    pick_levels: int = 1  # levels 1..pick_levels are pick faces, the rest reserve
    capacity: int = 200


@dataclass(frozen=True)
class LayoutResult:
    created: int
    existing: int
    width_m: float
    depth_m: float


def layout_generate(*, warehouse: Warehouse, spec: LayoutSpec) -> LayoutResult:
    """A rectangular floor: aisles run along y (into the building) side by side along x; a cross aisle in
    front (y < front) holds the receiving dock, packing, staging, quarantine and returns; a cross aisle at
    the back (y = depth) lets pickers turn. Bay ``b`` of aisle ``a`` sits at x = (a - 0.5) × pitch,
    y = front + (b - 0.5) × bay width. Idempotent: existing codes are left alone."""
    if min(spec.aisles, spec.bays, spec.levels) < 1:
        raise ValueError("aisles, bays and levels must be at least 1")
    if spec.aisles > 99 or spec.bays > 99 or spec.levels > 9:
        raise ValueError("at most 99 aisles, 99 bays and 9 levels")
    width = spec.aisles * spec.aisle_pitch_m
    depth = spec.front_cross_aisle_m + spec.bays * spec.bay_width_m + 3.0
    wanted: list[Location] = []
    dock_y = spec.front_cross_aisle_m / 3
    for code, type_, x in [
        ("RCV-01", Location.Type.RECEIVING, 1.5),
        ("QC-01", Location.Type.QUARANTINE, width * 0.25),
        ("RET-01", Location.Type.RETURNS, width * 0.5),
        ("STG-01", Location.Type.STAGING, width * 0.75),
        ("PACK-01", Location.Type.PACKING, max(width - 1.5, 2.0)),
    ]:
        wanted.append(
            Location(
                warehouse=warehouse,
                code=code,
                type=type_,
                zone=code.split("-")[0],
                x=round(x, 2),
                y=round(dock_y, 2),
            )
        )
    for a in range(1, spec.aisles + 1):
        x = round((a - 0.5) * spec.aisle_pitch_m, 2)
        for b in range(1, spec.bays + 1):
            y = round(spec.front_cross_aisle_m + (b - 0.5) * spec.bay_width_m, 2)
            for lv in range(1, spec.levels + 1):
                wanted.append(
                    Location(
                        warehouse=warehouse,
                        code=location_code(spec.zone, a, b, lv),
                        type=Location.Type.PICK if lv <= spec.pick_levels else Location.Type.RESERVE,
                        zone=spec.zone,
                        aisle=a,
                        bay=b,
                        level=lv,
                        bin="A",
                        x=x,
                        y=y,
                        capacity=spec.capacity,
                    )
                )
    existing = set(Location.objects.filter(warehouse=warehouse).values_list("code", flat=True))
    new = [loc for loc in wanted if loc.code not in existing]
    with transaction.atomic():
        Location.objects.bulk_create(new, batch_size=1000)
        audit_record(
            obj_type="warehouse",
            obj_id=warehouse.pk,
            action="layout_generate",
            after={"aisles": spec.aisles, "bays": spec.bays, "levels": spec.levels, "created": len(new)},
        )
    return LayoutResult(created=len(new), existing=len(wanted) - len(new), width_m=width, depth_m=depth)
