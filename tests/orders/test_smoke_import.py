from decimal import Decimal

import pytest

from orders.canonical import CanonicalAddress, CanonicalLine, CanonicalOrder
from orders.exceptions import IllegalTransition
from orders.models import Order
from orders.services import order_cancel, order_hold, order_import, order_unhold

pytestmark = pytest.mark.django_db


def canonical(**kw):
    base = dict(
        channel="api",
        external_id="A-1",
        lines=(CanonicalLine(sku="SKU-1", quantity=2, unit_price=Decimal("10.00")),),
        ship_to=CanonicalAddress(
            name="Ann", street1="1 Main", city="Boston", state="ma", postal_code="02110"
        ),
    )
    base.update(kw)
    return CanonicalOrder(**base)


def test_import_is_idempotent(merchant_a):
    order, created = order_import(merchant=merchant_a, order=canonical())
    again, created2 = order_import(merchant=merchant_a, order=canonical())
    assert created
    assert not created2
    assert order.pk == again.pk
    assert Order.objects.count() == 1
    assert order.ship_to_state == "MA"
    assert order.total == Decimal("20.00")


def test_hold_unhold_cancel(merchant_a):
    order, _ = order_import(merchant=merchant_a, order=canonical())
    order_hold(order=order)
    assert order.status == "on_hold"
    with pytest.raises(IllegalTransition):
        order_hold(order=order)
    order_unhold(order=order)
    assert order.status == "new"
    order_cancel(order=order)
    assert order.status == "cancelled"
    assert order.refund_due == Decimal("20.00")
