"""Ledger reconciliation: recompute every current quantity from its source of truth and list any drift.

* quants (product × location × lot) from the ledger: Σ movements in − Σ movements out;
* level ``on_hand`` / ``quarantined`` from the quants (sellable vs quarantine/returns locations);
* level ``reserved`` / ``backordered`` from open allocations (kit parents count only their ``prebuilt`` built
  kits, on the kit's own level; their children count the components);
* level ``held`` from open holds and ``inbound`` from open ASN lines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F, Sum

from inventory.models import (
    Allocation,
    InboundShipment,
    InboundShipmentLine,
    Location,
    StockHold,
    StockLevel,
    StockMovement,
    StockQuant,
)


@dataclass(frozen=True)
class Drift:
    kind: str  # "quant" or "level"
    key: str
    field: str
    expected: int
    actual: int

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.field}: ledger says {self.expected}, stored {self.actual}"


def ledger_drift(*, merchant_id: int | None = None) -> list[Drift]:
    def scope(qs):
        return qs.filter(merchant_id=merchant_id) if merchant_id is not None else qs

    expected_quants: dict[tuple[int, int, str], int] = defaultdict(int)
    for pid, loc, lot, n in (
        scope(StockMovement.objects.filter(to_location__isnull=False))
        .values_list("product_id", "to_location_id", "lot")
        .annotate(n=Sum("quantity"))
        .order_by()
    ):
        expected_quants[(pid, loc, lot)] += n
    for pid, loc, lot, n in (
        scope(StockMovement.objects.filter(from_location__isnull=False))
        .values_list("product_id", "from_location_id", "lot")
        .annotate(n=Sum("quantity"))
        .order_by()
    ):
        expected_quants[(pid, loc, lot)] -= n
    actual_quants = {
        (pid, loc, lot): q
        for pid, loc, lot, q in scope(StockQuant.objects.all()).values_list(
            "product_id", "location_id", "lot", "quantity"
        )
    }
    drifts: list[Drift] = []
    for key in sorted(set(expected_quants) | set(actual_quants)):
        exp, act = expected_quants.get(key, 0), actual_quants.get(key, 0)
        if exp != act:
            drifts.append(
                Drift("quant", f"product={key[0]} location={key[1]} lot={key[2]!r}", "quantity", exp, act)
            )

    loc_info = dict(Location.objects.values_list("pk", "type"))
    loc_wh = dict(Location.objects.values_list("pk", "warehouse_id"))
    expected: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (pid, loc, _lot), q in actual_quants.items():
        field = "quarantined" if loc_info.get(loc) in Location.UNSELLABLE else "on_hand"
        expected[(pid, loc_wh[loc])][field] += q
    for pid, wid, reserved, back in (
        scope(Allocation.objects.filter(status=Allocation.Status.OPEN, product__is_kit=False))
        .values_list("product_id", "warehouse_id")
        .annotate(r=Sum("allocated"), b=Sum(F("requested") - F("allocated") - F("shipped")))
        .order_by()
    ):
        expected[(pid, wid)]["reserved"] += reserved
        expected[(pid, wid)]["backordered"] += back
    for pid, wid, n in (  # a kit's own level: its built units reserved by kit parents
        scope(Allocation.objects.filter(status=Allocation.Status.OPEN, product__is_kit=True, prebuilt__gt=0))
        .values_list("product_id", "warehouse_id")
        .annotate(n=Sum("prebuilt"))
        .order_by()
    ):
        expected[(pid, wid)]["reserved"] += n
    for pid, wid, n in (
        scope(StockHold.objects.filter(released_at__isnull=True))
        .values_list("product_id", "warehouse_id")
        .annotate(n=Sum("quantity"))
        .order_by()
    ):
        expected[(pid, wid)]["held"] += n
    lines = InboundShipmentLine.objects.filter(
        shipment__status__in=[InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING]
    ).select_related("shipment")
    if merchant_id is not None:
        lines = lines.filter(shipment__merchant_id=merchant_id)
    for ln in lines:
        expected[(ln.product_id, ln.shipment.warehouse_id)]["inbound"] += ln.outstanding

    fields = ("on_hand", "quarantined", "reserved", "backordered", "held", "inbound")
    levels = {(lv.product_id, lv.warehouse_id): lv for lv in scope(StockLevel.objects.all())}
    for key in sorted(set(levels) | set(expected)):
        lv = levels.get(key)
        for field in fields:
            exp = expected.get(key, {}).get(field, 0)
            act = getattr(lv, field) if lv else 0
            if exp != act:
                drifts.append(Drift("level", f"product={key[0]} warehouse={key[1]}", field, exp, act))
    return drifts
