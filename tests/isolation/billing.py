from datetime import UTC, date, datetime

from tests.isolation import Case

T0 = datetime(2025, 3, 10, tzinfo=UTC)


def _invoice(merchant):
    from billing import pricing, services

    services.standard_card_ensure()
    services.charges_record(
        merchant=merchant, occurred_at=T0,
        charges=[services.Charge(pricing.Activity("fulfillment.order"), f"iso:{merchant.pk}",
                                 source_label=f"Order ISO-{merchant.slug}")],
    )  # fmt: skip
    return services.invoice_issue(
        merchant=merchant, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )


def _line(merchant):
    return _invoice(merchant).lines.get()


def _method(merchant):
    from billing.models import PaymentMethod

    return PaymentMethod.objects.create(merchant=merchant, stripe_payment_method_id=f"pm_iso_{merchant.pk}",
                                        brand="visa", last4="9876", is_default=True)  # fmt: skip


def _bank_method(merchant):
    from billing.models import PaymentMethod

    return PaymentMethod.objects.create(
        merchant=merchant, stripe_payment_method_id=f"pm_iso_bank_{merchant.pk}", type="us_bank_account",
        status="pending_verification", stripe_setup_intent_id=f"seti_iso_{merchant.pk}", brand="ISO BANK",
        last4=f"{5000 + merchant.pk % 1000:04d}"[-4:], microdeposit_type="descriptor_code",
    )  # fmt: skip


def _order_cost(merchant):
    from billing import services
    from orders.models import Order

    services.standard_card_ensure()
    order = Order.objects.create(merchant=merchant, external_id="iso-1", number=f"ISO-ORDER-{merchant.pk}",
                                 ship_to_postal_code="10001")  # fmt: skip
    return services.order_cost_estimate(merchant_id=merchant.pk, order_id=order.pk)


def _estimate(merchant):
    from billing.models import SavedEstimate

    return SavedEstimate.objects.create(
        inputs={}, summary={"per_order": "1.00", "monthly": "9.00"}, merchant=merchant
    )


def _commitment(merchant):
    from billing import services

    return services.commitment_set(merchant=merchant, monthly_orders=4321, starts_on=date(2025, 1, 1))


def _commitment_period(merchant):
    from datetime import UTC, datetime

    from billing import services

    services.standard_card_ensure()
    services.commitment_set(merchant=merchant, monthly_orders=4242, starts_on=date(2025, 1, 1))
    return services.commitment_period_close(merchant=merchant, month_start=date(2025, 1, 1),
                                            now=datetime(2025, 2, 2, tzinfo=UTC))  # fmt: skip


def _notice(merchant):
    from billing import services

    return services.notice_add(merchant=merchant, kind="test", message=f"Secret notice for {merchant.slug}")


CASES = [
    Case(
        name="billing invoice",
        make=_invoice,
        marker=lambda inv: inv.number,
        html_detail=lambda inv: f"/app/billing/invoices/{inv.pk}/",
        html_lists=["/app/billing/invoices/", "/app/billing/", "/app/billing/statements/"],
        api_detail=lambda inv: f"/api/v1/invoices/{inv.pk}/",
        api_lists=["/api/v1/invoices/"],
        api_writes=[("post", lambda inv: f"/app/billing/invoices/{inv.pk}/pay/", {})],
    ),
    Case(
        name="billing invoice pdf",
        make=_invoice,
        marker=lambda inv: f"ISO-INVOICE-PDF-{inv.pk}",
        html_detail=lambda inv: f"/app/billing/invoices/{inv.pk}/pdf/",
        api_detail=lambda inv: f"/api/v1/invoices/{inv.pk}/pdf/",
    ),
    Case(
        name="billing charge line",
        make=_line,
        marker=lambda line: line.source_label,
        html_detail=lambda line: f"/app/billing/lines/{line.pk}/",
        api_writes=[("post", lambda line: f"/app/billing/lines/{line.pk}/dispute/", {"reason": "x"})],
    ),
    Case(
        name="billing payment method",
        make=_method,
        marker=lambda m: "9876",
        html_lists=["/app/billing/payment-methods/", "/app/billing/"],
        api_writes=[
            ("post", lambda m: f"/app/billing/payment-methods/{m.pk}/default/", {}),
            ("post", lambda m: f"/app/billing/payment-methods/{m.pk}/remove/", {}),
        ],
    ),
    Case(
        name="billing bank account (pending verification)",
        make=_bank_method,
        marker=lambda m: f"•••• {m.last4}",
        html_detail=lambda m: f"/app/billing/payment-methods/{m.pk}/verify/",
        html_lists=["/app/billing/payment-methods/"],
        api_writes=[
            ("post", lambda m: f"/app/billing/payment-methods/{m.pk}/verify/", {"descriptor_code": "SM11AA"})
        ],
    ),
    Case(
        name="billing order cost",
        make=_order_cost,
        marker=lambda c: c.order_number,
        html_lists=["/app/billing/costs/"],
        api_detail=lambda c: f"/api/v1/orders/{c.order_id}/costs/",
    ),
    Case(
        name="billing order cost panel",
        make=_order_cost,
        marker=lambda c: f'cost-estimated-total">{c.estimated_total}<',
        html_detail=lambda c: f"/app/billing/orders/{c.order_id}/cost/",
    ),
    Case(
        name="billing saved estimate",
        make=_estimate,
        marker=lambda e: e.token,
        html_lists=["/app/billing/estimates/"],
    ),
    Case(
        name="billing commitment",
        make=_commitment,
        marker=lambda c: "4321",
        html_lists=["/app/billing/volume/"],
    ),
    Case(
        name="billing commitment period (shortfall)",
        make=_commitment_period,
        marker=lambda p: str(p.charge_line.amount),
        html_lists=["/app/billing/volume/"],
        api_lists=["/api/v1/volume/"],
        html_detail=lambda p: f"/app/billing/lines/{p.charge_line_id}/",
    ),
    Case(
        name="billing notice",
        make=_notice,
        marker=lambda n: n.message,
        html_lists=["/app/billing/"],
    ),
]
