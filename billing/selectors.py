"""Reads. ``card_in_force`` resolves the rate card a merchant pays at an instant; ``credit_hold`` tells the
order book whether a merchant's new orders may be released."""

from __future__ import annotations

import calendar
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum
from django.utils import timezone

from billing import pricing
from billing.models import (
    BillingAccount,
    ChargeLine,
    Invoice,
    RateCard,
    RateCardVersion,
    TaxRate,
    VolumeCommitment,
)

ZERO = Decimal("0")
HOLD_FACTOR = Decimal("1.20")  # hold new orders when exposure passes 120% of the credit limit


def standard_card() -> RateCard | None:
    return RateCard.objects.filter(kind=RateCard.Kind.STANDARD).first()


def _version_at(card: RateCard | None, at: datetime) -> RateCardVersion | None:
    if card is None:
        return None
    return card.versions.filter(effective_from__lte=at).order_by("-effective_from").first()


_resolved: dict[tuple, pricing.RateCard] = {}


def card_from_versions(
    standard: RateCardVersion | None, contract: RateCardVersion | None
) -> pricing.RateCard:
    """The resolved card for a (standard version, contract version) pair — the pair stored on each line.
    Versions are immutable, so the resolved card is cached in-process by their ids."""
    if standard is None:
        return _card_from_versions(standard, contract)
    key = (
        standard.pk,
        standard.created_at,
        *((contract.pk, contract.created_at) if contract is not None else ()),
    )
    if key not in _resolved:
        if len(_resolved) > 1000:
            _resolved.clear()
        _resolved[key] = _card_from_versions(standard, contract)
    return _resolved[key]


def _card_from_versions(
    standard: RateCardVersion | None, contract: RateCardVersion | None
) -> pricing.RateCard:
    if standard is None:
        return pricing.standard_card()
    label = f"Standard v{standard.version}"
    versions: tuple[int, ...] = (standard.pk,)
    overrides = None
    if contract is not None:
        overrides = contract.data
        label += f" + {contract.card.name} v{contract.version}"
        versions = (standard.pk, contract.pk)
    return pricing.card_from_data(standard.data, overrides=overrides, label=label, versions=versions)


def card_in_force(merchant=None, at: datetime | None = None) -> pricing.RateCard:
    at = at or timezone.now()
    standard = _version_at(standard_card(), at)
    contract = None
    if merchant is not None:
        card = RateCard.objects.filter(kind=RateCard.Kind.CONTRACT, merchant=merchant).first()
        contract = _version_at(card, at)
    return card_from_versions(standard, contract)


def card_for_versions(version_ids: list[int]) -> pricing.RateCard:
    """Rebuild the exact card a charge line was priced with."""
    versions = {v.pk: v for v in RateCardVersion.objects.filter(pk__in=version_ids).select_related("card")}
    ordered = [versions[i] for i in version_ids if i in versions]
    standard = next((v for v in ordered if v.card.kind == RateCard.Kind.STANDARD), None)
    contract = next((v for v in ordered if v.card.kind == RateCard.Kind.CONTRACT), None)
    return card_from_versions(standard, contract)


def rate_card_history(merchant=None) -> list[RateCardVersion]:
    q = Q(card__kind=RateCard.Kind.STANDARD)
    if merchant is not None:
        q |= Q(card__kind=RateCard.Kind.CONTRACT, card__merchant=merchant)
    return list(RateCardVersion.objects.filter(q).select_related("card").order_by("-effective_from", "-pk"))


def tax_rates_for(jurisdiction: str, on: date) -> dict[str, Decimal]:
    if not jurisdiction:
        return {}
    rates: dict[str, Decimal] = {}
    for tr in TaxRate.objects.filter(jurisdiction=jurisdiction, effective_from__lte=on).order_by(
        "category", "-effective_from"
    ):
        rates.setdefault(tr.category, tr.rate)
    return rates


def account_get(merchant) -> BillingAccount | None:
    return BillingAccount.objects.for_merchant(merchant).first()


def month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _utc(day: date, tz: str = "UTC") -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz or "UTC"))


def orders_between(merchant, start: datetime, end: datetime) -> int:
    """Orders fulfilled in [start, end): the quantity of 'fulfillment.order' charge lines."""
    total = (
        ChargeLine.objects.for_merchant(merchant)
        .filter(kind="fulfillment.order", occurred_at__gte=start, occurred_at__lt=end)
        .aggregate(n=Sum("quantity"))["n"]
    )
    return int(total or 0)


def committed_orders(merchant, month_start: date) -> int:
    """Committed monthly orders for a month, pro-rated by days when a commitment starts or ends mid-month."""
    _, month_end = month_bounds(month_start)
    days = (month_end - month_start).days
    total = Decimal(0)
    qs = (
        VolumeCommitment.objects.for_merchant(merchant)
        .filter(starts_on__lt=month_end)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=month_start))
    )
    for c in qs:
        start = max(c.starts_on, month_start)
        end = min(c.ends_on or month_end, month_end)
        total += Decimal(c.monthly_orders) * (end - start).days / days
    return int(total.to_integral_value())


def volume_basis(merchant, at: datetime) -> int:
    """The monthly volume that picks a merchant's tier at ``at``: the larger of last calendar month's orders
    and the commitment in force this month. Known at the start of the month, so every charge of a month is
    priced at the same tier and re-rating is deterministic."""
    this_month, _ = month_bounds(at.astimezone(ZoneInfo("UTC")).date())
    prev_month, _ = month_bounds(this_month - timedelta(days=1))
    last = orders_between(merchant, _utc(prev_month), _utc(this_month))
    return max(last, committed_orders(merchant, this_month))


def local_month(merchant, at: datetime) -> tuple[date, date, str]:
    """The calendar month containing ``at`` in the merchant's time zone: (first day, first day of next, tz)."""
    tz = getattr(merchant, "timezone", "") or "UTC"
    start, end = month_bounds(at.astimezone(ZoneInfo(tz)).date())
    return start, end, tz


def commitment_coverage(merchant, month_start: date) -> tuple[int, list[int], date | None, date | None]:
    """(committed orders pro-rated by days, commitment ids, first and last+1 covered day) for a month."""
    _, month_end = month_bounds(month_start)
    qs = list(
        VolumeCommitment.objects.for_merchant(merchant)
        .filter(starts_on__lt=month_end)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=month_start))
        .order_by("starts_on", "pk")
    )
    if not qs:
        return 0, [], None, None
    start = max(min(c.starts_on for c in qs), month_start)
    end = min(max((c.ends_on or month_end) for c in qs), month_end)
    return committed_orders(merchant, month_start), [c.pk for c in qs], start, end


def shortfall_quote(merchant, month_start: date, *, actual_orders: int, committed: int | None = None,
                    tax: bool = False) -> dict:  # fmt: skip
    """What a commitment month landing at ``actual_orders`` costs in shortfall: the committed orders not shipped,
    priced by the one pricing function (``pricing.SHORTFALL_KIND``: the per-order fulfillment rate of the tier the
    month is priced at). Used by the month-end close and by the forecast, so both say the same amount."""
    tz = getattr(merchant, "timezone", "") or "UTC"
    if committed is None:
        committed = commitment_coverage(merchant, month_start)[0]
    mid = datetime(month_start.year, month_start.month, 15, 12, tzinfo=ZoneInfo(tz))
    card = card_in_force(merchant, mid)
    basis = volume_basis(merchant, mid)
    shortfall = max(0, committed - max(0, actual_orders))
    account = account_get(merchant)
    taxes = tax_rates_for(account.tax_jurisdiction if account else "", month_start) if tax else {}
    note = f"{month_start:%b %Y}: committed {committed:,} orders, shipped {max(0, actual_orders):,}"
    act = pricing.Activity(pricing.SHORTFALL_KIND, quantity=Decimal(shortfall), note=note)
    priced = pricing.price([act], card=card, monthly_orders=basis, tax_rates=taxes)
    line = priced.lines[0]
    return {
        "month": month_start, "committed": committed, "actual": max(0, actual_orders), "shortfall": shortfall,
        "tier": priced.tier.name, "basis": basis, "rate": line.unit_price, "amount": line.amount,
        "currency": priced.currency, "activity": act, "card": card, "taxes": taxes,
    }  # fmt: skip


def forecast(merchant, *, now: datetime | None = None) -> dict:
    """Month-to-date orders (the month in the merchant's time zone), where the month will land at this pace,
    the commitment, and the shortfall charge if it lands there."""
    now = now or timezone.now()
    start, end, tz = local_month(merchant, now)
    month_start_at = _utc(start, tz)
    elapsed = max(Decimal("0.5"), Decimal((now - month_start_at).total_seconds()) / 86400)
    days = (end - start).days
    mtd = orders_between(merchant, month_start_at, now)
    projected = int((Decimal(mtd) / elapsed * days).to_integral_value())
    committed = committed_orders(merchant, start)
    card = card_in_force(merchant, now)
    basis = volume_basis(merchant, now)
    shortfall = None
    scenarios = []
    if committed:
        shortfall = shortfall_quote(merchant, start, actual_orders=projected, committed=committed)
        for pct in (50, 75, 90, 100):
            landing = committed * pct // 100
            q = shortfall_quote(merchant, start, actual_orders=landing, committed=committed)
            scenarios.append(
                {"pct": pct, "orders": landing, "shortfall": q["shortfall"], "amount": q["amount"]}
            )
    return {
        "month": start,
        "month_to_date": mtd,
        "projected": projected,
        "committed": committed,
        "basis": basis,
        "tier": card.tier_for(basis).name,
        "projected_tier": card.tier_for(projected).name,
        "on_track": committed == 0 or projected >= committed,
        "pct_of_commitment": round(100 * projected / committed) if committed else None,
        "shortfall": shortfall,
        "shortfall_scenarios": scenarios,
    }


def unbilled_total(merchant) -> Decimal:
    agg = (
        ChargeLine.objects.for_merchant(merchant)
        .filter(invoice__isnull=True)
        .aggregate(a=Sum("amount"), t=Sum("tax"))
    )
    return (agg["a"] or ZERO) + (agg["t"] or ZERO)


def open_balance(merchant) -> Decimal:
    total = ZERO
    for inv in Invoice.objects.for_merchant(merchant).filter(
        status__in=[Invoice.Status.OPEN, Invoice.Status.PAST_DUE]
    ):
        total += inv.balance
    return total


def credit_status(merchant) -> tuple[str, str]:
    """("ok" | "warning" | "hold", reason)."""
    account = account_get(merchant)
    past_due = (
        Invoice.objects.for_merchant(merchant)
        .filter(status=Invoice.Status.PAST_DUE)
        .order_by("due_on")
        .first()
    )
    exposure = open_balance(merchant) + unbilled_total(merchant)
    limit = account.credit_limit if account else ZERO
    status, reason = "ok", ""
    if limit > 0 and exposure > limit:
        status, reason = "warning", f"Balance {exposure:.2f} is over the credit limit {limit:.2f}."
    if past_due is not None:
        status, reason = "hold", f"Invoice {past_due.number} is past due (payment failed after retries)."
    elif limit > 0 and exposure > limit * HOLD_FACTOR:
        status, reason = "hold", f"Balance {exposure:.2f} is more than 120% of the credit limit {limit:.2f}."
    if status == "hold" and account is not None and account.credit_hold_override:
        return (
            "warning",
            f"{reason} Release allowed by operator override: {account.credit_hold_override_reason}",
        )
    return status, reason


def credit_hold(merchant) -> bool | str:
    """False when the merchant's new orders may be released; otherwise the reason (a truthy string)."""
    status, reason = credit_status(merchant)
    return reason if status == "hold" else False


def invoice_list(merchant):
    return Invoice.objects.for_merchant(merchant).order_by("-issued_at", "-pk")


def invoice_groups(invoice: Invoice) -> list[dict]:
    """The invoice's lines grouped by category then description, each group explained."""
    groups: dict[str, dict] = {}
    for line in invoice.lines.all().order_by("category", "kind", "occurred_at", "pk"):
        g = groups.setdefault(
            line.category, {"category": line.category, "lines": [], "amount": ZERO, "tax": ZERO}
        )
        g["lines"].append(line)
        g["amount"] += line.amount
        g["tax"] += line.tax
    order = {c: i for i, c in enumerate(pricing.CATEGORIES)}
    return sorted(groups.values(), key=lambda g: order.get(g["category"], 99))


def invoice_summary_rows(invoice: Invoice) -> list[dict]:
    """Lines summed per (category, description, unit price) for the PDF and the page's summary."""
    rows = (
        invoice.lines.values("category", "kind", "description", "unit_price", "tax_rate")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"), tax=Sum("tax"))
        .order_by("category", "kind", "description", "unit_price")
    )
    return list(rows)


def year_statement(merchant, year: int) -> dict:
    invoices = list(Invoice.objects.for_merchant(merchant).filter(issued_at__year=year).order_by("issued_at"))
    by_category = (
        ChargeLine.objects.for_merchant(merchant)
        .filter(invoice__in=invoices)
        .values("category", "tax_rate")
        .annotate(amount=Sum("amount"), tax=Sum("tax"))
        .order_by("category", "tax_rate")
    )
    from billing.models import Payment

    payments = list(
        Payment.objects.for_merchant(merchant)
        .filter(created_at__year=year)
        .select_related("invoice")
        .order_by("created_at")
    )
    return {
        "year": year,
        "invoices": invoices,
        "by_category": list(by_category),
        "payments": payments,
        "billed": sum((i.total for i in invoices), ZERO),
        "tax": sum((i.tax for i in invoices), ZERO),
        "paid": sum((p.amount for p in payments if p.status == "succeeded"), ZERO),
        "refunded": sum((p.amount_refunded for p in payments), ZERO),
    }


def month_days(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


# --- Memoised reads for the per-order estimate (hot path: every order.* event) ------------------------------
# In-process, short TTL, cleared on every write that can change them (``estimate_caches_clear``: card
# publication and commitments through the services, and post_save/post_delete of the rows themselves — see
# ``billing.handlers``). Rate card versions are immutable and dated, so a cached version list picks the same
# version for any instant as the database would; another process's change is seen within the TTL.
ESTIMATE_CACHE_TTL = 60.0
_cards_cache: dict[int, tuple[float, tuple[RateCardVersion, ...], tuple[RateCardVersion, ...]]] = {}
_basis_cache: dict[tuple[int, date], tuple[float, int]] = {}


def estimate_caches_clear(*_args, **_kwargs) -> None:
    _cards_cache.clear()
    _basis_cache.clear()


def volume_basis_forget(merchant_id: int) -> None:
    for key in [k for k in _basis_cache if k[0] == merchant_id]:
        _basis_cache.pop(key, None)


def _card_versions(card: RateCard | None) -> tuple[RateCardVersion, ...]:
    if card is None:
        return ()
    versions = tuple(card.versions.order_by("-effective_from"))
    for v in versions:
        v.card = card
    return versions


def card_in_force_cached(merchant_id: int, at: datetime) -> pricing.RateCard:
    """``card_in_force(merchant, at)``, from a per-merchant memo of the standard and contract card versions."""
    now = time.monotonic()
    hit = _cards_cache.get(merchant_id)
    if hit is None or now - hit[0] > ESTIMATE_CACHE_TTL:
        contract_card = RateCard.objects.filter(kind=RateCard.Kind.CONTRACT, merchant_id=merchant_id).first()
        if len(_cards_cache) > 5000:
            _cards_cache.clear()
        hit = _cards_cache[merchant_id] = (
            now,
            _card_versions(standard_card()),
            _card_versions(contract_card),
        )
    standard = next((v for v in hit[1] if v.effective_from <= at), None)
    contract = next((v for v in hit[2] if v.effective_from <= at), None)
    return card_from_versions(standard, contract)


def volume_basis_cached(merchant_id: int, at: datetime) -> int:
    """``volume_basis(merchant, at)``, memoised per merchant and month."""
    month = month_bounds(at.astimezone(ZoneInfo("UTC")).date())[0]
    now = time.monotonic()
    hit = _basis_cache.get((merchant_id, month))
    if hit is None or now - hit[0] > ESTIMATE_CACHE_TTL:
        if len(_basis_cache) > 5000:
            _basis_cache.clear()
        hit = _basis_cache[(merchant_id, month)] = (now, volume_basis(merchant_id, at))
    return hit[1]
