"""The cost panel on the order page (US-027): the estimated cost before shipping and the actual cost after,
line by line and per category (fulfillment, packaging, shipping, surcharges), from the stored ``OrderCost``
(kept current by the ``order.*`` events). Registered into ``orders.panels`` from ``BillingConfig.ready``
and also served as an HTMX fragment at ``billing:order_cost`` (tenant-scoped) to refresh it."""

from __future__ import annotations

from decimal import Decimal

from django.template.loader import render_to_string

from billing import pricing, services, sources
from billing.models import OrderCost

SHOWN = (pricing.FULFILLMENT, pricing.PACKAGING, pricing.SHIPPING, pricing.SURCHARGES)


def _lines(data: dict) -> list[dict]:
    return [
        {**ln, "quantity": Decimal(ln["quantity"]).normalize(), "amount": Decimal(ln["amount"])}
        for ln in (data or {}).get("lines", [])
    ]


def order_cost_context(*, merchant_id: int, order_id: int) -> dict | None:
    """``None`` when the order is not the merchant's. Computes the estimate if none is stored yet."""
    if sources.order_get(merchant_id, order_id) is None:
        return None
    cost = OrderCost.objects.filter(merchant_id=merchant_id, order_id=order_id).first()
    if cost is None:
        cost = services.order_cost_estimate(merchant_id=merchant_id, order_id=order_id)
    est = (cost.estimated or {}).get("by_category", {})
    act = (cost.actual or {}).get("by_category", {})
    categories = [*SHOWN, *sorted((set(est) | set(act)) - set(SHOWN))]
    rows = []
    for cat in categories:
        e = Decimal(est[cat]) if cat in est else None
        a = Decimal(act[cat]) if cat in act else None
        if cat not in SHOWN and e is None and a is None:
            continue
        rows.append({"category": cat, "estimated": e, "actual": a})
    return {
        "order_id": order_id,
        "cost": cost,
        "rows": rows,
        "estimated_lines": _lines(cost.estimated),
        "actual_lines": _lines(cost.actual),
        "shipped": cost.actual_total is not None,
    }


def order_cost_panel(request, order) -> str | None:
    ctx = order_cost_context(merchant_id=order.merchant_id, order_id=order.pk)
    if ctx is None:
        return None
    return render_to_string("billing/_order_cost.html", ctx, request=request)
