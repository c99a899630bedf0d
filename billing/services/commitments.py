"""Volume commitments at month end: a missed commitment is billed as a shortfall charge (take-or-pay).

Policy (what 3PL contracts commonly do, and what we do): a commitment of N orders a month unlocks the tier for N
from the first charge of the month. If the month — a calendar month in the merchant's time zone — ends with fewer
orders shipped than committed (pro-rated by days when the commitment starts, ends or changes mid-month), the
committed orders not shipped are billed at the per-order fulfillment rate of the tier the month was priced at:
the merchant pays the minimum it committed to, and the discounted rates it already paid are not clawed back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from billing import selectors
from billing.models import BillingAccount, ChargeLine, CommitmentPeriod, VolumeCommitment
from billing.services.cards import account_ensure
from billing.services.charges import Charge, RatingContext, charges_record
from fulfil.audit import audit_record

log = logging.getLogger(__name__)


def _local_midnight(day, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))


def commitment_period_close(*, merchant, month_start, now: datetime | None = None) -> CommitmentPeriod | None:
    """Close one commitment month once it has ended in the merchant's time zone: record what was committed and
    shipped and, on a shortfall, one immutable charge line linked to the period. Idempotent (one period per
    merchant and month, one line per period key); ``None`` when the month is not over or had no commitment."""
    now = now or timezone.now()
    tz = merchant.timezone or "UTC"
    _, month_end = selectors.month_bounds(month_start)
    if now < _local_midnight(month_end, tz):
        return None
    committed, ids, cov_start, cov_end = selectors.commitment_coverage(merchant, month_start)
    if not committed:
        return None
    with transaction.atomic():
        BillingAccount.objects.select_for_update().filter(pk=account_ensure(merchant=merchant).pk).first()
        existing = CommitmentPeriod.objects.filter(merchant=merchant, month=month_start).first()
        if existing is not None:
            return existing
        actual = selectors.orders_between(
            merchant, _local_midnight(cov_start, tz), _local_midnight(cov_end, tz)
        )
        quote = selectors.shortfall_quote(
            merchant, month_start, actual_orders=actual, committed=committed, tax=True
        )
        period = CommitmentPeriod.objects.create(
            merchant=merchant, month=month_start, time_zone=tz, committed_orders=committed, actual_orders=actual,
            shortfall_orders=quote["shortfall"], tier=quote["tier"], volume_basis=quote["basis"], commitment_ids=ids,
            closed_at=now,
        )  # fmt: skip
        line_id = None
        if quote["shortfall"] > 0:
            key = f"commitment:{month_start:%Y-%m}"
            ctx = RatingContext(card=quote["card"], basis=quote["basis"], tax=quote["taxes"])
            charges_record(
                merchant=merchant, ctx=ctx,
                occurred_at=_local_midnight(month_end, tz) - timedelta(seconds=1),
                charges=[Charge(quote["activity"], key, source_id=str(period.pk),
                                source_type_id=ContentType.objects.get_for_model(CommitmentPeriod).pk,
                                source_label=f"Volume commitment {month_start:%b %Y}")],
            )  # fmt: skip
            line_id = ChargeLine.objects.get(merchant=merchant, source_key=key).pk
            CommitmentPeriod.objects.filter(pk=period.pk).update(
                charge_line_id=line_id
            )  # set once, at creation
            period.charge_line_id = line_id
        audit_record(obj_type="billing.commitmentperiod", obj_id=period.pk, action="closed", merchant_id=merchant.pk,
                     after={"month": month_start, "committed": committed, "actual": actual,
                            "shortfall": quote["shortfall"], "amount": quote["amount"] if line_id else 0,
                            "charge_line": line_id})  # fmt: skip
    return period


def commitment_periods_close(
    *, now: datetime | None = None, merchant_ids: list[int] | None = None
) -> list[int]:
    """The month-end run (Celery beat, before invoicing): every merchant with a commitment gets each ended
    month closed, catching up missed runs. Returns the ids of periods closed now."""
    now = now or timezone.now()
    closed: list[int] = []
    merchants = {c.merchant_id: c.merchant for c in VolumeCommitment.objects.select_related("merchant")}
    if merchant_ids is not None:
        merchants = {k: v for k, v in merchants.items() if k in merchant_ids}
    for merchant in merchants.values():
        commitments = list(VolumeCommitment.objects.for_merchant(merchant))
        first = min(c.starts_on for c in commitments).replace(day=1)
        this_month, _, _ = selectors.local_month(merchant, now)
        open_ended = any(c.ends_on is None for c in commitments)
        last = this_month if open_ended else min(this_month, max(c.ends_on for c in commitments))
        done = set(CommitmentPeriod.objects.for_merchant(merchant).values_list("month", flat=True))
        month = first
        while month < last:
            if month not in done:
                try:
                    period = commitment_period_close(merchant=merchant, month_start=month, now=now)
                except Exception:  # one merchant's failure never blocks the others (or the invoice run)
                    log.exception("billing: closing %s's commitment month %s failed", merchant.pk, month)
                    break
                if period is not None and period.closed_at == now:
                    closed.append(period.pk)
            month = selectors.month_bounds(month)[1]
    return closed
