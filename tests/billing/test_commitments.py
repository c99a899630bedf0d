"""A missed volume commitment is billed at month end as a shortfall (take-or-pay), priced by the one pricing
function, closed in the merchant's time zone, once; the tracker forecasts it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import pricing, selectors, services
from billing.models import ChargeLine, CommitmentPeriod, ImmutableError

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def ship_orders(merchant, n: int, at: datetime, prefix: str = "o") -> None:
    """``n`` shipped orders (their ``fulfillment.order`` lines are what volume counts) at ``at``."""
    charges = [
        services.Charge(
            pricing.Activity("fulfillment.order"), f"{prefix}{at:%Y%m%d%H%M}-{i}", source_label="Order"
        )
        for i in range(n)
    ]
    services.charges_record(merchant=merchant, charges=charges, occurred_at=at)


def test_shortfall_is_priced_at_the_tier_order_rate_by_the_pricing_function():
    card = pricing.standard_card()
    act = pricing.Activity(
        pricing.SHORTFALL_KIND, quantity=D(400), note="Mar 2025: committed 2,000, shipped 1,600"
    )
    priced = pricing.price([act], card=card, monthly_orders=2000)
    (line,) = priced.lines
    assert (line.category, line.unit_price, line.amount, priced.tier.name) == (
        "fulfillment",
        D("2.65"),
        D("1060.00"),
        "Scale",
    )
    assert line.description == "Volume commitment shortfall — Mar 2025: committed 2,000, shipped 1,600"
    # a contract card's own order rate is what a shortfall costs under it
    contract = pricing.card_from_data(pricing.STANDARD_CARD_V1, overrides={"tiers": [
        {"name": "Enterprise custom", "min_orders": 0, "rates": {"fulfillment.order": "1.99"}}]})  # fmt: skip
    assert pricing.price([act], card=contract, monthly_orders=2000).lines[0].amount == D("796.00")


@settings(max_examples=60, deadline=None)
@given(
    committed=st.integers(min_value=1, max_value=30_000), actual=st.integers(min_value=0, max_value=40_000)
)
def test_shortfall_property(committed, actual):
    """Zero iff the commitment is met; otherwise exactly (committed − actual) × the tier's order rate, rounded
    once; never more for more orders shipped."""
    card = pricing.standard_card()

    def amount(shipped):
        act = pricing.Activity(pricing.SHORTFALL_KIND, quantity=D(max(0, committed - shipped)))
        return pricing.price([act], card=card, monthly_orders=committed).lines[0].amount

    rate = card.rate("fulfillment.order", card.tier_for(committed))
    assert amount(actual) == (D(max(0, committed - actual)) * rate).quantize(D("0.01"))
    assert (amount(actual) == 0) == (actual >= committed)
    assert amount(actual + 1) <= amount(actual)


def test_missed_month_is_closed_in_the_merchants_time_zone_once(merchant_a, standard_card, client_a):
    merchant_a.timezone = "America/Los_Angeles"
    merchant_a.save(update_fields=["timezone"])
    services.commitment_set(merchant=merchant_a, monthly_orders=600, starts_on=date(2025, 3, 1))
    ship_orders(merchant_a, 400, datetime(2025, 3, 10, 12, tzinfo=LA))
    # 23:30 on March 31st in Los Angeles is already April 1st in UTC: it still counts for March
    ship_orders(merchant_a, 50, datetime(2025, 3, 31, 23, 30, tzinfo=LA))
    # 00:30 on April 1st in Los Angeles is April: not March's volume
    ship_orders(merchant_a, 70, datetime(2025, 4, 1, 0, 30, tzinfo=LA))

    # 23:59 on March 31st in Los Angeles (06:59 UTC on April 1st): the month is not over there yet
    assert services.commitment_periods_close(now=datetime(2025, 4, 1, 6, 59, tzinfo=UTC)) == []
    assert CommitmentPeriod.objects.count() == 0

    closed_at = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)  # midnight in Los Angeles
    (pk,) = services.commitment_periods_close(now=closed_at)
    period = CommitmentPeriod.objects.get(pk=pk)
    assert (period.month, period.time_zone) == (date(2025, 3, 1), "America/Los_Angeles")
    assert (period.committed_orders, period.actual_orders, period.shortfall_orders) == (600, 450, 150)
    assert (period.tier, period.volume_basis) == ("Growth", 600)
    line = period.charge_line
    assert (line.kind, line.category, line.quantity, line.unit_price, line.amount) == (
        "commitment.shortfall", "fulfillment", D("150"), D("2.95"), D("442.50"))  # fmt: skip
    assert line.description == "Volume commitment shortfall — Mar 2025: committed 600 orders, shipped 450"
    assert line.source == period
    assert line.source_label == "Volume commitment Mar 2025"
    assert line.occurred_at == datetime(2025, 3, 31, 23, 59, 59, tzinfo=LA)
    assert services.charge_rerate(line).amount == line.amount  # re-computes from its stored inputs

    # idempotent: another run (or a retried task) changes nothing
    assert services.commitment_periods_close(now=closed_at + timedelta(hours=1)) == []
    assert services.commitment_period_close(merchant=merchant_a, month_start=date(2025, 3, 1)).pk == pk
    assert ChargeLine.objects.filter(kind="commitment.shortfall").count() == 1
    with pytest.raises(ImmutableError):
        period.save()

    # it is on March's invoice, with its explanation
    invoice = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    assert invoice.lines.filter(kind="commitment.shortfall").get().pk == line.pk
    assert invoice.subtotal == D("450") * D("2.95") + D("442.50")
    page = client_a.get(f"/app/billing/lines/{line.pk}/").content.decode()
    assert "You committed to <strong>600</strong> orders in March 2025" in page
    assert "shipped <strong>450</strong>" in page
    assert "take-or-pay" in page
    volume = client_a.get("/app/billing/volume/").content.decode()
    assert f'<a href="/app/billing/lines/{line.pk}/">$442.50</a>' in volume


def test_met_commitment_records_the_period_without_a_charge(merchant_a, standard_card):
    services.commitment_set(merchant=merchant_a, monthly_orders=500, starts_on=date(2025, 3, 1))
    ship_orders(merchant_a, 500, datetime(2025, 3, 5, tzinfo=UTC))
    (pk,) = services.commitment_periods_close(now=datetime(2025, 4, 2, tzinfo=UTC))
    period = CommitmentPeriod.objects.get(pk=pk)
    assert (period.shortfall_orders, period.charge_line) == (0, None)
    assert ChargeLine.objects.filter(kind="commitment.shortfall").count() == 0


def test_mid_term_change_is_pro_rated_and_catch_up_closes_each_month(merchant_a, standard_card):
    services.commitment_set(merchant=merchant_a, monthly_orders=3100, starts_on=date(2025, 3, 1))
    # from March 17th: 3100 × 16/31 + 1550 × 15/31 = 1600 + 750 = 2350 committed for March
    services.commitment_set(merchant=merchant_a, monthly_orders=1550, starts_on=date(2025, 3, 17))
    ship_orders(merchant_a, 2000, datetime(2025, 3, 20, tzinfo=UTC))
    ship_orders(merchant_a, 1550, datetime(2025, 4, 20, tzinfo=UTC))
    # a run missed at the end of March: May 2nd's run closes March and April
    closed = services.commitment_periods_close(now=datetime(2025, 5, 2, tzinfo=UTC))
    march, april = (CommitmentPeriod.objects.get(pk=pk) for pk in closed)
    assert (march.month, march.committed_orders, march.actual_orders, march.shortfall_orders) == (
        date(2025, 3, 1), 2350, 2000, 350)  # fmt: skip
    assert (march.tier, march.charge_line.unit_price, march.charge_line.amount) == (
        "Scale",
        D("2.65"),
        D("927.50"),
    )
    assert (april.committed_orders, april.shortfall_orders, april.charge_line) == (1550, 0, None)


def test_tracker_forecasts_the_shortfall(merchant_a, standard_card, client_a):
    services.commitment_set(merchant=merchant_a, monthly_orders=2000, starts_on=date(2025, 3, 1))
    for day in range(1, 11):
        ship_orders(merchant_a, 52, datetime(2025, 3, day, 10, tzinfo=UTC))
    # 520 orders in 10 days → 1,612 in March; 388 short at the Scale rate $2.65
    f = selectors.forecast(merchant_a, now=datetime(2025, 3, 11, tzinfo=UTC))
    assert (f["month_to_date"], f["projected"], f["committed"]) == (520, 1612, 2000)
    s = f["shortfall"]
    assert (s["shortfall"], s["tier"], s["rate"], s["amount"]) == (388, "Scale", D("2.65"), D("1028.20"))
    assert [(r["pct"], r["orders"], r["amount"]) for r in f["shortfall_scenarios"]] == [
        (50, 1000, D("2650.00")), (75, 1500, D("1325.00")), (90, 1800, D("530.00")), (100, 2000, D("0.00"))]  # fmt: skip
    # the page says it in words, and the close bills what the forecast said for the same landing
    page = client_a.get("/app/billing/volume/").content.decode()
    assert "shortfall" in page
    for day in range(11, 32):
        ship_orders(merchant_a, 52 if day < 31 else 0, datetime(2025, 3, day, 10, tzinfo=UTC), prefix="p")
    period = services.commitment_period_close(merchant=merchant_a, month_start=date(2025, 3, 1),
                                              now=datetime(2025, 4, 1, 1, tzinfo=UTC))  # fmt: skip
    q = selectors.shortfall_quote(merchant_a, date(2025, 3, 1), actual_orders=period.actual_orders)
    assert period.actual_orders == 1560
    assert period.charge_line.amount == q["amount"] == D("1166.00")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tz=st.sampled_from(
        ["UTC", "America/Los_Angeles", "Pacific/Auckland", "Asia/Kolkata", "Pacific/Honolulu"]
    ),
    committed=st.integers(min_value=1, max_value=40),
    offsets=st.lists(st.integers(min_value=-36 * 60, max_value=36 * 60), max_size=30),
)
def test_close_counts_exactly_the_orders_of_the_local_month(tz, committed, offsets, standard_card):
    """Orders within a day and a half either side of the local month end: the period counts exactly those whose
    local date is in the month, and bills (committed − counted)+ at the order rate — whatever the time zone."""
    from tests.factories import MerchantFactory

    merchant = MerchantFactory(timezone=tz)
    services.commitment_set(merchant=merchant, monthly_orders=committed, starts_on=date(2025, 3, 1))
    boundary = datetime(2025, 4, 1, tzinfo=ZoneInfo(tz))
    for i, minutes in enumerate(offsets):
        at = boundary + timedelta(minutes=minutes)
        services.charges_record(merchant=merchant, occurred_at=at, charges=[
            services.Charge(pricing.Activity("fulfillment.order"), f"b{i}", source_label="Order")])  # fmt: skip
    in_march = sum(1 for m in offsets if m < 0)  # offsets reach back only to March 30th
    assert (
        services.commitment_periods_close(now=boundary - timedelta(seconds=1), merchant_ids=[merchant.pk])
        == []
    )
    (pk,) = services.commitment_periods_close(now=boundary + timedelta(days=2), merchant_ids=[merchant.pk])
    period = CommitmentPeriod.objects.get(pk=pk)
    assert (period.committed_orders, period.actual_orders) == (committed, in_march)
    short = max(0, committed - in_march)
    assert period.shortfall_orders == short
    if short:
        assert period.charge_line.amount == D(short) * D(
            "3.25"
        )  # Starter: under 500 committed, no prior volume
    else:
        assert period.charge_line is None


def test_volume_api_tracks_the_commitment_and_its_shortfall(merchant_a, api_a, standard_card):
    from django.utils import timezone

    this_month = timezone.now().date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    services.commitment_set(merchant=merchant_a, monthly_orders=2000, starts_on=last_month)
    ship_orders(merchant_a, 1500, datetime(last_month.year, last_month.month, 10, tzinfo=UTC))
    services.commitment_periods_close()
    body = api_a.get("/api/v1/volume/").json()
    assert (body["month"], body["committed"], body["tier"], body["currency"]) == (
        this_month.isoformat(), 2000, "Scale", "USD")  # fmt: skip
    assert (body["shortfall"]["tier"], body["shortfall"]["rate"]) == ("Scale", "2.65")
    assert body["shortfall"]["orders_short"] == 2000 - body["projected"]
    assert [(r["pct_of_commitment"], r["amount"]) for r in body["scenarios"]] == [
        (50, "2650.00"), (75, "1325.00"), (90, "530.00"), (100, "0.00")]  # fmt: skip
    (period,) = body["periods"]
    assert (period["month"], period["committed_orders"], period["actual_orders"], period["shortfall_orders"],
            period["amount"]) == (last_month.isoformat(), 2000, 1500, 500, "1325.00")  # fmt: skip
    assert ChargeLine.objects.get(pk=period["charge_line_id"]).kind == "commitment.shortfall"
