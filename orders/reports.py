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


@dataclass
class SimulationResult:
    orders: int
    current: dict
    proposed: dict
    changed: int
    examples: list[dict]


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
        "share": sorted(((k, v, round(100 * v / n, 1)) for k, v in share.items()), key=lambda r: -r[1]),
    }


def simulate(
    *, merchant, proposed: routing.RoutingSettings, days: int = 30, limit: int = 2000
) -> SimulationResult:
    """Route last month's orders again under the current rules and under ``proposed`` (against today's stock,
    so both columns compare like with like), and report what changes."""
    from orders.services.processing import build_plan, settings_for

    current_settings = settings_for(merchant.pk)
    since = timezone.now() - timedelta(days=days)
    orders = list(
        Order.objects.for_merchant(merchant)
        .filter(created_at__gte=since)
        .exclude(status="cancelled")
        .order_by("-id")[:limit]
    )
    lines_by_order: dict[int, list[OrderLine]] = {}
    for line in OrderLine.objects.filter(order__in=orders, product__isnull=False).select_related("product"):
        lines_by_order.setdefault(line.order_id, []).append(line)
    now = timezone.now()
    current, new, examples, changed = [], [], [], 0
    alt = type(current_settings)(
        merchant_id=merchant.pk,
        allow_split=proposed.allow_split,
        max_wait_days=proposed.max_wait_days,
        split_penalty=proposed.split_penalty,
        wait_cost_per_day=proposed.wait_cost_per_day,
        preferred_warehouses=list(proposed.preferred),
    )
    for order in orders:
        lines = lines_by_order.get(order.pk)
        if not lines:
            continue
        for line in lines:  # simulate the full order as it arrived
            line.shipped_quantity = 0
            line.cancelled_quantity = 0
        a = build_plan(order=order, lines=lines, settings=current_settings, now=now)
        b = build_plan(order=order, lines=lines, settings=alt, now=now)
        if a.kind == "none" or b.kind == "none":
            continue
        current.append(a)
        new.append(b)
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
    )
