"""Issue 9: orders ask billing's credit hold (through ``orders.guards``) before releasing new orders; the held
orders go once the merchant pays or an operator overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Invoice, Payment
from orders.guards import release_guards
from orders.models import RELEASE_HOLD, OrderException, OrderStatus
from orders.services import order_release, order_unhold
from tests.billing.test_charges_invoices import order_charges
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def over_limit(merchant_a, standard_card):
    """Exposure 12.35 against a limit of 10.00: more than 120%, so new orders are held."""
    billing.account_update(merchant=merchant_a, credit_limit=D("10.00"), terms_days=30)
    billing.charges_record(merchant=merchant_a, charges=order_charges("old-1"), occurred_at=T0)
    reason = billing_selectors.credit_hold(merchant_a)
    assert reason == "Balance 12.35 is more than 120% of the credit limit 10.00."
    return reason


def _history(order) -> list[tuple[str, str]]:
    from fulfil.audit import audit_list

    return [(e.action, e.message) for e in audit_list(obj_type="order", obj_id=order.pk)]


def test_billing_registers_its_guard():
    assert "billing.credit" in release_guards()


def test_under_the_limit_orders_are_released(merchant_a, stocked, standard_card, run_import):
    billing.account_update(merchant=merchant_a, credit_limit=D("100.00"), terms_days=30)
    order = run_import(merchant_a, canonical("OK-1"))
    assert order.status == OrderStatus.RELEASED
    assert not OrderException.objects.filter(order=order).exists()


def test_over_the_limit_new_orders_are_held_with_the_reason(
    merchant_a, stocked, over_limit, run_import, client_a
):
    order = run_import(merchant_a, canonical("H-1"))
    assert order.status == OrderStatus.ON_HOLD
    assert order.held_from_status == OrderStatus.ALLOCATED
    exc = OrderException.objects.get(order=order)
    assert (exc.reason, exc.detail, exc.blocking, exc.resolved_at) == (
        RELEASE_HOLD,
        f"Credit hold: {over_limit}",
        False,
        None,
    )
    assert ("order.release_blocked", f"Not released: Credit hold: {over_limit}") in _history(order)
    assert order.lines.get().allocated_quantity == 1  # its stock stays reserved while it waits
    page = client_a.get(f"/app/orders/{order.pk}/").content.decode()
    assert "Held before release" in page
    assert f"Credit hold: {over_limit}" in page
    queue = client_a.get("/app/orders/exceptions/").content.decode()
    assert f"Credit hold: {over_limit}" in queue


def test_manual_unhold_while_still_over_the_limit_holds_it_again(
    merchant_a, stocked, over_limit, run_import, after_commit
):
    order = run_import(merchant_a, canonical("H-2"))
    with after_commit():
        order_unhold(order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    open_ = OrderException.objects.filter(order=order, resolved_at__isnull=True)
    assert [(e.reason, e.detail) for e in open_] == [(RELEASE_HOLD, f"Credit hold: {over_limit}")]
    assert OrderException.objects.filter(order=order).count() == 2  # the first one was closed by the unhold


def test_operator_override_releases_the_held_orders(
    merchant_a, stocked, over_limit, run_import, after_commit
):
    held = [run_import(merchant_a, canonical(f"H-{i}")) for i in range(3)]
    assert {o.status for o in held} == {OrderStatus.ON_HOLD}
    with after_commit():
        billing.credit_override_set(merchant=merchant_a, allow=True, reason="paid by wire")
    for order in held:
        order.refresh_from_db()
        assert order.status == OrderStatus.RELEASED
        exc = OrderException.objects.get(order=order)
        assert exc.resolved_at is not None
        assert exc.resolution == "every release check passes again"
        actions = [a for a, _ in _history(order) if a != "order.customer_notified"]
        assert actions[-3:] == ["order.release_blocked", "order.unhold", "order.release"]
    # a new order goes straight through
    assert run_import(merchant_a, canonical("N-1")).status == OrderStatus.RELEASED


def test_override_withdrawn_holds_new_orders_again_but_not_released_ones(
    merchant_a, stocked, over_limit, run_import, after_commit
):
    with after_commit():
        billing.credit_override_set(merchant=merchant_a, allow=True, reason="trusted")
    released = run_import(merchant_a, canonical("R-1"))
    assert released.status == OrderStatus.RELEASED
    with after_commit():
        billing.credit_override_set(merchant=merchant_a, allow=False)
    released.refresh_from_db()
    assert released.status == OrderStatus.RELEASED
    assert run_import(merchant_a, canonical("R-2")).status == OrderStatus.ON_HOLD


def test_payment_of_the_past_due_invoice_releases_the_held_orders(
    merchant_a, stocked, standard_card, run_import, after_commit
):
    billing.charges_record(merchant=merchant_a, charges=order_charges("old-1"), occurred_at=T0)
    invoice = billing.invoice_issue(
        merchant=merchant_a, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1)
    )
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAST_DUE)
    order = run_import(merchant_a, canonical("P-1"))
    assert order.status == OrderStatus.ON_HOLD
    assert OrderException.objects.get(order=order).detail == (
        f"Credit hold: Invoice {invoice.number} is past due (payment failed after retries)."
    )
    invoice.refresh_from_db()
    payment = Payment.objects.create(
        merchant=merchant_a, invoice=invoice, attempt=1, amount=invoice.balance, currency=invoice.currency
    )
    with after_commit():
        billing.payment_succeeded(payment_id=payment.pk, payment_intent_id="pi_test")
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED


def test_manual_release_of_an_allocated_order_is_held_too(
    merchant_a, stocked, over_limit, run_import, after_commit
):
    from orders.models import OrderSettings

    OrderSettings.objects.create(merchant=merchant_a, auto_release=False)
    order = run_import(merchant_a, canonical("M-1"))
    assert order.status == OrderStatus.ALLOCATED
    with after_commit():
        order_release(order=order)
    assert order.status == OrderStatus.ON_HOLD
    assert OrderException.objects.get(order=order).reason == RELEASE_HOLD


def test_batch_path_holds_too(merchant_a, stocked, over_limit, after_commit):
    from orders.models import Order
    from orders.services import order_import_many

    with after_commit():
        results = order_import_many(merchant=merchant_a, orders=[canonical(f"B-{i}") for i in range(3)])
    statuses = {Order.objects.get(pk=o.pk).status for o, _, _ in results}
    assert statuses == {OrderStatus.ON_HOLD}
    assert OrderException.objects.filter(reason=RELEASE_HOLD, resolved_at__isnull=True).count() == 3
