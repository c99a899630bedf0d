"""Privacy: erase a customer's personal data from the order book, and compile what we hold about them.

A sales channel's privacy request (Shopify ``customers/redact``, ``shop/redact``, eBay's account deletion…)
ends here. ``customer_redact`` finds the customer's orders on that channel (by the channel's order ids and/or
the email) and replaces every personal field with a placeholder:

- name, company, street lines, city, phone and email of the customer, the ship-to and the bill-to address,
  the order note and gift message, and the platform's raw payload (personal keys removed, the rest kept);
- the same values wherever the order copied them: its audit history (before/after/message), its outbox event
  payloads and its exception details.

Kept, because fulfilment, billing and tax records need them and they identify no one: order number and
channel ids, lines (SKU, name of the product, quantities, prices), totals and currency, statuses and dates,
the country, the state/province and the first three characters of the postal code (sales-tax jurisdiction,
billing zones and analytics by region).

An order still in flight (not shipped, delivered or cancelled) is not redacted yet — the warehouse still
needs the address to ship it, which the platforms allow. It is marked (an ``order.redaction_deferred`` audit
entry) and redacted by the ``order.status_changed`` handler below as soon as it reaches one of those statuses.
Every redaction leaves an ``order.redacted`` audit entry saying *that* it happened and which fields — never
the values — and an ``order.customer_redacted`` event for the apps above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from fulfil import outbox
from fulfil.audit import audit_record
from fulfil.models import AuditEntry, OutboxEvent
from orders.models import Order, OrderException, OrderStatus

REDACTED = "[redacted]"
FINISHED = (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
POSTAL_PREFIX = 3

# Text fields replaced by the placeholder; emails and phones are emptied (nothing is ever sent to them again).
TEXT_FIELDS = (
    "customer_name",
    "ship_to_name",
    "ship_to_company",
    "ship_to_street1",
    "ship_to_street2",
    "ship_to_city",
)
EMPTY_FIELDS = ("customer_email", "ship_to_email", "ship_to_phone", "note", "gift_message")
# Keys of platform payloads (any platform, any depth, case-insensitive) that hold a person or an address.
PERSONAL_KEYS = frozenset(
    k.lower()
    for k in (
        "first_name",
        "last_name",
        "email",
        "contact_email",
        "phone",
        "address1",
        "address2",
        "address3",
        "street1",
        "street2",
        "city",
        "company",
        "zip",
        "latitude",
        "longitude",
        "browser_ip",
        "client_details",
        "note",
        "note_attributes",
        "customer",
        "billing_address",
        "shipping_address",
        "default_address",
        "billing",
        "shipping",
        "buyer",
        "BuyerInfo",
        "BuyerEmail",
        "BuyerName",
        "ShippingAddress",
        "BillingAddress",
        "shipTo",
        "shippingInfo",
        "postalAddress",
        "contactAddress",
        "fullName",
        "primaryPhone",
        "customerEmailId",
        "AddressLine1",
        "AddressLine2",
        "AddressLine3",
        "Phone",
    )
)


@dataclass(frozen=True)
class RedactionResult:
    redacted: list[int] = field(default_factory=list)  # order ids redacted now (or already before)
    deferred: list[int] = field(default_factory=list)  # in flight: redacted when they ship or are cancelled

    def describe(self) -> str:
        text = f"redacted {len(self.redacted)} orders"
        if self.deferred:
            text += f"; {len(self.deferred)} still in flight, redacted as soon as they ship or are cancelled"
        return text


def _matching(
    *, merchant, channel: str, email: str, external_ids: Iterable[str], channel_account: str | None
):
    ids = [str(i) for i in external_ids if str(i)]
    cond = Q()
    if ids:
        cond |= Q(external_id__in=ids)
    if email:
        cond |= Q(customer_email__iexact=email) | Q(ship_to_email__iexact=email)
    qs = Order.objects.filter(merchant_id=getattr(merchant, "pk", merchant), channel=channel)
    if channel_account:
        qs = qs.filter(channel_account=channel_account)
    elif not cond:
        return qs.none()
    return qs.filter(cond) if cond else qs


def customer_redact(
    *,
    merchant,
    channel: str,
    email: str = "",
    external_ids: Iterable[str] = (),
    channel_account: str | None = None,
    reason: str = "privacy request",
) -> RedactionResult:
    """Redact the customer's orders on ``channel``: those with one of ``external_ids`` or the ``email``;
    with ``channel_account`` and neither, every order of that store (a shop redact). Finished orders now,
    orders in flight when they finish. Idempotent."""
    qs = _matching(
        merchant=merchant,
        channel=channel,
        email=(email or "").strip(),
        external_ids=external_ids,
        channel_account=channel_account,
    )
    redacted: list[int] = []
    deferred: list[int] = []
    with transaction.atomic():
        for order in list(qs.order_by("pk").select_for_update()):
            if order.status in FINISHED:
                if _current_values(order) or not is_redacted(order):  # skip: redacted, nothing new since
                    _redact(order, reason=reason)
                redacted.append(order.pk)
            else:
                _defer(order, reason=reason)
                deferred.append(order.pk)
    return RedactionResult(redacted=redacted, deferred=deferred)


def order_redact_customer(*, merchant, channel: str, email: str, external_ids: list[str]) -> int:
    """The contract the sales channels call (``integrations.ports.customer_redact``): ``customer_redact``
    for a customer; returns how many orders were redacted now (the rest follow when they finish)."""
    return len(
        customer_redact(merchant=merchant, channel=channel, email=email, external_ids=external_ids).redacted
    )


def order_redact_deferred(*, order_id: int) -> bool:
    """Redact an order whose redaction waited for it to finish, once it has. True when it was redacted now."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status not in FINISHED:
            return False
        marks = AuditEntry.objects.filter(object_type="order", object_id=str(order.pk))
        pending = marks.filter(action="order.redaction_deferred").order_by("-pk").first()
        if pending is None or marks.filter(action="order.redacted", pk__gt=pending.pk).exists():
            return False
        _redact(order, reason=(pending.after or {}).get("reason") or "privacy request", deferred=True)
        return True


def is_redacted(order: Order) -> bool:
    return AuditEntry.objects.filter(
        object_type="order", object_id=str(order.pk), action="order.redacted"
    ).exists()


def redaction_state(*, order_ids: Iterable[int]) -> dict[int, str]:
    """``{order id: "redacted" | "deferred"}`` for the given orders (absent: neither)."""
    ids = [str(i) for i in order_ids]
    state: dict[int, str] = {}
    rows = (
        AuditEntry.objects.filter(
            object_type="order", object_id__in=ids, action__in=["order.redacted", "order.redaction_deferred"]
        )
        .order_by("pk")
        .values_list("object_id", "action")
    )
    for object_id, action in rows:
        state[int(object_id)] = "redacted" if action == "order.redacted" else "deferred"
    return state


def _defer(order: Order, *, reason: str) -> None:
    state = redaction_state(order_ids=[order.pk]).get(order.pk)
    if state == "deferred":
        return
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action="order.redaction_deferred",
        merchant_id=order.merchant_id,
        after={"reason": reason},
        message="Customer data will be erased as soon as the order ships or is cancelled",
    )


def _current_values(order: Order) -> bool:
    """Whether the order (still or again) holds personal values."""
    return any(getattr(order, f) not in ("", REDACTED) for f in (*TEXT_FIELDS, *EMPTY_FIELDS))


def _needles(order: Order) -> list[str]:
    """The personal values of the order, longest first (so a full name goes before a first name)."""
    values = {getattr(order, f) for f in (*TEXT_FIELDS, "customer_email", "ship_to_email", "ship_to_phone")}
    values.add(order.ship_to_postal_code)
    for key, value in (order.bill_to or {}).items():
        if key not in ("country", "state") and isinstance(value, str):
            values.add(value)
    for entry in AuditEntry.objects.filter(object_type="order", object_id=str(order.pk)).values_list(
        "before", "after"
    ):
        for part in entry:  # earlier addresses, from address changes
            _collect(part, values)
    clean = {
        v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= 3 and v.strip() != REDACTED
    }
    return sorted(clean, key=len, reverse=True)


HISTORY_KEYS = frozenset(
    {"name", "company", "street1", "street2", "city", "postal_code", "phone", "email"}
    | {
        f"ship_to_{k}"
        for k in ("name", "company", "street1", "street2", "city", "postal_code", "phone", "email")
    }
    | {"customer_name", "customer_email", "note", "gift_message"}
)


def _collect(value, into: set) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in HISTORY_KEYS and isinstance(v, str):
                into.add(v)
            else:
                _collect(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect(v, into)


def _scrub(value, pattern: re.Pattern | None, *, keys: bool = False):
    """A copy of ``value`` with every needle replaced; with ``keys``, also every personal key's value."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if keys and str(k).lower() in PERSONAL_KEYS and v not in (None, "", [], {}):
                out[k] = REDACTED
            else:
                out[k] = _scrub(v, pattern, keys=keys)
        return out
    if isinstance(value, list):
        return [_scrub(v, pattern, keys=keys) for v in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(REDACTED, value)
    return value


def _redact(order: Order, *, reason: str, deferred: bool = False) -> None:
    needles = _needles(order)
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE) if needles else None
    changed = []
    for name in TEXT_FIELDS:
        if getattr(order, name):
            setattr(order, name, REDACTED)
            changed.append(name)
    for name in EMPTY_FIELDS:
        if getattr(order, name):
            setattr(order, name, "")
            changed.append(name)
    if order.ship_to_postal_code and len(order.ship_to_postal_code) > POSTAL_PREFIX:
        order.ship_to_postal_code = order.ship_to_postal_code[:POSTAL_PREFIX]
        changed.append("ship_to_postal_code")
    if order.bill_to:
        bill = dict(order.bill_to)
        for key, value in bill.items():
            if key in ("country", "state") or not value:
                continue
            bill[key] = value[:POSTAL_PREFIX] if key == "postal_code" and isinstance(value, str) else REDACTED
        if bill != order.bill_to:
            order.bill_to = bill
            changed.append("bill_to")
    if order.raw:
        order.raw = _scrub(order.raw, pattern, keys=True)
        changed.append("raw")
    order.search_text = " ".join(filter(None, [order.number, order.external_id])).lower()[:600]
    order.save()
    if pattern is not None:
        _scrub_copies(order, pattern)
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action="order.redacted",
        merchant_id=order.merchant_id,
        after={"fields": sorted(set(changed)), "reason": reason, "deferred": deferred},
        message=f"Customer personal data erased ({reason})",
    )
    outbox.emit(
        "order.customer_redacted",
        {"order_id": order.pk, "merchant_id": order.merchant_id, "channel": order.channel},
        merchant_id=order.merchant_id,
    )


def _scrub_copies(order: Order, pattern: re.Pattern) -> None:
    """The order's personal values in its audit history, its outbox payloads and its exception details."""
    for entry in list(
        AuditEntry.objects.filter(object_type="order", object_id=str(order.pk)).only(
            "pk", "before", "after", "message"
        )
    ):
        before, after = _scrub(entry.before, pattern), _scrub(entry.after, pattern)
        message = pattern.sub(REDACTED, entry.message or "")
        if (before, after, message) != (entry.before, entry.after, entry.message):
            AuditEntry.objects.filter(pk=entry.pk).update(before=before, after=after, message=message)
    for event in list(OutboxEvent.objects.filter(payload__order_id=order.pk).only("pk", "payload")):
        payload = _scrub(event.payload, pattern)
        if payload != event.payload:
            OutboxEvent.objects.filter(pk=event.pk).update(payload=payload)
    for exc in list(OrderException.objects.filter(order=order).only("pk", "detail")):
        detail = pattern.sub(REDACTED, exc.detail or "")
        if detail != exc.detail:
            OrderException.objects.filter(pk=exc.pk).update(detail=detail)


# --- what we hold about a customer (a data request) -----------------------------------------------------


def customer_data_export(
    *,
    merchant,
    channel: str,
    email: str = "",
    external_ids: Iterable[str] = (),
    channel_account: str | None = None,
) -> dict:
    """Everything the order book holds about one customer on one channel: orders with their addresses,
    lines and shipments, as plain JSON-ready data (the merchant sends it to the customer)."""
    qs = _matching(
        merchant=merchant,
        channel=channel,
        email=(email or "").strip(),
        external_ids=external_ids,
        channel_account=channel_account,
    )
    orders = []
    for order in qs.order_by("placed_at", "pk").prefetch_related("lines"):
        shipments = getattr(order, "shipments", None)
        orders.append(
            {
                "number": order.number,
                "channel_order_id": order.external_id,
                "placed_at": order.placed_at.isoformat() if order.placed_at else None,
                "status": order.status,
                "customer": {"name": order.customer_name, "email": order.customer_email},
                "ship_to": order.ship_to,
                "bill_to": order.bill_to or {},
                "note": order.note,
                "gift_message": order.gift_message,
                "currency": order.currency,
                "total": str(order.total),
                "lines": [
                    {
                        "sku": ln.sku,
                        "name": ln.name,
                        "quantity": ln.quantity,
                        "unit_price": str(ln.unit_price),
                    }
                    for ln in order.lines.all()
                ],
                "shipments": [
                    {
                        "carrier": s.carrier,
                        "service": s.service,
                        "tracking_number": s.tracking_number,
                        "status": s.status,
                        "created_at": s.created_at.isoformat() if getattr(s, "created_at", None) else None,
                    }
                    for s in (shipments.all() if shipments is not None else [])
                ],
            }
        )
    return {"channel": channel, "email": email, "orders": orders}


# --- deferred redactions --------------------------------------------------------------------------------


@outbox.handles("order.status_changed")
def on_status_changed_redact_deferred(event) -> None:
    """An order finished: if a privacy request was waiting for it, erase the customer's data now.
    Registered here (imported with ``orders.services``) so the deferral and its completion live together."""
    if event.payload.get("to") in FINISHED:
        order_redact_deferred(order_id=int(event.payload["order_id"]))


@outbox.handles("privacy.redact_requested")
def on_redact_requested(event) -> None:
    """A sales channel asked to erase a customer (e.g. eBay's marketplace account deletion):
    ``{merchant_id, channel, external_ids, email?, reason?}``. Idempotent."""
    p = event.payload
    customer_redact(
        merchant=int(p["merchant_id"]),
        channel=str(p["channel"]),
        email=str(p.get("email") or ""),
        external_ids=[str(i) for i in p.get("external_ids") or []],
        reason=str(p.get("reason") or "privacy request"),
    )
