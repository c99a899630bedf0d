"""Reads for the merchant's cost pages: estimate accuracy over time, cost-saving recommendations from their
own data, volume scenarios. Every figure comes from the one pricing function or from stored charge lines."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing import calculator, pricing, selectors, shipping, sources
from billing.models import ChargeLine, OrderCost

ZERO = Decimal("0")
SCENARIO_VOLUMES = (250, 500, 1000, 2000, 5000, 10000)


def accuracy(merchant, *, weeks: int = 12) -> dict:
    since = timezone.now() - timedelta(weeks=weeks)
    rows = OrderCost.objects.for_merchant(merchant).filter(
        actual_total__isnull=False, estimated_total__isnull=False, actual_at__gte=since
    )
    buckets: dict = defaultdict(lambda: {"orders": 0, "estimated": ZERO, "actual": ZERO, "abs_error": ZERO})
    for r in rows.only("estimated_total", "actual_total", "actual_at"):
        week = (r.actual_at - timedelta(days=r.actual_at.weekday())).date()
        b = buckets[week]
        b["orders"] += 1
        b["estimated"] += r.estimated_total
        b["actual"] += r.actual_total
        b["abs_error"] += abs(r.actual_total - r.estimated_total)
    out = []
    for week in sorted(buckets):
        b = buckets[week]
        acc = 100 - (b["abs_error"] / b["actual"] * 100) if b["actual"] else Decimal(100)
        out.append(
            {"week": week, **b, "difference": b["actual"] - b["estimated"], "accuracy_pct": round(acc, 1)}
        )
    total_est = sum((b["estimated"] for b in out), ZERO)
    total_act = sum((b["actual"] for b in out), ZERO)
    total_err = sum((b["abs_error"] for b in out), ZERO)
    return {
        "weeks": out,
        "estimated": total_est,
        "actual": total_act,
        "difference": total_act - total_est,
        "accuracy_pct": round(100 - total_err / total_act * 100, 1) if total_act else None,
    }


def recommendations(merchant, *, days: int = 60) -> list[dict]:
    since = timezone.now() - timedelta(days=days)
    costs = list(OrderCost.objects.for_merchant(merchant).filter(estimated_at__gte=since)[:2000])
    card = selectors.card_in_force(merchant)
    tier = card.tier_for(selectors.volume_basis(merchant, timezone.now()))
    recs: list[dict] = []

    # 1. A cheaper box that fits: shipped in a bigger box than the smallest one that fits.
    waste, count, example = ZERO, 0, None
    for c in costs:
        fits, used = c.estimated.get("box"), c.actual.get("box")
        if fits and used and fits != used and f"packaging.{used}" in card.rates:
            diff = card.rate(f"packaging.{used}", tier) - card.rate(f"packaging.{fits}", tier)
            if diff > 0:
                waste += diff
                count += 1
                example = example or (used, fits)
    if count:
        recs.append({"kind": "box", "saving": waste, "title": "A smaller box fits",
                     "detail": f"{count} orders shipped in a {example[0].replace('_', ' ')} where a "
                               f"{example[1].replace('_', ' ')} fits — {waste:.2f} in packaging alone, before the "
                               "lower dimensional weight."})  # fmt: skip

    # 2. A service that arrives as fast for less.
    saving, count, pair = ZERO, 0, None
    for c in costs:
        est = c.estimated
        zone, lb, days_ = est.get("zone"), est.get("billable_lb"), est.get("days")
        chosen = next((s for s in shipping.SERVICES if s.label == est.get("service")), None)
        if not (zone and lb and days_ and chosen):
            continue
        price = chosen.price(zone=zone, billable_lb=lb)
        better = min(
            (s for s in shipping.SERVICES if s.days(zone) <= days_ and s.price(zone=zone, billable_lb=lb) < price),
            key=lambda s: s.price(zone=zone, billable_lb=lb), default=None,
        )  # fmt: skip
        if better is not None:
            saving += price - better.price(zone=zone, billable_lb=lb)
            count += 1
            pair = pair or (chosen.label, better.label)
    if count:
        recs.append({"kind": "service", "saving": saving, "title": "Same delivery day, lower price",
                     "detail": f"{count} orders could use {pair[1]} instead of {pair[0]} and arrive the same day: "
                               f"{saving:.2f} less in carrier cost."})  # fmt: skip

    # 3. A warehouse closer to their customers.
    zips = [c.estimated.get("dest_zip") for c in costs if c.estimated.get("dest_zip")]
    origins = Counter(c.estimated.get("origin_zip") for c in costs if c.estimated.get("origin_zip"))
    if zips and origins:
        current = origins.most_common(1)[0][0]

        def avg_zone(origin: str) -> Decimal:
            zones = []
            for z in zips:
                try:
                    zones.append(shipping.zone_for(origin, z))
                except ValueError:
                    continue
            return Decimal(sum(zones)) / len(zones) if zones else Decimal(8)

        now_zone = avg_zone(current)
        best = min(((w, avg_zone(w.postal_code)) for w in sources.warehouses() if w.postal_code),
                   key=lambda t: t[1], default=None)  # fmt: skip
        if best is not None and best[1] + Decimal("0.75") <= now_zone:
            recs.append({"kind": "warehouse", "saving": None, "title": f"Stock closer to your customers: {best[0].name}",
                         "detail": f"Your orders average zone {now_zone:.1f} from where they ship; from {best[0].code} "
                                   f"they would average zone {best[1]:.1f} — cheaper and faster ground shipping."})  # fmt: skip

    # 4. Storage paid for but not used.
    lt = (
        ChargeLine.objects.for_merchant(merchant)
        .filter(kind="storage.long_term_cubic_foot", occurred_at__gte=timezone.now() - timedelta(days=30))
        .aggregate(a=Sum("amount"))["a"]
    )
    if lt:
        recs.append({"kind": "storage", "saving": lt, "title": "Stock that has not moved in 180 days",
                     "detail": f"You paid {lt:.2f} in long-term storage surcharges in the last 30 days for stock older "
                               "than 180 days. Removing or discounting it ends the surcharge."})  # fmt: skip
    pallets = ChargeLine.objects.for_merchant(merchant).filter(
        kind="storage.pallet", occurred_at__gte=timezone.now() - timedelta(days=30)
    )
    billed_locations = set(pallets.values_list("source_id", flat=True))
    if billed_locations:
        shipped_units = (
            ChargeLine.objects.for_merchant(merchant)
            .filter(kind="pick.unit", occurred_at__gte=timezone.now() - timedelta(days=30))
            .aggregate(q=Sum("quantity"))["q"]
            or 0
        )
        if shipped_units == 0:
            amount = pallets.aggregate(a=Sum("amount"))["a"] or ZERO
            recs.append({"kind": "storage", "saving": amount, "title": "Pallets with no sales",
                         "detail": f"{len(billed_locations)} pallet locations cost {amount:.2f} in the last 30 days "
                                   "and nothing shipped from your stock."})  # fmt: skip
    return recs


def order_profile_average(merchant) -> dict:
    costs = list(OrderCost.objects.for_merchant(merchant).exclude(estimated={}).order_by("-pk")[:500])
    units, carrier = [], []
    for c in costs:
        for ln in c.estimated.get("lines", []):
            if ln["kind"] == "pick.unit":
                units.append(Decimal(ln["quantity"]))
            if ln["kind"] == "shipping":
                carrier.append(Decimal(ln["unit_price"]))
    return {
        "units": max(1, round(sum(units) / len(units))) if units else 1,
        "carrier_cost": (sum(carrier) / len(carrier)).quantize(Decimal("0.01"))
        if carrier
        else Decimal("7.95"),
        "orders_sampled": len(costs),
    }


def scenarios(merchant, *, volumes=SCENARIO_VOLUMES) -> dict:
    """'At 2,000 orders/month you would pay …' with the merchant's own card and average order."""
    card = selectors.card_in_force(merchant)
    avg = order_profile_average(merchant)
    rows = []
    for volume in sorted({*volumes, max(1, selectors.volume_basis(merchant, timezone.now()))}):
        acts = calculator.order_activities(
            units=avg["units"], box_code="small_box", carrier_cost=avg["carrier_cost"]
        )
        per_order = pricing.price(acts, card=card, monthly_orders=volume)
        monthly = pricing.price(
            calculator.order_activities(units=avg["units"], box_code="small_box", carrier_cost=avg["carrier_cost"],
                                        orders=volume), card=card, monthly_orders=volume)  # fmt: skip
        rows.append({"volume": volume, "tier": per_order.tier.name, "per_order": per_order.total,
                     "monthly": monthly.total})  # fmt: skip
    return {"rows": rows, "profile": avg, "card": card}
