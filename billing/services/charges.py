"""Charge lines: every billable activity, priced once by the rate card in force, linked to its cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
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


def charge_lines_build(*, merchant_id: int, charges: Sequence[Charge], occurred_at: datetime,
                       ctx: RatingContext, event_id: int | None = None) -> list[ChargeLine]:  # fmt: skip
    """Price ``charges`` (unsaved lines). The shipping activity yields two lines (carrier rate, markup)."""
    priced = pricing.price(
        [c.activity for c in charges], card=ctx.card, monthly_orders=ctx.basis, tax_rates=ctx.tax
    )
    out: list[ChargeLine] = []
    for line in priced.lines:
        charge = charges[line.activity]
        key = charge.source_key if line.kind != "shipping.markup" else f"{charge.source_key}:markup"
        out.append(
            ChargeLine(
                merchant_id=merchant_id,
                occurred_at=occurred_at,
                kind=line.kind,
                category=line.category,
                description=line.description[:300],
                quantity=line.quantity,
                unit_price=line.unit_price.quantize(Decimal("0.000001")),
                amount=line.amount,
                tax_rate=line.tax_rate,
                tax=line.tax,
                currency=priced.currency,
                tier=priced.tier.name,
                volume_basis=ctx.basis,
                activity=charge.activity.as_dict(),
                rate_versions=list(ctx.card.versions),
                source_type_id=charge.source_type_id or _ct(charge.source),
                source_id=charge.source_id or (str(charge.source.pk) if charge.source is not None else ""),
                source_label=charge.source_label[:200],
                source_key=key[:160],
                event_id=event_id,
            )
        )
    return out


def charges_record(*, merchant, charges: Sequence[Charge], occurred_at: datetime | None = None,
                   event_id: int | None = None, ctx: RatingContext | None = None) -> int:  # fmt: skip
    """Write the charge lines of ``charges`` (idempotent on each source key). Returns how many are new."""
    if not charges:
        return 0
    occurred_at = occurred_at or timezone.now()
    ctx = ctx or RatingContext.for_merchant(merchant, occurred_at)
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    lines = charge_lines_build(merchant_id=merchant_id, charges=charges, occurred_at=occurred_at, ctx=ctx,
                               event_id=event_id)  # fmt: skip
    keys = [ln.source_key for ln in lines]
    with transaction.atomic():
        existing = set(
            ChargeLine.objects.filter(merchant_id=merchant_id, source_key__in=keys).values_list(
                "source_key", flat=True
            )
        )
        new = [ln for ln in lines if ln.source_key not in existing]
        created = ChargeLine.objects.bulk_create(new, ignore_conflicts=True)
    return len(created)


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
