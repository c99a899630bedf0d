"""Demo data: the standard rate card, a contract card for Globex, tax on services in NY, and for Acme some
charge lines (from its shipped orders when the order book has any, else from a demo month's activity) and an
issued invoice. Idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from billing import pricing, services
from billing.models import Invoice, RateCard


def load() -> None:
    from accounts.models import Merchant

    services.standard_card_ensure()
    services.tax_rate_set(jurisdiction="US-NY", rate=Decimal("0.04500"), effective_from=date(2024, 1, 1),
                          name="NY sales tax on services")  # fmt: skip
    globex = Merchant.objects.filter(slug="globex-beauty").first()
    if globex is not None and not RateCard.objects.filter(kind="contract", merchant=globex).exists():
        services.rate_card_publish(
            merchant=globex, name="Globex Beauty enterprise agreement",
            effective_from=datetime(2024, 1, 1, tzinfo=UTC),
            data={"rates": {"fulfillment.order": "2.40", "storage.pallet": "18.00", "handling.fragile": "0.40"},
                  "shipping_markup_pct": "3"},
            notes="12-month agreement, 3,000 orders/month committed",
        )  # fmt: skip
        services.account_update(merchant=globex, cycle="weekly", terms_days=30, credit_limit=Decimal("25000"),
                                tax_jurisdiction="US-NY")  # fmt: skip
        services.commitment_set(merchant=globex, monthly_orders=3000, term="annual",
                                starts_on=timezone.now().date().replace(day=1))  # fmt: skip
    acme = Merchant.objects.filter(slug="acme-outdoor").first()
    if acme is None:
        return
    services.account_ensure(merchant=acme)
    if Invoice.objects.for_merchant(acme).exists():
        return
    last_month_end = timezone.now().date().replace(day=1)
    last_month_start = (last_month_end - timedelta(days=1)).replace(day=1)
    billed = 0
    try:
        from orders.models import Order

        for order in Order.objects.for_merchant(acme).filter(status__in=["shipped", "delivered"])[:20]:
            billed += services.order_charge_shipped(merchant_id=acme.pk, order_id=order.pk)
    except Exception:  # the order book may not have demo data yet
        billed = 0
    if not billed:
        at = datetime.combine(last_month_start + timedelta(days=9), datetime.min.time(), tzinfo=UTC)
        for i in range(12):
            acts = [
                pricing.Activity("fulfillment.order"),
                pricing.Activity("fulfillment.additional_unit", Decimal(i % 3)),
                pricing.Activity("pick.unit", Decimal(1 + i % 3)),
                pricing.Activity("packaging.small_box"),
                pricing.Activity("label.fee"),
                pricing.Activity(
                    "shipping", cost=Decimal("7.45") + Decimal(i) / 4, note="USPS Ground Advantage"
                ),
            ]
            services.charges_record(
                merchant=acme, occurred_at=at + timedelta(days=i),
                charges=[services.Charge(a, f"demo:order:{i}:{a.kind}", source_label=f"Demo order #{1000 + i}")
                         for a in acts],
            )  # fmt: skip
        services.charges_record(
            merchant=acme, occurred_at=at,
            charges=[services.Charge(pricing.Activity("receiving.unit", Decimal(240)), "demo:inbound:1",
                                     source_label="Inbound ASN-1001")],
        )  # fmt: skip
    services.invoice_issue(merchant=acme, period_start=last_month_start, period_end=last_month_end)
