"""Stock over time, read-only: what was on hand at a past moment (from the append-only ledger), and what is
expected to arrive (open inbound shipments with their dates). Used by routing (waiting for inbound stock) and
by the routing what-if simulator (stock as it was when each order was routed).

What the ledger gives exactly: **on hand** per product × warehouse at any moment — the sum of the movements
into sellable locations minus those out of them up to that moment (the same rule as ``reconcile``: quarantine
and returns locations are not on hand). Holds have their start and end times, so **held** is exact too.

What it does not keep, and how ``StockTimeline`` estimates it (say so wherever the figure is shown):
- **reserved** at a past moment: reservations are counters, not history. An allocation counts as reserving,
  from its creation, its units still open today plus every unit it shipped after that moment (ship movements
  carry the reference). Units released or cancelled before today are not counted (their history is gone), and
  demand that was backordered then is capped at what was on hand.
- **safety stock** is today's setting.
- **inbound** at a past moment: shipments announced by then and not yet received, with their expected dates
  and full expected quantities; cancelled shipments are left out (their cancellation time is not kept).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from django.db.models import Case, F, IntegerField, Q, Sum, When

from inventory.models import (
    Allocation,
    InboundShipment,
    InboundShipmentLine,
    Location,
    StockHold,
    StockLevel,
    StockMovement,
)

Pair = tuple[int, int]  # (product_id, warehouse_id)

_SELLABLE_IN = Q(to_location__isnull=False) & ~Q(to_location__type__in=Location.UNSELLABLE)
_SELLABLE_OUT = Q(from_location__isnull=False) & ~Q(from_location__type__in=Location.UNSELLABLE)


def _scope(qs, *, merchant_id: int, product_ids=None, warehouse_ids=None):
    qs = qs.filter(merchant_id=merchant_id)
    if product_ids is not None:
        qs = qs.filter(product_id__in=list(product_ids))
    if warehouse_ids is not None:
        qs = qs.filter(warehouse_id__in=list(warehouse_ids))
    return qs


def on_hand_as_of(*, merchant_id: int, at: datetime, product_ids=None, warehouse_ids=None) -> dict[Pair, int]:
    """Units on hand (sellable locations) per (product, warehouse) at ``at``, from the ledger: one query."""
    rows = (
        _scope(
            StockMovement.objects.all(),
            merchant_id=merchant_id,
            product_ids=product_ids,
            warehouse_ids=warehouse_ids,
        )
        .filter(created_at__lte=at)
        .values_list("product_id", "warehouse_id")
        .annotate(
            n_in=Sum(Case(When(_SELLABLE_IN, then=F("quantity")), default=0, output_field=IntegerField())),
            n_out=Sum(Case(When(_SELLABLE_OUT, then=F("quantity")), default=0, output_field=IntegerField())),
        )
        .order_by()
    )
    return {(p, w): n_in - n_out for p, w, n_in, n_out in rows if n_in - n_out}


@dataclass(frozen=True)
class InboundArrival:
    shipment_id: int
    reference: str
    expected: date | None
    quantity: int

    @property
    def label(self) -> str:
        return f"ASN {self.shipment_id}" + (f" ({self.reference})" if self.reference else "")


def inbound_arrivals(
    *, merchant_id: int, product_ids, warehouse_ids, as_of: datetime | None = None
) -> dict[Pair, list[InboundArrival]]:
    """Open inbound (ASN) lines per (product, warehouse), earliest expected first (undated last).

    Now (``as_of=None``): shipments expected or being received, their outstanding units. At a past moment:
    shipments created by then and not received by then, their full expected units (see the module notes)."""
    lines = InboundShipmentLine.objects.filter(
        shipment__merchant_id=merchant_id,
        product_id__in=list(product_ids),
        shipment__warehouse_id__in=list(warehouse_ids),
    )
    if as_of is None:
        lines = lines.filter(
            shipment__status__in=[InboundShipment.Status.EXPECTED, InboundShipment.Status.RECEIVING]
        )
    else:
        lines = lines.filter(shipment__created_at__lte=as_of).exclude(
            shipment__status=InboundShipment.Status.CANCELLED
        )
        lines = lines.filter(Q(shipment__received_at__isnull=True) | Q(shipment__received_at__gt=as_of))
    out: dict[Pair, list[InboundArrival]] = defaultdict(list)
    for pid, wid, sid, ref, expected, qty_expected, received, damaged in lines.values_list(
        "product_id",
        "shipment__warehouse_id",
        "shipment_id",
        "shipment__reference",
        "shipment__expected_at",
        "quantity_expected",
        "quantity_received",
        "quantity_damaged",
    ):
        qty = qty_expected if as_of is not None else max(0, qty_expected - received - damaged)
        if qty > 0:
            out[(pid, wid)].append(InboundArrival(sid, ref or "", expected, qty))
    for arrivals in out.values():
        arrivals.sort(key=lambda a: (a.expected is None, a.expected or date.max, a.shipment_id))
    return dict(out)


def backorders_waiting(*, merchant_id: int, product_ids, warehouse_ids) -> dict[Pair, int]:
    """Units already backordered per (product, warehouse): inbound stock fills them first."""
    rows = _scope(
        StockLevel.objects.filter(backordered__gt=0),
        merchant_id=merchant_id,
        product_ids=product_ids,
        warehouse_ids=warehouse_ids,
    ).values_list("product_id", "warehouse_id", "backordered")
    return {(p, w): n for p, w, n in rows}


class _Series:
    """A step function of time: a baseline plus sorted (time, delta) changes; value at t by bisection."""

    def __init__(self, base: int, changes: list[tuple[datetime, int]]):
        changes.sort(key=lambda c: c[0])
        self.times = [t for t, _ in changes]
        self.values = list(accumulate((d for _, d in changes), initial=base))

    def at(self, t: datetime) -> int:
        return self.values[bisect_right(self.times, t)]


class StockTimeline:
    """Per (product, warehouse) on hand, held, reserved and available at any moment in ``[since, until]``,
    built with a handful of queries (see the module notes for what is exact and what is estimated)."""

    def __init__(self, *, merchant_id: int, product_ids, warehouse_ids, since: datetime, until: datetime):
        self.merchant_id, self.since, self.until = merchant_id, since, until
        pids, wids = list(product_ids), list(warehouse_ids)
        scope = {"merchant_id": merchant_id, "product_ids": pids, "warehouse_ids": wids}
        base = on_hand_as_of(at=since, **scope)
        loc_type = dict(Location.objects.filter(warehouse_id__in=wids).values_list("pk", "type"))
        unsellable = set(Location.UNSELLABLE)
        on_hand: dict[Pair, list] = defaultdict(list)
        for pid, wid, qty, src, dst, at in (
            _scope(StockMovement.objects.all(), **scope)
            .filter(created_at__gt=since, created_at__lte=until)
            .values_list(
                "product_id", "warehouse_id", "quantity", "from_location_id", "to_location_id", "created_at"
            )
        ):
            delta = (qty if dst and loc_type.get(dst) not in unsellable else 0) - (
                qty if src and loc_type.get(src) not in unsellable else 0
            )
            if delta:
                on_hand[(pid, wid)].append((at, delta))

        held: dict[Pair, list] = defaultdict(list)
        for pid, wid, qty, start, end in (
            _scope(StockHold.objects.all(), **scope)
            .filter(created_at__lte=until)
            .filter(Q(released_at__isnull=True) | Q(released_at__gt=since))
            .values_list("product_id", "warehouse_id", "quantity", "created_at", "released_at")
        ):
            held[(pid, wid)].append((max(start, since), qty))
            if end is not None:
                held[(pid, wid)].append((end, -qty))

        reserved: dict[Pair, list] = defaultdict(list)
        created: dict[tuple[str, int, int], datetime] = {}
        for ref, pid, wid, start, status, requested, shipped in (
            _scope(Allocation.objects.filter(product__is_kit=False), **scope)
            .filter(created_at__lte=until)
            .filter(Q(status=Allocation.Status.OPEN) | Q(updated_at__gt=since))
            .values_list(
                "reference", "product_id", "warehouse_id", "created_at", "status", "requested", "shipped"
            )
        ):
            created[(ref, pid, wid)] = start
            still_open = requested - shipped if status == Allocation.Status.OPEN else 0
            if still_open > 0:
                reserved[(pid, wid)].append((max(start, since), still_open))
        for ref, pid, wid, qty, at in (
            _scope(StockMovement.objects.filter(type=StockMovement.Type.SHIP), **scope)
            .filter(created_at__gt=since, created_at__lte=until, reference__in=[r for r, _, _ in created])
            .values_list("reference", "product_id", "warehouse_id", "quantity", "created_at")
        ):
            start = created.get((ref, pid, wid))
            if start is not None and start < at:
                reserved[(pid, wid)].extend([(max(start, since), qty), (at, -qty)])

        self._inbound: list[tuple[datetime, datetime | None, Pair, InboundArrival]] = []
        for sid, ref, expected, wid, pid, qty, start, end in (
            InboundShipmentLine.objects.filter(
                shipment__merchant_id=merchant_id,
                product_id__in=pids,
                shipment__warehouse_id__in=wids,
                shipment__created_at__lte=until,
            )
            .exclude(shipment__status=InboundShipment.Status.CANCELLED)
            .filter(Q(shipment__received_at__isnull=True) | Q(shipment__received_at__gt=since))
            .values_list(
                "shipment_id",
                "shipment__reference",
                "shipment__expected_at",
                "shipment__warehouse_id",
                "product_id",
                "quantity_expected",
                "shipment__created_at",
                "shipment__received_at",
            )
        ):
            if qty > 0:
                self._inbound.append((start, end, (pid, wid), InboundArrival(sid, ref or "", expected, qty)))

        pairs = set(base) | set(on_hand) | set(held) | set(reserved)
        self._on_hand = {k: _Series(base.get(k, 0), on_hand.get(k, [])) for k in pairs}
        self._held = {k: _Series(0, v) for k, v in held.items()}
        self._reserved = {k: _Series(0, v) for k, v in reserved.items()}
        self._safety = {
            (p, w): s
            for p, w, s in _scope(StockLevel.objects.filter(safety_stock__gt=0), **scope).values_list(
                "product_id", "warehouse_id", "safety_stock"
            )
        }

    def on_hand(self, pair: Pair, at: datetime) -> int:
        series = self._on_hand.get(pair)
        return series.at(at) if series else 0

    def held(self, pair: Pair, at: datetime) -> int:
        series = self._held.get(pair)
        return series.at(at) if series else 0

    def reserved(self, pair: Pair, at: datetime) -> int:
        """Estimated (module notes), capped at what was on hand and not held."""
        series = self._reserved.get(pair)
        if series is None:
            return 0
        return max(0, min(series.at(at), self.on_hand(pair, at) - self.held(pair, at)))

    def available(self, pair: Pair, at: datetime) -> int:
        return max(
            0,
            self.on_hand(pair, at)
            - self.held(pair, at)
            - self.reserved(pair, at)
            - self._safety.get(pair, 0),
        )

    def available_at(self, at: datetime, pairs) -> dict[Pair, int]:
        return {pair: self.available(pair, at) for pair in pairs}

    def inbound_at(self, at: datetime, pairs=None) -> dict[Pair, list[InboundArrival]]:
        """Shipments announced by ``at`` and not received by then (module notes), earliest expected first."""
        wanted = set(pairs) if pairs is not None else None
        out: dict[Pair, list[InboundArrival]] = defaultdict(list)
        for start, end, pair, arrival in self._inbound:
            if start <= at and (end is None or end > at) and (wanted is None or pair in wanted):
                out[pair].append(arrival)
        for arrivals in out.values():
            arrivals.sort(key=lambda a: (a.expected is None, a.expected or date.max, a.shipment_id))
        return dict(out)
