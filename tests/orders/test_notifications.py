"""Customer emails in the merchant's name, switchable per merchant."""

import pytest

from orders.models import OrderSettings
from orders.services import order_cancel, order_mark_packed, order_mark_shipped, order_start_picking
from tests.orders.conftest import canonical

pytestmark = pytest.mark.django_db


def test_received_shipped_cancelled_emails_in_merchant_name(
    merchant_a, stocked, run_import, after_commit, mailoutbox
):
    order = run_import(merchant_a, canonical(customer_email="ann@example.com"))
    assert [m.subject for m in mailoutbox] == [f"Your order {order.number} is being prepared"]
    assert mailoutbox[0].from_email.startswith(f'"{merchant_a.name}"') or mailoutbox[0].from_email.startswith(
        merchant_a.name
    )
    assert mailoutbox[0].to == ["ann@example.com"]
    with after_commit():
        order_start_picking(order=order)
        order_mark_packed(order=order)
        order_mark_shipped(order=order)
    assert mailoutbox[-1].subject == f"Your order {order.number} has shipped"
    other = run_import(merchant_a, canonical("X-2", customer_email="bo@example.com"))
    with after_commit():
        order_cancel(order=other)
    assert mailoutbox[-1].subject == f"Your order {other.number} was cancelled"
    assert "10.00" in mailoutbox[-1].body


def test_backordered_email_and_switch_off(merchant_a, stocked, run_import, mailoutbox):
    run_import(merchant_a, canonical("B-1", lines=(("STOVE", 9),)))
    assert mailoutbox[-1].subject.endswith("is delayed")
    OrderSettings.objects.create(merchant=merchant_a, notify_backordered=False, notify_received=False)
    count = len(mailoutbox)
    run_import(merchant_a, canonical("B-2", lines=(("STOVE", 9),)))
    assert len(mailoutbox) == count
