"""Reads of the order book. ``order_list`` filters and pages by keyset (no OFFSET, no COUNT), so the first
page and the hundredth cost the same at a million orders."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from fulfil.audit import audit_list
from fulfil.tenancy import get_for_merchant_or_404
from orders.models import Order, OrderException, OrderLine, SavedFilter

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")
FILTER_KEYS = (
    "status",
    "channel",
    "q",
    "customer",
    "sku",
    "warehouse",
    "exception",
    "created_after",
    "created_before",
    "service",
    "flag",
)
SORTS = {
    "newest": (("-id",), ("id",)),
    "oldest": (("id",), ("id",)),
    "priority": (("-priority", "-id"), ("priority", "id")),
    "placed": (("-placed_at", "-id"), ("placed_at", "id")),
}


@dataclass
class Page:
    rows: list[Order]
    next_cursor: str | None
    sort: str


def _as_datetime(value, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        parsed_date = value
    else:
        parsed = parse_datetime(str(value))
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        parsed_date = parse_date(str(value))
        if parsed_date is None:
            raise ValueError(f"Not a date: {value!r}")
    return timezone.make_aware(datetime.combine(parsed_date, time.max if end else time.min))


def order_filter(*, merchant, filters: dict) -> QuerySet[Order]:
    """The merchant's orders matching the list filters (raises ValueError for a malformed filter)."""
    qs = Order.objects.for_merchant(merchant)
    f = {k: (v.strip() if isinstance(v, str) else v) for k, v in filters.items() if v not in (None, "", [])}
    if statuses := f.get("status"):
        values = statuses if isinstance(statuses, list) else str(statuses).split(",")
        qs = qs.filter(status__in=values) if len(values) > 1 else qs.filter(status=values[0])
    if channels := f.get("channel"):
        values = channels if isinstance(channels, list) else str(channels).split(",")
        qs = qs.filter(channel__in=values) if len(values) > 1 else qs.filter(channel=values[0])
    if service := f.get("service"):
        qs = qs.filter(shipping_service=service)
    if after := _as_datetime(f.get("created_after")):
        qs = qs.filter(created_at__gte=after)
    if before := _as_datetime(f.get("created_before"), end=True):
        qs = qs.filter(created_at__lte=before)
    if q := f.get("q"):
        q = str(q).lower()[:100]
        # a whole email address: the exact, b-tree indexed lookup; else number, external id, names, emails
        # through the trigram index
        lookup = {"customer_email": q} if EMAIL.fullmatch(q) else {"search_text__contains": q}
        qs = qs.filter(**lookup)
    if customer := f.get("customer"):
        c = str(customer).lower()[:100]
        qs = qs.filter(search_text__contains=c)
    if sku := f.get("sku"):
        qs = qs.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku=sku)))
    if warehouse := f.get("warehouse"):
        from orders.models import OrderLineAllocation

        qs = qs.filter(
            Exists(OrderLineAllocation.objects.filter(line__order=OuterRef("pk"), warehouse_code=warehouse))
        )
    if reason := f.get("exception"):
        qs = qs.filter(
            Exists(
                OrderException.objects.filter(order=OuterRef("pk"), reason=reason, resolved_at__isnull=True)
            )
        )
    if flag := f.get("flag"):
        field = {
            "fragile": "is_fragile",
            "hazmat": "is_hazmat",
            "gift": "is_gift",
            "custom_packaging": "custom_packaging",
            "cold_chain": "requires_cold_chain",
            "split": "is_split",
            "international": "is_international",
            "cutoff": "same_day_cutoff",
        }.get(flag)
        if field:
            qs = qs.filter(**{field: True})
    return qs


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list:
    padded = cursor + "=" * (-len(cursor) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()).decode())


LIST_COLUMNS = (
    "id",
    "merchant_id",
    "number",
    "channel",
    "channel_account",
    "external_id",
    "status",
    "customer_name",
    "customer_email",
    "ship_to_city",
    "ship_to_state",
    "ship_to_country",
    "shipping_service",
    "priority",
    "same_day_cutoff",
    "total",
    "currency",
    "exception_reason",
    "created_at",
    "placed_at",
)


def order_list(
    *,
    merchant,
    filters: dict | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 50,
    with_lines: bool = False,
    columns: tuple[str, ...] | None = None,
) -> Page:
    sort = sort if sort in SORTS else "newest"
    order_by, _ = SORTS[sort]
    qs = order_filter(merchant=merchant, filters=filters or {})
    if cursor:
        try:
            values = _decode(cursor)
        except (ValueError, TypeError) as exc:
            raise ValueError("Bad cursor.") from exc
        qs = qs.filter(_after(order_by, values))
    if (filters or {}).get("q") or (filters or {}).get("customer"):
        # A text search is selective: let Postgres find the matches through the trigram index and sort them,
        # rather than walk the primary key backwards hoping to meet matches early (COALESCE hides the order).
        qs = qs.order_by(
            *[
                Coalesce(F(f.lstrip("-")), F(f.lstrip("-"))).desc()
                if f.startswith("-")
                else Coalesce(F(f), F(f)).asc()
                for f in order_by
            ]
        )
    else:
        qs = qs.order_by(*order_by)
    if columns:
        qs = qs.only(*columns)
    if with_lines:
        qs = qs.prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("position", "pk")))
    limit = max(1, min(int(limit), 500))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode([_value(last, f.lstrip("-")) for f in order_by])
    return Page(rows=rows, next_cursor=next_cursor, sort=sort)


def _value(obj, field):
    value = getattr(obj, field)
    return value.isoformat() if isinstance(value, datetime) else value


def _after(order_by: tuple[str, ...], values: list) -> Q:
    """Keyset condition 'comes after the row with these sort values' for a mixed-direction ordering."""
    if len(values) != len(order_by):
        raise ValueError("Bad cursor.")
    parsed = []
    for field, value in zip(order_by, values, strict=True):
        name = field.lstrip("-")
        if name.endswith("_at") and isinstance(value, str):
            value = parse_datetime(value)
        parsed.append((name, field.startswith("-"), value))
    condition = Q()
    for i, (name, desc, value) in enumerate(parsed):
        term = Q(**{f"{name}__{'lt' if desc else 'gt'}": value})
        for prev_name, _, prev_value in parsed[:i]:
            term &= Q(**{prev_name: prev_value})
        condition |= term
    return condition


def order_get(*, merchant, order_id) -> Order:
    return get_for_merchant_or_404(
        Order.objects.prefetch_related(
            Prefetch(
                "lines", queryset=OrderLine.objects.order_by("position", "pk").prefetch_related("allocations")
            )
        ),
        merchant,
        pk=order_id,
    )


def order_history(*, order: Order):
    return audit_list(obj_type="order", obj_id=order.pk)


def order_open_exceptions(*, order: Order):
    return order.exceptions.filter(resolved_at__isnull=True).order_by("pk")


def order_shipments(order: Order) -> list:
    """The carriers app's shipments through the reverse relation, when it exists (no import of it)."""
    related = getattr(order, "shipments", None)
    if related is None:
        return []
    try:
        return list(related.all())
    except Exception:  # pragma: no cover - the relation exists but its table does not yet
        return []


def exception_queue(*, merchant, reason: str = "") -> QuerySet[OrderException]:
    qs = (
        OrderException.objects.for_merchant(merchant).filter(resolved_at__isnull=True).select_related("order")
    )
    if reason:
        qs = qs.filter(reason=reason)
    return qs.order_by("-pk")


def open_exception_count(*, merchant, cap: int = 1000) -> int:
    """Open exceptions, counted up to ``cap`` (the page says "1000+" beyond)."""
    return OrderException.objects.for_merchant(merchant).filter(resolved_at__isnull=True)[:cap].count()


def saved_filter_list(*, merchant, user) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.for_merchant(merchant).filter(user=user)


def export_rows(*, merchant, filters: dict, batch: int = 2000):
    """Every matching order for the CSV export, streamed in keyset batches of ``batch``."""
    cursor_id = None
    while True:
        qs = order_filter(merchant=merchant, filters=filters).order_by("-id")
        if cursor_id is not None:
            qs = qs.filter(id__lt=cursor_id)
        rows = list(qs.prefetch_related("lines")[:batch])
        if not rows:
            return
        yield from rows
        cursor_id = rows[-1].pk
