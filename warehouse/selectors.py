"""Reads for the outbound floor: the routing layout of a warehouse, work to pick, screens' state."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, QuerySet

from inventory.models import Location, Warehouse
from orders.models import Order, OrderLineAllocation
from warehouse.models import Batch, BatchOrder, BoxType, PackingRule, PickTask, Wave
from warehouse.routing import Layout, Point

RACK_MARGIN_M = 1.0  # cross aisles start this far beyond the first/last bay


@dataclass
class FloorLayout:
    layout: Layout
    aisle_index: dict[int, int]  # location.aisle number -> index in layout.aisle_x

    def point(self, location: Location) -> Point:
        if location.aisle is not None and location.aisle in self.aisle_index:
            idx = self.aisle_index[location.aisle]
            y = min(max(location.y, self.layout.cross_y[0]), self.layout.cross_y[-1])
            return Point(idx, y)
        return self.layout.snap(location.x, location.y)


def layout_for(*, warehouse: Warehouse | int) -> FloorLayout:
    """The aisle layout of a warehouse from its rack locations: each aisle's centre line is the mean x of
    its locations; the front and back cross aisles lie just beyond the first and last bays; extra cross
    aisles (multi-block floors) and the depot come from `WarehouseLayout` when set (the depot defaults to
    the packing location)."""
    from warehouse.models import WarehouseLayout

    wid = warehouse if isinstance(warehouse, int) else warehouse.pk
    racks = list(
        Location.objects.filter(warehouse_id=wid, aisle__isnull=False, is_active=True).values_list(
            "aisle", "x", "y"
        )
    )
    if not racks:
        return FloorLayout(Layout(aisle_x=(0.0,), cross_y=(0.0, 1.0)), {})
    xs: dict[int, list[float]] = defaultdict(list)
    ys = []
    for aisle, x, y in racks:
        xs[aisle].append(x)
        ys.append(y)
    centres = sorted((sum(v) / len(v), a) for a, v in xs.items())
    front, back = min(ys) - RACK_MARGIN_M, max(ys) + RACK_MARGIN_M
    extra = WarehouseLayout.objects.filter(warehouse_id=wid).first()
    middle = sorted(y for y in (extra.middle_cross_aisles_y if extra else []) if front < y < back)
    depot_x = extra.depot_x if extra and extra.depot_x is not None else None
    if depot_x is None:
        pack = Location.objects.filter(warehouse_id=wid, type=Location.Type.PACKING).order_by("pk").first()
        depot_x = pack.x if pack else centres[0][0]
    layout = Layout(aisle_x=tuple(c for c, _ in centres), cross_y=(front, *middle, back), depot_x=depot_x)
    return FloorLayout(layout, {a: i for i, (_, a) in enumerate(centres)})


# Released orders, and partially shipped ones whose rest (backordered after a short pick) is in stock again.
PICKABLE_STATUSES = (Order.Status.RELEASED, Order.Status.PARTIALLY_SHIPPED)


def releasable_orders(*, warehouse: Warehouse | int) -> QuerySet[Order]:
    """Orders to pick: released (or partially shipped) with stock allocated in this warehouse and on no
    cart that is still being worked (a shipped tote of an earlier cart does not count)."""
    wid = warehouse if isinstance(warehouse, int) else warehouse.pk
    in_wh = OrderLineAllocation.objects.filter(
        line__order=OuterRef("pk"),
        warehouse_id=wid,
        allocated__gt=0,
        line__quantity__gt=F("line__shipped_quantity") + F("line__cancelled_quantity"),
    )
    on_cart = (
        BatchOrder.objects.filter(order=OuterRef("pk"))
        .exclude(batch__status=Batch.Status.CANCELLED)
        .exclude(status=BatchOrder.Status.SHIPPED)
    )
    return (
        Order.objects.filter(status__in=PICKABLE_STATUSES)
        .filter(Exists(in_wh))
        .exclude(Exists(on_cart))
        .order_by("-priority", "placed_at", "pk")
    )


def wave_list(*, warehouse=None) -> QuerySet[Wave]:
    qs = Wave.objects.select_related("warehouse")
    return qs.filter(warehouse=warehouse) if warehouse is not None else qs


def batch_list(*, warehouse=None, status: str = "") -> QuerySet[Batch]:
    qs = Batch.objects.select_related("wave", "warehouse", "picker")
    if warehouse is not None:
        qs = qs.filter(warehouse=warehouse)
    if status:
        qs = qs.filter(status=status)
    return qs


def batch_tasks(*, batch: Batch) -> list[PickTask]:
    return list(
        PickTask.objects.filter(batch=batch)
        .select_related("product", "location", "batch_order", "line")
        .order_by("sequence", "pk")
    )


def batch_next_task(*, batch: Batch) -> PickTask | None:
    return (
        PickTask.objects.filter(batch=batch, status=PickTask.Status.PENDING)
        .select_related("product", "location", "batch_order", "line")
        .order_by("sequence", "pk")
        .first()
    )


def box_catalog(*, warehouse, merchant=None) -> list[BoxType]:
    qs = BoxType.objects.filter(warehouse=warehouse, is_active=True)
    boxes = [
        b for b in qs if b.merchant_id is None or (merchant is not None and b.merchant_id == merchant.pk)
    ]
    return boxes


def packing_rules(*, product_ids) -> dict[int, PackingRule]:
    return {r.product_id: r for r in PackingRule.objects.filter(product_id__in=list(product_ids))}


def qc_checklist_for(*, product_id: int, stage: str):
    """The active checklist for a product at a stage: its category's (``PackingRule.qc_category``), else the
    catch-all one (blank category), else None."""
    from warehouse.models import QcChecklist

    rule = PackingRule.objects.filter(product_id=product_id).only("qc_category").first()
    category = rule.qc_category if rule else ""
    qs = QcChecklist.objects.filter(stage=stage, is_active=True).order_by("pk")
    if category:
        found = qs.filter(category=category).first()
        if found is not None:
            return found
    return qs.filter(category="").first()


def replenishment_list(*, warehouse, status: str = "open"):
    from warehouse.models import ReplenishmentTask

    return (
        ReplenishmentTask.objects.filter(warehouse=warehouse, status=status)
        .select_related("product", "from_location", "to_location", "taken_by")
        .order_by("created_at", "pk")
    )
