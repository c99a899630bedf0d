"""Rate cards, accounts, commitments and tax rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import pricing, selectors
from billing.exceptions import BillingError
from billing.models import BillingAccount, RateCard, RateCardVersion, TaxRate, VolumeCommitment
from fulfil import outbox
from fulfil.audit import audit_record

STANDARD_V1_FROM = datetime(2024, 1, 1, tzinfo=UTC)


def standard_card_ensure() -> RateCard:
    """The published standard card with its version 1 (idempotent)."""
    card, _ = RateCard.objects.get_or_create(kind=RateCard.Kind.STANDARD, defaults={"name": "Standard"})
    if not card.versions.exists():
        RateCardVersion.objects.create(
            card=card, version=1, effective_from=STANDARD_V1_FROM, data=pricing.STANDARD_CARD_V1,
            notes="Published standard rates",
        )  # fmt: skip
    return card


def rate_card_publish(*, data: dict, effective_from: datetime, notes: str = "", merchant=None,
                      name: str = "") -> RateCardVersion:  # fmt: skip
    """A new version of the standard card (``merchant`` None, ``data`` = the whole card) or of a merchant's
    contract card (``data`` = the overrides). Versions are never edited; a later one supersedes."""
    with transaction.atomic():
        if merchant is None:
            card = standard_card_ensure()
            pricing.card_from_data(data)  # validates
        else:
            card, _ = RateCard.objects.get_or_create(
                kind=RateCard.Kind.CONTRACT, merchant=merchant,
                defaults={"name": name or f"{merchant.name} contract"},
            )  # fmt: skip
            standard = selectors.card_in_force(None, effective_from)
            pricing.card_from_data({"rates": dict(standard.rates), "tiers": [t.as_dict() for t in standard.tiers]},
                                   overrides=data)  # fmt: skip
        card = RateCard.objects.select_for_update().get(pk=card.pk)
        last = card.versions.order_by("-version").first()
        if last is not None and effective_from <= last.effective_from:
            raise BillingError("A new version must take effect after the current one.")
        version = RateCardVersion.objects.create(
            card=card,
            version=(last.version + 1 if last else 1),
            effective_from=effective_from,
            data=data,
            notes=notes,
        )
        audit_record(
            obj_type="billing.ratecardversion", obj_id=version.pk, action="published",
            merchant_id=merchant.pk if merchant else None, after={"card": card.name, "version": version.version,
            "effective_from": effective_from.isoformat(), "data": data},
        )  # fmt: skip
    return version


def account_ensure(*, merchant, today: date | None = None) -> BillingAccount:
    account = BillingAccount.objects.for_merchant(merchant).first()
    if account is not None:
        return account
    start = (today or timezone.now().date()).replace(day=1)
    account, _ = BillingAccount.objects.get_or_create(
        merchant=merchant,
        defaults={"cycle_anchor": start, "next_cycle_start": start, "currency": merchant.currency or "USD"},
    )
    return account


def cycle_end(cycle: str, start: date) -> date:
    if cycle == BillingAccount.Cycle.WEEKLY:
        return start + timedelta(days=7)
    if cycle == BillingAccount.Cycle.BIWEEKLY:
        return start + timedelta(days=14)
    nxt = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    return nxt.replace(day=min(start.day, selectors.month_days(nxt)))


def account_update(*, merchant, cycle: str | None = None, terms_days: int | None = None,
                   credit_limit: Decimal | None = None, tax_jurisdiction: str | None = None,
                   autopay: bool | None = None) -> BillingAccount:  # fmt: skip
    """Change settings. A cycle change takes effect from the next cycle (the current one completes)."""
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account_ensure(merchant=merchant).pk)
        before = {
            f: getattr(account, f)
            for f in ("cycle", "terms_days", "credit_limit", "tax_jurisdiction", "autopay")
        }
        if cycle is not None:
            if cycle not in BillingAccount.Cycle.values:
                raise BillingError("Unknown billing cycle.")
            account.cycle = cycle
        if terms_days is not None:
            if terms_days not in (0, 15, 30):
                raise BillingError("Payment terms are due on receipt, net 15 or net 30.")
            account.terms_days = terms_days
        if credit_limit is not None:
            account.credit_limit = credit_limit
        if tax_jurisdiction is not None:
            account.tax_jurisdiction = tax_jurisdiction
        if autopay is not None:
            account.autopay = autopay
        account.save()
        after = {f: getattr(account, f) for f in before}
        audit_record(obj_type="billing.account", obj_id=account.pk, action="updated", merchant_id=merchant.pk,
                     before=before, after=after)  # fmt: skip
        if after["credit_limit"] != before["credit_limit"]:
            credit_changed(merchant_id=merchant.pk, why="credit limit changed")
    return account


def credit_override_set(*, merchant, allow: bool, reason: str = "") -> BillingAccount:
    """Operator: let a held merchant's orders be released anyway (or take that back)."""
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account_ensure(merchant=merchant).pk)
        account.credit_hold_override = allow
        account.credit_hold_override_reason = reason if allow else ""
        account.save(update_fields=["credit_hold_override", "credit_hold_override_reason"])
        audit_record(obj_type="billing.account", obj_id=account.pk, action="credit_override",
                     merchant_id=merchant.pk, after={"allow": allow, "reason": reason})  # fmt: skip
        credit_changed(merchant_id=merchant.pk, why="operator override" if allow else "override withdrawn")
    return account


def credit_changed(*, merchant_id: int, why: str) -> None:
    """Tell the reactions that a merchant's credit position may have changed (payment, override, limit):
    ``billing.credit_changed {merchant_id, why}``; its handler lets orders held for credit go when clear."""
    outbox.emit("billing.credit_changed", {"merchant_id": merchant_id, "why": why}, merchant_id=merchant_id)


def commitment_set(*, merchant, monthly_orders: int, term: str = VolumeCommitment.Term.MONTHLY,
                   starts_on: date | None = None) -> VolumeCommitment:  # fmt: skip
    """Start a commitment; an active one ends the day before (a mid-term change, pro-rated by days)."""
    if monthly_orders <= 0:
        raise BillingError("A commitment needs a positive number of orders per month.")
    starts_on = starts_on or timezone.now().date()
    with transaction.atomic():
        account_ensure(merchant=merchant)
        BillingAccount.objects.select_for_update().filter(merchant=merchant).first()
        active = list(
            VolumeCommitment.objects.for_merchant(merchant).filter(ends_on__isnull=True).select_for_update()
        )
        for c in active:
            if c.starts_on >= starts_on:
                raise BillingError("A commitment already starts on or after that day.")
            c.ends_on = starts_on
            c.save(update_fields=["ends_on"])
        commitment = VolumeCommitment.objects.create(
            merchant=merchant, monthly_orders=monthly_orders, term=term, starts_on=starts_on,
            ends_on=(starts_on.replace(year=starts_on.year + 1) if term == VolumeCommitment.Term.ANNUAL else None),
        )  # fmt: skip
        audit_record(obj_type="billing.commitment", obj_id=commitment.pk, action="created", merchant_id=merchant.pk,
                     after={"monthly_orders": monthly_orders, "term": term, "starts_on": starts_on,
                            "replaces": [c.pk for c in active]})  # fmt: skip
    return commitment


def tax_rate_set(*, jurisdiction: str, rate: Decimal, effective_from: date, category: str = "*",
                 name: str = "") -> TaxRate:  # fmt: skip
    tr, _ = TaxRate.objects.update_or_create(
        jurisdiction=jurisdiction, category=category, effective_from=effective_from,
        defaults={"rate": rate, "name": name},
    )  # fmt: skip
    return tr
