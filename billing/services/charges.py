"""Charge lines: every billable activity, priced once by the rate card in force, linked to its cause."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.utils import timezone

from billing import pricing, selectors
from billing.exceptions import BillingError
from billing.models import ChargeLine
from fulfil.audit import audit_record


@dataclass(frozen=True)
class Charge:
    """One activity to bill, with what caused it. ``source_key`` is unique per merchant: recording the same
    key twice bills once."""

    activity: pricing.Activity
    source_key: str
    source: models.Model | None = None
    source_label: str = ""
    source_type_id: int | None = None  # instead of ``source`` (bulk paths)
    source_id: str = ""


@dataclass
class RatingContext:
    """What pricing needs for one merchant at one instant (card, tier basis, tax) — resolve once per batch."""

    card: pricing.RateCard
    basis: int
    tax: dict[str, Decimal]

    @classmethod
    def for_merchant(cls, merchant, at: datetime) -> RatingContext:
        account = selectors.account_get(merchant)
        jurisdiction = account.tax_jurisdiction if account else ""
        return cls(
            card=selectors.card_in_force(merchant, at),
            basis=selectors.volume_basis(merchant, at),
            tax=selectors.tax_rates_for(jurisdiction, at.date()),
        )


def _ct(obj) -> int | None:
    return ContentType.objects.get_for_model(obj, for_concrete_model=False).pk if obj is not None else None


COLUMNS = (
    "merchant_id", "occurred_at", "kind", "category", "description", "quantity", "unit_price", "amount",
    "tax_rate", "tax", "currency", "tier", "volume_basis", "activity", "rate_versions", "source_type_id",
    "source_id", "source_label", "source_key", "event_id", "created_at",
)  # fmt: skip
SIX = Decimal("0.000001")


def charge_rows_build(*, merchant_id: int, charges: Sequence[Charge], occurred_at: datetime,
                      ctx: RatingContext, event_id: int | None = None) -> list[tuple]:  # fmt: skip
    """Price ``charges`` into rows of ``COLUMNS``. Each distinct activity is priced once by the one pricing
    function (identical activities in one batch cost the same); the shipping activity yields two lines
    (carrier rate, markup)."""
    unique: dict[pricing.Activity, int] = {}
    for c in charges:
        unique.setdefault(c.activity, len(unique))
    acts = list(unique)
    priced = pricing.price(acts, card=ctx.card, monthly_orders=ctx.basis, tax_rates=ctx.tax)
    per_act: list[list[pricing.Line]] = [[] for _ in acts]
    for line in priced.lines:
        per_act[line.activity].append(line)
    act_json = [json.dumps(a.as_dict()) for a in acts]
    versions = json.dumps(list(ctx.card.versions))
    now = timezone.now()
    rows: list[tuple] = []
    for charge in charges:
        i = unique[charge.activity]
        source_type_id = charge.source_type_id or _ct(charge.source)
        source_id = charge.source_id or (str(charge.source.pk) if charge.source is not None else "")
        for line in per_act[i]:
            key = charge.source_key if line.kind != "shipping.markup" else f"{charge.source_key}:markup"
            rows.append((
                merchant_id, occurred_at, line.kind, line.category, line.description[:300], line.quantity,
                line.unit_price.quantize(SIX), line.amount, line.tax_rate, line.tax, priced.currency,
                priced.tier.name, ctx.basis, act_json[i], versions, source_type_id, source_id,
                charge.source_label[:200], key[:160], event_id, now,
            ))  # fmt: skip
    return rows


def charge_lines_build(*, merchant_id: int, charges: Sequence[Charge], occurred_at: datetime,
                       ctx: RatingContext, event_id: int | None = None) -> list[ChargeLine]:  # fmt: skip
    """The same rows as unsaved ``ChargeLine`` objects."""
    out = []
    for row in charge_rows_build(merchant_id=merchant_id, charges=charges, occurred_at=occurred_at, ctx=ctx,
                                 event_id=event_id):  # fmt: skip
        data = dict(zip(COLUMNS, row, strict=True))
        data["activity"] = json.loads(data["activity"])
        data["rate_versions"] = json.loads(data["rate_versions"])
        out.append(ChargeLine(**data))
    return out


def charge_rows_insert(rows: Sequence[tuple]) -> int:
    """Insert priced rows, skipping any whose (merchant, source key) exists — idempotent. On Postgres a
    COPY into a temporary table then one INSERT … ON CONFLICT DO NOTHING (the bulk path: nightly storage,
    re-imports, the benchmark); elsewhere the ORM. Returns how many were new."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        objs = []
        for row in rows:
            data = dict(zip(COLUMNS, row, strict=True))
            data["activity"] = json.loads(data["activity"])
            data["rate_versions"] = json.loads(data["rate_versions"])
            objs.append(ChargeLine(**data))
        keys = {(o.merchant_id, o.source_key) for o in objs}
        existing = set(
            ChargeLine.objects.filter(source_key__in=[k for _, k in keys]).values_list(
                "merchant_id", "source_key"
            )
        )
        new = [o for o in objs if (o.merchant_id, o.source_key) not in existing]
        return len(ChargeLine.objects.bulk_create(new, ignore_conflicts=True))
    cols = ", ".join(COLUMNS)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS billing_chargeline_in ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {cols} FROM billing_chargeline WITH NO DATA"
        )
        with cur.cursor.copy(f"COPY billing_chargeline_in ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO billing_chargeline ({cols}) SELECT {cols} FROM billing_chargeline_in "  # noqa: S608
            "ON CONFLICT (merchant_id, source_key) DO NOTHING"
        )
        created = cur.rowcount
        cur.execute("TRUNCATE billing_chargeline_in")
    return created


def charges_record(*, merchant, charges: Sequence[Charge], occurred_at: datetime | None = None,
                   event_id: int | None = None, ctx: RatingContext | None = None) -> int:  # fmt: skip
    """Write the charge lines of ``charges`` (idempotent on each source key). Returns how many are new."""
    if not charges:
        return 0
    occurred_at = occurred_at or timezone.now()
    ctx = ctx or RatingContext.for_merchant(merchant, occurred_at)
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    rows = charge_rows_build(merchant_id=merchant_id, charges=charges, occurred_at=occurred_at, ctx=ctx,
                             event_id=event_id)  # fmt: skip
    created = charge_rows_insert(rows)
    if created and any(c.activity.kind == "fulfillment.order" for c in charges):
        selectors.volume_basis_forget(merchant_id)  # a month's order count feeds the next month's tier
    return created


def charge_rerate(line: ChargeLine) -> pricing.Line:
    """Re-compute a line from its stored activity and rate-card versions (always equals the stored amount)."""
    card = selectors.card_for_versions(line.rate_versions)
    act = pricing.Activity.from_dict(line.activity)
    priced = pricing.price([act], card=card, monthly_orders=line.volume_basis,
                           tax_rates={line.category: line.tax_rate, "*": line.tax_rate})  # fmt: skip
    want = "shipping.markup" if line.kind == "shipping.markup" else act.kind
    return next(p for p in priced.lines if p.kind == want)


def charge_adjust(*, merchant, amount: Decimal, reason: str, corrects: ChargeLine | None = None,
                  category: str = "", key: str, occurred_at: datetime | None = None,
                  source: models.Model | None = None) -> ChargeLine:  # fmt: skip
    """A correction as a new line (a credit when ``amount`` is negative), never an edit."""
    if corrects is not None and corrects.merchant_id != merchant.pk:
        raise BillingError("That line belongs to another merchant.")
    category = category or (corrects.category if corrects else pricing.ADJUSTMENTS)
    act = pricing.Activity(pricing.ADJUSTMENT_KIND, cost=amount, note=reason, category=category)
    at = occurred_at or timezone.now()
    ctx = RatingContext.for_merchant(merchant, at)
    if corrects is not None:  # tax a correction at the corrected line's rate
        ctx.tax = {category: corrects.tax_rate}
    src = source if source is not None else corrects
    charge = Charge(act, key, source=src, source_label=(corrects.source_label if corrects else reason))
    with transaction.atomic():
        existing = ChargeLine.objects.filter(merchant=merchant, source_key=key).first()
        if existing is not None:
            return existing
        (line,) = charge_lines_build(merchant_id=merchant.pk, charges=[charge], occurred_at=at, ctx=ctx)
        line.corrects = corrects
        line.save()
        audit_record(obj_type="billing.chargeline", obj_id=line.pk, action="adjustment", merchant_id=merchant.pk,
                     after={"amount": line.amount, "reason": reason, "corrects": corrects.pk if corrects else None})  # fmt: skip
    return line
