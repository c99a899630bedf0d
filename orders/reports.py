"""Routing analytics and the what-if simulator (reads only)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q
from django.utils import timezone

from orders import routing
from orders.models import Order, OrderLine, OrderLineAllocation


@dataclass
class RoutingStats:
    orders: int = 0
    split_rate: float = 0.0
    avg_zone: float | None = None
    share: list[tuple[str, int, float]] = field(default_factory=list)  # (warehouse, orders, share)
    recommendations: list[str] = field(default_factory=list)
    est_shipping: Decimal = Decimal("0.00")


def routing_stats(*, merchant, days: int = 30) -> RoutingStats:
    since = timezone.now() - timedelta(days=days)
    routed = Order.objects.for_merchant(merchant).filter(created_at__gte=since, estimated_zone__isnull=False)
    agg = routed.aggregate(
        n=Count("pk"), splits=Count("pk", filter=Q(is_split=True)), zone=Avg("estimated_zone")
    )
    stats = RoutingStats(orders=agg["n"] or 0)
    if not stats.orders:
        return stats
    stats.split_rate = round(100 * agg["splits"] / stats.orders, 1)
    stats.avg_zone = round(float(agg["zone"]), 2) if agg["zone"] is not None else None
    per_wh = (
        OrderLineAllocation.objects.filter(line__order__in=routed)
        .values("warehouse_code")
        .annotate(n=Count("line__order", distinct=True))
        .order_by("-n")
    )
    stats.share = [
        (row["warehouse_code"], row["n"], round(100 * row["n"] / stats.orders, 1)) for row in per_wh
    ]
    # Splits: which SKU, missing where, keeps forcing a second parcel?
    missing: Counter = Counter()
    split_lines = (
        OrderLineAllocation.objects.filter(line__order__in=routed.filter(is_split=True))
        .values_list("line__order_id", "line__sku", "warehouse_code")
        .order_by("line__order_id")[:20000]
    )
    by_order: dict[int, list[tuple[str, str]]] = {}
    for order_id, sku, wh in split_lines:
        by_order.setdefault(order_id, []).append((sku, wh))
    for rows in by_order.values():
        primary = Counter(wh for _, wh in rows).most_common(1)[0][0]
        for sku, wh in rows:
            if wh != primary:
                missing[(sku, primary)] += 1
    for (sku, wh), n in missing.most_common(5):
        stats.recommendations.append(
            f"Stock {sku} at {wh}: {n} split order(s) in the last {days} days had to fetch it from another warehouse."
        )
    if stats.split_rate > 10 and not stats.recommendations:
        stats.recommendations.append("More than 10% of orders split: spread fast movers across warehouses.")
    return stats


ASSUMPTIONS = (
    "Stock is what each warehouse had when the order arrived: on hand from the stock ledger (exact), holds "
    "from their start and end times (exact).",
    "Reserved units then are estimated: an order's reservation counts from its creation for the units still "
    "open today plus every unit it shipped after that moment; reservations released or cancelled since are "
    "not known, so stock then may look a little freer than it was.",
    "Safety stock is today's setting; backorders already waiting then are not known (inbound stock is offered "
    "to the simulated order first).",
    "Inbound shipments: those announced by then and not yet received, with their expected dates and full "
    "quantities (cancelled ones are left out).",
    "Orders are re-routed independently: what an earlier simulated order would have taken is not taken away "
    "from a later one (both columns alike).",
    "Rates: carriers' live quotes still cached from recent routing, else the zone table — no carrier is "
    "called by a simulation.",
)


@dataclass
class SimulationResult:
    orders: int
    current: dict
    proposed: dict
    changed: int
    examples: list[dict]
    assumptions: tuple[str, ...] = ASSUMPTIONS
    rate_sources: dict = field(default_factory=dict)  # source -> candidate rows priced by it


def _summarise(plans: list[routing.Plan]) -> dict:
    share: Counter = Counter()
    zones = [p.zone for p in plans if p.zone]
    cost = sum((p.cost or Decimal("0") for p in plans), Decimal("0"))
    for p in plans:
        for code in (p.explanation.get("winner") or "").split(", "):
            if code:
                share[code] += 1
    n = len(plans) or 1
    return {
        "split_rate": round(100 * sum(1 for p in plans if p.is_split) / n, 1),
        "avg_zone": round(sum(zones) / len(zones), 2) if zones else None,
        "est_shipping": str(cost.quantize(Decimal("0.01"))),
        "backorders": sum(1 for p in plans if p.kind == "backorder"),
        "waits": sum(1 for p in plans if p.kind == "wait"),
        "share": sorted(
            ((k, v, round(100 * v / n, 1)) for k, v in share.items()), key=lambda r: (-r[1], r[0])
        ),
    }


def simulate(
    *, merchant, proposed: routing.RoutingSettings, days: int = 30, limit: int = 2000, now=None
) -> SimulationResult:
    """Route the last ``days`` of orders again, each on the stock and inbound shipments of the moment it
    arrived (``inventory.history``), under the current rules and under ``proposed``, and report what changes.
    See ``ASSUMPTIONS`` for what the reconstruction estimates."""
    from inventory.history import StockTimeline
    from inventory.models import Warehouse
    from orders import planning
    from orders.services.processing import settings_for

    now = now or timezone.now()
    current_settings = planning.routing_settings(settings_for(merchant.pk))
    since = now - timedelta(days=days)
    orders = list(
        Order.objects.for_merchant(merchant)
        .filter(created_at__gte=since, created_at__lte=now)
        .exclude(status="cancelled")
        .order_by("-id")[:limit]
    )
    lines_by_order: dict[int, list[OrderLine]] = {}
    for line in OrderLine.objects.filter(order__in=orders, product__isnull=False).select_related("product"):
        line.shipped_quantity = 0  # simulate the full order as it arrived
        line.cancelled_quantity = 0
        lines_by_order.setdefault(line.order_id, []).append(line)
    warehouses = list(Warehouse.objects.visible_to(merchant).filter(is_active=True).order_by("code"))
    product_ids = {line.product_id for lines in lines_by_order.values() for line in lines}
    timeline = None
    if orders and product_ids and warehouses:
        timeline = StockTimeline(
            merchant_id=merchant.pk,
            product_ids=product_ids,
            warehouse_ids=[w.pk for w in warehouses],
            since=min(o.created_at for o in orders) - timedelta(microseconds=1),
            until=now,
        )
    current, new, examples, changed = [], [], [], 0
    sources: Counter = Counter()
    for order in sorted(orders, key=lambda o: (o.created_at, o.pk)):
        lines = lines_by_order.get(order.pk)
        if not lines or timeline is None:
            continue
        at = order.created_at
        needs = planning.line_needs(order=order, lines=lines)
        pairs = [(n.product_id, w.pk) for n in needs for w in warehouses]
        stock = timeline.available_at(at, pairs)
        arrivals = planning.as_arrivals(timeline.inbound_at(at, pairs))
        common = {
            "order": order,
            "needs": needs,
            "warehouses": warehouses,
            "stock": stock,
            "inbound_hint": {},
            "now": at,
            "live_rates": False,
            "arrivals": arrivals,
            "ahead": {},
        }
        a = planning.plan_order(settings=current_settings, **common)
        b = planning.plan_order(settings=proposed, **common)
        if a.kind == "none" or b.kind == "none":
            continue
        current.append(a)
        new.append(b)
        for c in a.explanation.get("candidates", []):
            if c.get("eligible"):
                sources[c.get("rate_source", "zone")] += 1
        if a.explanation.get("winner") != b.explanation.get("winner") or a.kind != b.kind:
            changed += 1
            if len(examples) < 10:
                examples.append(
                    {
                        "order": order.number,
                        "pk": order.pk,
                        "now": a.explanation.get("reason"),
                        "then": b.explanation.get("reason"),
                    }
                )
    return SimulationResult(
        orders=len(current),
        current=_summarise(current),
        proposed=_summarise(new),
        changed=changed,
        examples=examples,
        rate_sources=dict(sources),
    )
