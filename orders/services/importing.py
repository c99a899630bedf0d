"""The one import path: every source (API, CSV, manual entry, channel connectors) hands a
``CanonicalOrder`` to ``order_import``. It normalises the order and upserts it idempotently on
(merchant, channel, external_id); validation, allocation and routing then run in Celery after commit.

Race safety: the unique constraint decides. Two deliveries racing both try to insert inside a savepoint;
the loser gets ``IntegrityError`` (Postgres makes it wait for the winner's commit), rolls the savepoint
back, and continues as an update of the winner's row — which, for the same payload, changes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record
from orders.canonical import CHANNELS, SHIPPING_SERVICES, CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.exceptions import InvalidOrder
from orders.models import Order, OrderException, OrderLine
from orders.models import OrderStatus as S

CENT = Decimal("0.01")
SERVICE_ALIASES = {
    "standard": "standard",
    "ground": "standard",
    "economy": "standard",
    "": "standard",
    "expedited": "expedited",
    "express": "expedited",
    "priority": "expedited",
    "2day": "expedited",
    "two_day": "expedited",
    "overnight": "overnight",
    "next_day": "overnight",
    "nextday": "overnight",
}
US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
        "AA",
        "AE",
        "AP",
    ]
)
HANDLING_TAGS = {
    "fragile": "is_fragile",
    "hazmat": "is_hazmat",
    "gift": "is_gift",
    "custom-packaging": "custom_packaging",
    "custom_packaging": "custom_packaging",
    "cold-chain": "requires_cold_chain",
    "cold_chain": "requires_cold_chain",
}


def _money(value, field: str, errors: dict) -> Decimal:
    try:
        return Decimal(str(value if value is not None else "0")).quantize(CENT)
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append("Not a valid amount.")
        return Decimal("0.00")


def _clean(text) -> str:
    return " ".join(str(text or "").split())


def normalise_address(address: CanonicalAddress | None) -> CanonicalAddress:
    if address is None:
        return CanonicalAddress()
    country = _clean(address.country).upper() or "US"
    state = _clean(address.state)
    postal = _clean(address.postal_code).upper()
    if country == "US":
        state = state.upper()
        digits = re.sub(r"[^0-9]", "", postal)
        if len(digits) == 9:
            postal = f"{digits[:5]}-{digits[5:]}"
        elif len(digits) == 5:
            postal = digits
    return dataclasses.replace(
        address,
        name=_clean(address.name),
        company=_clean(address.company),
        street1=_clean(address.street1),
        street2=_clean(address.street2),
        city=_clean(address.city),
        state=state,
        postal_code=postal,
        country=country,
        phone=_clean(address.phone),
        email=_clean(address.email).lower(),
    )


def address_problems(address: CanonicalAddress | dict) -> list[str]:
    """What is wrong with a ship-to address, in words (empty when it is fine)."""
    a = address if isinstance(address, dict) else dataclasses.asdict(address)
    problems = []
    for field in ("name", "street1", "city", "postal_code", "country"):
        if not a.get(field):
            problems.append(f"{field.replace('_', ' ')} is missing")
    country = a.get("country") or ""
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(f"country {country!r} is not a two-letter ISO code")
    if country == "US":
        if a.get("state") and a["state"] not in US_STATES:
            problems.append(f"state {a['state']!r} is not a US state code")
        if not a.get("state"):
            problems.append("state is missing")
        if a.get("postal_code") and not re.fullmatch(r"\d{5}(-\d{4})?", a["postal_code"]):
            problems.append(f"ZIP code {a['postal_code']!r} is not 5 or 9 digits")
    email = a.get("email") or ""
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        problems.append(f"email {email!r} is not valid")
    return problems


def normalise(order: CanonicalOrder) -> tuple[CanonicalOrder, dict[str, list[str]]]:
    """A cleaned copy of the order and the errors that make it impossible to store at all."""
    errors: dict[str, list[str]] = {}
    channel = _clean(order.channel).lower()
    if channel not in CHANNELS:
        errors.setdefault("channel", []).append(f"Unknown channel {order.channel!r}.")
    external_id = _clean(order.external_id)
    if not external_id:
        errors.setdefault("external_id", []).append("This field is required.")
    elif len(external_id) > 128:
        errors.setdefault("external_id", []).append("At most 128 characters.")
    service = SERVICE_ALIASES.get(_clean(order.shipping_service).lower().replace(" ", "_").replace("-", "_"))
    if service is None or service not in SHIPPING_SERVICES:
        errors.setdefault("shipping_service", []).append(
            f"Unknown shipping service {order.shipping_service!r}; use standard, expedited or overnight."
        )
        service = "standard"
    lines = []
    for i, line in enumerate(order.lines):
        sku = _clean(line.sku)
        try:
            qty = int(line.quantity)
        except (TypeError, ValueError):
            qty = 0
        if qty < 1:
            errors.setdefault(f"lines[{i}].quantity", []).append("Must be a whole number of at least 1.")
        if len(sku) > 100:
            errors.setdefault(f"lines[{i}].sku", []).append("At most 100 characters.")
        lines.append(
            dataclasses.replace(
                line,
                sku=sku,
                quantity=qty,
                unit_price=_money(line.unit_price, f"lines[{i}].unit_price", errors),
                tax=_money(line.tax, f"lines[{i}].tax", errors),
                discount=_money(line.discount, f"lines[{i}].discount", errors),
                name=_clean(line.name)[:300],
                external_line_id=_clean(line.external_line_id)[:128],
            )
        )
    try:
        priority = int(order.priority or 0)
    except (TypeError, ValueError):
        errors.setdefault("priority", []).append("Must be a whole number.")
        priority = 0
    ship_to = normalise_address(order.ship_to)
    cleaned = dataclasses.replace(
        order,
        channel=channel,
        external_id=external_id,
        number=_clean(order.number)[:64],
        channel_account=_clean(order.channel_account)[:200],
        lines=tuple(lines),
        ship_to=ship_to,
        bill_to=normalise_address(order.bill_to) if order.bill_to else None,
        customer_name=_clean(order.customer_name)[:200] or ship_to.name,
        customer_email=_clean(order.customer_email).lower()[:254] or ship_to.email,
        currency=(_clean(order.currency).upper() or "USD")[:3],
        shipping_service=service,
        shipping_paid=_money(order.shipping_paid, "shipping_paid", errors),
        total=_money(order.total, "total", errors) if order.total is not None else None,
        priority=priority,
        tags=tuple(sorted({_clean(t).lower() for t in order.tags if _clean(t)})),
        status=(_clean(order.status).lower() or "open"),
    )
    return cleaned, errors


def canonical_hash(order: CanonicalOrder) -> str:
    """sha256 of the order without ``raw``, as sorted JSON. The same text as ``json.dumps(asdict(order)
    minus raw, sort_keys=True, default=str)`` — stored digests stay comparable — without ``asdict``'s deep
    copy of every value (and of the whole raw payload, dropped afterwards), which cost more than the rest of
    an import."""
    data = {f.name: _plain(getattr(order, f.name)) for f in dataclasses.fields(order) if f.name != "raw"}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


_SCALARS = frozenset({str, int, float, bool, Decimal, datetime, type(None)})


def _plain(value):
    if type(value) in _SCALARS:  # most values: skip the dataclass check (the hot part of an import's hash)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _order_fields(order: CanonicalOrder) -> dict:
    subtotal = sum((line.unit_price * line.quantity for line in order.lines), Decimal("0.00"))
    tax = sum((line.tax for line in order.lines), Decimal("0.00"))
    discount = sum((line.discount for line in order.lines), Decimal("0.00"))
    total = order.total if order.total is not None else subtotal + tax - discount + order.shipping_paid
    a = order.ship_to
    flags = {attr: False for attr in set(HANDLING_TAGS.values())}
    for tag in order.tags:
        if tag in HANDLING_TAGS:
            flags[HANDLING_TAGS[tag]] = True
    if order.gift_message:
        flags["is_gift"] = True
    expedited = order.shipping_service in ("expedited", "overnight")
    number = order.number or order.external_id
    search = " ".join(
        filter(None, [number, order.external_id, order.customer_name, order.customer_email, a.name, a.email])
    ).lower()[:600]
    return {
        "number": number,
        "channel_account": order.channel_account,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "ship_to_name": a.name[:200],
        "ship_to_company": a.company[:200],
        "ship_to_street1": a.street1[:200],
        "ship_to_street2": a.street2[:200],
        "ship_to_city": a.city[:100],
        "ship_to_state": a.state[:100],
        "ship_to_postal_code": a.postal_code[:20],
        "ship_to_country": a.country[:2],
        "ship_to_phone": a.phone[:40],
        "ship_to_email": a.email[:254],
        "bill_to": dataclasses.asdict(order.bill_to) if order.bill_to else {},
        "shipping_service": order.shipping_service,
        "priority": order.priority
        + (100 if order.shipping_service == "overnight" else 50 if expedited else 0),
        "same_day_cutoff": expedited,
        "currency": order.currency,
        "subtotal": subtotal,
        "tax_total": tax,
        "discount_total": discount,
        "shipping_paid": order.shipping_paid,
        "total": max(total, Decimal("0.00")),
        "tags": list(order.tags),
        "note": order.note,
        "gift_message": order.gift_message,
        "raw": order.raw or {},
        "search_text": search,
        "placed_at": order.placed_at or timezone.now(),
        "channel_updated_at": order.updated_at,
        "is_international": a.country != "US",
        **flags,
    }


def _line_objects(order: Order, lines: tuple[CanonicalLine, ...]) -> list[OrderLine]:
    return [
        OrderLine(
            order=order,
            sku=line.sku,
            name=line.name,
            external_line_id=line.external_line_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax=line.tax,
            discount=line.discount,
            position=i,
        )
        for i, line in enumerate(lines)
    ]


def order_import(*, merchant, order: CanonicalOrder) -> tuple[Order, bool]:
    """Store a canonical order; returns ``(order, created)``. Raises ``InvalidOrder`` only when the order
    cannot be stored at all (no external id, unknown channel, a non-positive quantity); every other problem
    (unknown SKU, bad address, missing customs data) is stored and lands in the exceptions queue."""
    cleaned, errors = normalise(order)
    if errors:
        raise InvalidOrder(errors)
    digest = canonical_hash(cleaned)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                existing = (
                    Order.objects.select_for_update()
                    .filter(merchant=merchant, channel=cleaned.channel, external_id=cleaned.external_id)
                    .first()
                )
                if existing is not None:
                    return _apply_update(existing, cleaned, digest), False
                with transaction.atomic():  # savepoint: a racing insert fails here alone
                    created = Order.objects.create(
                        merchant=merchant,
                        channel=cleaned.channel,
                        external_id=cleaned.external_id,
                        source_hash=digest,
                        **_order_fields(cleaned),
                    )
                OrderLine.objects.bulk_create(_line_objects(created, cleaned.lines))
                audit_record(
                    obj_type="order",
                    obj_id=created.pk,
                    action="order.imported",
                    merchant_id=merchant.pk,
                    after={"channel": created.channel, "external_id": created.external_id, "status": "new"},
                )
                outbox.emit(
                    "order.created",
                    {"order_id": created.pk, "merchant_id": merchant.pk, "channel": created.channel},
                    merchant_id=merchant.pk,
                )
                if cleaned.status == "cancelled":
                    from orders.services.changes import order_cancel

                    order_cancel(order=created, reason="cancelled on the channel")
                else:
                    from orders.services.processing import enqueue_processing

                    enqueue_processing(order_id=created.pk, priority=created.priority)
                return created, True
        except IntegrityError:
            continue  # another delivery inserted it first: loop and update that one
    raise InvalidOrder({"external_id": ["The order is being imported by another request; retry."]})


def _apply_update(order: Order, cleaned: CanonicalOrder, digest: str) -> Order:
    """A re-delivery or an update of an order we already have (its row is locked)."""
    from orders.services.workflow import BEFORE_PICKING, FINAL

    if order.source_hash == digest:
        return order  # the same order delivered again
    if cleaned.updated_at and order.channel_updated_at and cleaned.updated_at < order.channel_updated_at:
        return order  # an older version arriving late
    if cleaned.status == "cancelled":
        if order.status in BEFORE_PICKING:
            from orders.services.changes import order_cancel

            order.source_hash = digest
            order.save(update_fields=["source_hash"])
            return order_cancel(order=order, reason="cancelled on the channel")
        if order.status != S.CANCELLED:
            _exception_for_person(
                order,
                OrderException.Reason.CANCEL_IN_WAREHOUSE,
                f"The channel cancelled the order while it is {order.get_status_display().lower()}: "
                "request an intercept from the warehouse or start a return.",
                digest,
            )
        return order
    if order.status in FINAL or order.status not in BEFORE_PICKING:
        _exception_for_person(
            order,
            OrderException.Reason.UPDATE_IN_WAREHOUSE,
            f"The channel updated the order while it is {order.get_status_display().lower()}; the change was "
            "not applied. Check it and request an intercept if needed.",
            digest,
        )
        return order
    from orders.services.changes import apply_channel_update

    return apply_channel_update(order=order, cleaned=cleaned, fields=_order_fields(cleaned), digest=digest)


def _exception_for_person(order: Order, reason: str, detail: str, digest: str) -> None:
    OrderException.objects.create(
        merchant_id=order.merchant_id, order=order, reason=reason, detail=detail, blocking=False
    )
    order.source_hash = digest
    order.save(update_fields=["source_hash", "updated_at"])
    audit_record(
        obj_type="order",
        obj_id=order.pk,
        action="order.update_refused",
        merchant_id=order.merchant_id,
        message=detail,
    )


def parse_datetime(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
