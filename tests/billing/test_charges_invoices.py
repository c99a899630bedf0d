"""Charge lines, invoices, cycles, re-rating, disputes, credit holds, commitments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import pricing, selectors, services
from billing.exceptions import BillingError
from billing.models import ChargeLine, ImmutableError, Invoice, InvoiceCounter, RateCardVersion
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


def order_charges(key: str, cost: str = "7.48"):
    acts = [
        pricing.Activity("fulfillment.order"),
        pricing.Activity("pick.unit", D(2)),
        pricing.Activity("packaging.small_box"),
        pricing.Activity("label.fee"),
        pricing.Activity("shipping", cost=D(cost), note="USPS Ground Advantage"),
    ]
    return [services.Charge(a, f"{key}:{a.kind}", source_label=f"Order {key}") for a in acts]


def test_charges_are_priced_once_and_idempotent(merchant_a, standard_card):
    assert services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0) == 6
    assert services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0) == 0
    lines = ChargeLine.objects.for_merchant(merchant_a)
    assert lines.count() == 6
    assert sorted(str(x.amount) for x in lines) == ["0.10", "0.37", "0.50", "0.65", "3.25", "7.48"]
    assert all(x.rate_versions == [RateCardVersion.objects.get().pk] for x in lines)


def test_charge_lines_are_immutable(merchant_a, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    line = ChargeLine.objects.for_merchant(merchant_a).first()
    line.amount = D("0.01")
    with pytest.raises(ImmutableError):
        line.save()
    assert ChargeLine.objects.get(pk=line.pk).amount != D("0.01")


def test_invoice_issue_groups_lines_and_numbers_are_gap_free(merchant_a, merchant_b, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("a1"), occurred_at=T0)
    services.charges_record(
        merchant=merchant_a, charges=order_charges("a2"), occurred_at=T0 + timedelta(days=1)
    )
    services.charges_record(merchant=merchant_b, charges=order_charges("b1"), occurred_at=T0)
    inv_a = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    inv_b = services.invoice_issue(
        merchant=merchant_b, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    assert inv_a.total == D("24.70")  # 2 × 12.35
    assert inv_a.lines.count() == 12
    assert inv_b.total == D("12.35")
    assert (inv_a.sequence, inv_b.sequence) == (1, 2)
    assert (inv_a.number, inv_b.number) == ("INV-000001", "INV-000002")
    assert InvoiceCounter.objects.get().next_number == 3
    # issuing the same period again returns the same invoice, no new number
    again = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    assert again.pk == inv_a.pk
    assert InvoiceCounter.objects.get().next_number == 3
    # nothing to bill: no invoice, no number used
    assert (
        services.invoice_issue(
            merchant=merchant_a, period_start=date(2025, 4, 1), period_end=date(2025, 5, 1)
        )
        is None
    )
    assert InvoiceCounter.objects.get().next_number == 3
    groups = selectors.invoice_groups(inv_a)
    assert [g["category"] for g in groups] == ["fulfillment", "packaging", "shipping"]
    assert sum(g["amount"] for g in groups) == inv_a.subtotal


def test_rerating_an_old_period_after_a_price_change_gives_the_same_total(merchant_a, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    new = dict(
        pricing.STANDARD_CARD_V1, rates={**pricing.STANDARD_CARD_V1["rates"], "fulfillment.order": "9.99"}
    )
    services.rate_card_publish(data=new, effective_from=T0 + timedelta(days=5), notes="price rise")
    services.charges_record(
        merchant=merchant_a, charges=order_charges("o2"), occurred_at=T0 + timedelta(days=6)
    )
    inv = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    assert inv.total == D("12.35") + D("19.09")
    for line in inv.lines.all():
        assert services.charge_rerate(line).amount == line.amount
    assert sum(services.charge_rerate(x).amount + x.tax for x in inv.lines.all()) == inv.total


def test_rate_card_versions_cannot_be_edited_or_backdated(standard_card):
    version = RateCardVersion.objects.get()
    with pytest.raises(ImmutableError):
        version.save()
    with pytest.raises(BillingError):
        services.rate_card_publish(
            data=pricing.STANDARD_CARD_V1, effective_from=datetime(2023, 1, 1, tzinfo=UTC)
        )
    assert RateCardVersion.objects.count() == 1


def test_contract_card_applies_to_its_merchant_only(merchant_a, merchant_b, standard_card):
    services.rate_card_publish(merchant=merchant_a, data={"rates": {"fulfillment.order": "2.00"}},
                               effective_from=T0 - timedelta(days=1))  # fmt: skip
    assert selectors.card_in_force(merchant_a, T0).rates["fulfillment.order"] == D("2.00")
    assert selectors.card_in_force(merchant_b, T0).rates["fulfillment.order"] == D("3.25")
    assert selectors.card_in_force(merchant_a, T0 - timedelta(days=2)).rates["fulfillment.order"] == D("3.25")


def test_tax_per_line_by_jurisdiction(merchant_a, standard_card):
    services.tax_rate_set(jurisdiction="US-NY", rate=D("0.045"), effective_from=date(2025, 1, 1))
    services.account_update(merchant=merchant_a, tax_jurisdiction="US-NY")
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    inv = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    taxes = sorted(str(x.tax) for x in inv.lines.all())
    assert taxes == ["0.00", "0.02", "0.02", "0.03", "0.15", "0.34"]
    assert inv.tax == D("0.56")
    assert inv.total == D("12.91")


def test_dispute_accepted_becomes_a_credit_on_the_next_invoice(merchant_a, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    inv = services.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    line = inv.lines.get(kind="packaging.small_box")
    dispute = services.line_dispute_open(merchant=merchant_a, line=line, reason="Shipped in a poly mailer")
    with pytest.raises(BillingError):
        services.line_dispute_open(merchant=merchant_a, line=line, reason="again")
    services.line_dispute_resolve(dispute=dispute, accept=True, resolution="Correct, wrong box billed")
    credit = ChargeLine.objects.get(corrects=line)
    assert credit.amount == D("-0.65")
    assert credit.invoice is None
    line.refresh_from_db()
    assert line.amount == D("0.65")  # the original is never edited
    tomorrow = date.today() + timedelta(days=1)  # the credit is dated when it was granted
    nxt = services.invoice_issue(merchant=merchant_a, period_start=date(2025, 4, 1), period_end=tomorrow)
    assert nxt.total == D("-0.65")
    assert nxt.status == Invoice.Status.PAID  # a credit-only invoice owes nothing


def test_dispute_of_another_merchants_line_is_refused(merchant_a, merchant_b, standard_card):
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    line = ChargeLine.objects.for_merchant(merchant_a).first()
    with pytest.raises(BillingError):
        services.line_dispute_open(merchant=merchant_b, line=line, reason="not mine")


def test_cycles_issue_due_and_advance(merchant_a, standard_card):
    account = services.account_ensure(merchant=merchant_a, today=date(2025, 3, 1))
    services.account_update(merchant=merchant_a, cycle="weekly")
    services.charges_record(
        merchant=merchant_a, charges=order_charges("o1"), occurred_at=datetime(2025, 3, 2, tzinfo=UTC)
    )
    services.charges_record(
        merchant=merchant_a, charges=order_charges("o2"), occurred_at=datetime(2025, 3, 9, tzinfo=UTC)
    )
    ids = services.invoices_issue_due(today=date(2025, 3, 16))
    assert len(ids) == 2
    invoices = list(Invoice.objects.for_merchant(merchant_a).order_by("period_start"))
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (date(2025, 3, 1), date(2025, 3, 8)),
        (date(2025, 3, 8), date(2025, 3, 15)),
    ]
    account.refresh_from_db()
    assert account.next_cycle_start == date(2025, 3, 15)
    assert services.invoices_issue_due(today=date(2025, 3, 16)) == []


def test_credit_hold_when_far_over_the_limit_and_operator_override(merchant_a, standard_card):
    services.account_update(merchant=merchant_a, credit_limit=D("20.00"), terms_days=30)
    assert selectors.credit_hold(merchant_a) is False
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=T0)
    services.charges_record(merchant=merchant_a, charges=order_charges("o2", cost="0.00"), occurred_at=T0)
    # 12.35 + 4.50 = 16.85 (under the limit)
    assert selectors.credit_status(merchant_a)[0] == "ok"
    services.charges_record(merchant=merchant_a, charges=order_charges("o3", cost="0.00"), occurred_at=T0)
    assert selectors.credit_status(merchant_a)[0] == "warning"  # 21.35 > 20
    assert selectors.credit_hold(merchant_a) is False
    services.charges_record(merchant=merchant_a, charges=order_charges("o4", cost="0.00"), occurred_at=T0)
    reason = selectors.credit_hold(merchant_a)  # 25.85 > 24 (120%)
    assert isinstance(reason, str)
    assert "120%" in reason
    services.credit_override_set(merchant=merchant_a, allow=True, reason="paid by wire, clearing")
    assert selectors.credit_hold(merchant_a) is False
    assert selectors.credit_status(merchant_a)[0] == "warning"


def test_commitment_unlocks_tier_and_mid_term_change_is_pro_rated(merchant_a, standard_card):
    services.commitment_set(merchant=merchant_a, monthly_orders=2000, starts_on=date(2025, 3, 1))
    at = datetime(2025, 3, 10, tzinfo=UTC)
    assert selectors.volume_basis(merchant_a, at) == 2000
    assert (
        selectors.card_in_force(merchant_a, at).tier_for(selectors.volume_basis(merchant_a, at)).name
        == "Scale"
    )
    services.charges_record(merchant=merchant_a, charges=order_charges("o1"), occurred_at=at)
    line = ChargeLine.objects.get(kind="fulfillment.order")
    assert (line.tier, line.amount) == ("Scale", D("2.65"))
    # change on April 16th: April's commitment = 2000 × 15/30 + 600 × 15/30 = 1300
    services.commitment_set(merchant=merchant_a, monthly_orders=600, starts_on=date(2025, 4, 16))
    assert selectors.committed_orders(merchant_a, date(2025, 4, 1)) == 1300
    assert selectors.committed_orders(merchant_a, date(2025, 5, 1)) == 600


def test_forecast_projects_the_month(merchant_a, standard_card):
    services.commitment_set(merchant=merchant_a, monthly_orders=100, starts_on=date(2025, 3, 1))
    for i in range(10):
        services.charges_record(merchant=merchant_a, charges=order_charges(f"o{i}"),
                                occurred_at=datetime(2025, 3, 1 + i, tzinfo=UTC))  # fmt: skip
    f = selectors.forecast(merchant_a, now=datetime(2025, 3, 11, tzinfo=UTC))
    assert f["month_to_date"] == 10
    assert f["projected"] == 31  # 10 orders in 10 days → 31 in March
    assert f["committed"] == 100
    assert f["on_track"] is False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tz=st.sampled_from(
        ["UTC", "America/Los_Angeles", "America/New_York", "Pacific/Auckland", "Asia/Kolkata"]
    ),
    cycle=st.sampled_from(["weekly", "biweekly", "monthly"]),
    offsets=st.lists(st.integers(min_value=0, max_value=60 * 24 * 70), min_size=1, max_size=25),
    late=st.lists(st.integers(min_value=0, max_value=24), max_size=5),
)
def test_no_charge_billed_twice_or_lost_across_cycles_and_time_zones(tz, cycle, offsets, late, standard_card):
    """Charges at random minutes over ten weeks in a merchant's time zone, some recorded late (after their
    period's invoice was issued): every line ends on exactly one invoice; invoice totals equal their lines."""
    membership = MembershipFactory()
    m = membership.merchant
    m.timezone = tz
    m.save()
    services.account_ensure(merchant=m, today=date(2025, 1, 1))
    services.account_update(merchant=m, cycle=cycle)
    start = datetime(2025, 1, 1, tzinfo=ZoneInfo(tz))
    keys = []
    for i, minutes in enumerate(offsets):
        services.charges_record(merchant=m, charges=order_charges(f"x{i}")[:1],
                                occurred_at=start + timedelta(minutes=minutes))  # fmt: skip
        keys.append(f"x{i}")
    services.invoices_issue_due(today=date(2025, 2, 20), merchant_ids=[m.pk])
    for j, day in enumerate(late):  # late events with an old timestamp
        services.charges_record(merchant=m, charges=order_charges(f"late{j}")[:1],
                                occurred_at=start + timedelta(days=day))  # fmt: skip
    services.invoices_issue_due(today=date(2025, 4, 1), merchant_ids=[m.pk])
    lines = ChargeLine.objects.for_merchant(m)
    assert lines.count() == len(offsets) + len(late)
    assert not lines.filter(
        invoice__isnull=True, occurred_at__lt=datetime(2025, 3, 1, tzinfo=ZoneInfo(tz))
    ).exists()
    total = D(0)
    for inv in Invoice.objects.for_merchant(m):
        assert inv.total == sum((x.amount + x.tax for x in inv.lines.all()), D(0))
        end = datetime(inv.period_end.year, inv.period_end.month, inv.period_end.day, tzinfo=ZoneInfo(tz))
        assert not inv.lines.filter(occurred_at__gte=end).exists()
        total += inv.total
    assert total == sum((x.amount for x in lines if x.invoice_id), D(0))
    numbers = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))  # gap-free across all merchants
