"""Bulk operations from the order list: hold, release, cancel, set priority — on a selection or on every
order matching a filter. Each order is done on its own (one refusal does not stop the rest); the summary
says how many were done and, for the others, why not."""

from __future__ import annotations

from dataclasses import dataclass, field

from orders.exceptions import OrderError
from orders.models import Order
from orders.models import OrderStatus as S

ACTIONS = ("hold", "release", "cancel", "priority")
MAX_BULK = 10_000


@dataclass
class BulkResult:
    action: str
    done: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (order number, why)

    @property
    def summary(self) -> str:
        text = f"{self.action}: {self.done} done"
        if self.refused:
            text += f", {len(self.refused)} refused"
        return text


def bulk_targets(*, merchant, order_ids: list[int] | None = None, filters: dict | None = None) -> list[int]:
    from orders.selectors import order_filter

    if order_ids is not None:
        qs = Order.objects.for_merchant(merchant).filter(pk__in=order_ids)
    else:
        qs = order_filter(merchant=merchant, filters=filters or {})
    return list(qs.order_by("-id").values_list("pk", flat=True)[:MAX_BULK])


def orders_bulk(
    *,
    merchant,
    action: str,
    order_ids: list[int] | None = None,
    filters: dict | None = None,
    priority: int = 0,
) -> BulkResult:
    from orders import services

    if action not in ACTIONS:
        raise ValueError(f"Unknown bulk action {action!r}.")
    result = BulkResult(action=action)
    for pk in bulk_targets(merchant=merchant, order_ids=order_ids, filters=filters):
        order = Order.objects.for_merchant(merchant).filter(pk=pk).first()
        if order is None:
            continue
        try:
            if action == "hold":
                services.order_hold(order=order, reason="bulk hold")
            elif action == "release":
                if order.status == S.ON_HOLD:
                    services.order_unhold(order=order)
                else:
                    services.order_release(order=order)
            elif action == "cancel":
                services.order_cancel(order=order, reason="bulk cancel")
            elif action == "priority":
                services.order_set_priority(order=order, priority=priority)
            result.done += 1
        except OrderError as exc:
            result.refused.append((order.number, str(exc)))
    return result
