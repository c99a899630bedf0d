"""Privacy: a customer's personal data is erased from the order book (now for finished orders, on finishing
for orders in flight), every copy included, and the order keeps working. Data export of one customer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from fulfil.models import AuditEntry, OutboxEvent
from orders.models import Order, OrderException, OrderLine
from orders.models import OrderStatus as S
from orders.services import (
    customer_data_export,
    customer_redact,
    order_change_address,
    order_mark_delivered,
    order_mark_shipped,
    order_redact_customer,
)
from orders.services.redaction import REDACTED, redaction_state

pytestmark = pytest.mark.django_db

PII = [
    "Ann Lee",
    "Lee Outdoor LLC",
    "1 Main St",
    "Apt 4",
    "Boston",
    "ann@mail.example.com",
    "+1 617 555 0100",
    "Bill Payer",
    "9 Bill Rd",
    "Leave at the back door",
    "Happy birthday Ann",
    "02110-1234",
]


def make_order(
    merchant, *, external_id="1001", status=S.SHIPPED, channel="shopify", email=PII[5], account="acme"
):
    order = Order.objects.create(
        merchant=merchant,
        channel=channel,
        channel_account=f"{account}.myshopify.com",
        external_id=external_id,
        number=f"#{external_id}",
        status=status,
        customer_name="Ann Lee",
        customer_email=email,
        ship_to_name="Ann Lee",
        ship_to_company="Lee Outdoor LLC",
        ship_to_street1="1 Main St",
        ship_to_street2="Apt 4",
        ship_to_city="Boston",
        ship_to_state="MA",
        ship_to_postal_code="02110-1234",
        ship_to_country="US",
        ship_to_phone="+1 617 555 0100",
        ship_to_email=email,
        bill_to={
            "name": "Bill Payer",
            "street1": "9 Bill Rd",
            "city": "Boston",
            "state": "MA",
            "postal_code": "02110",
            "country": "US",
        },
        note="Leave at the back door",
        gift_message="Happy birthday Ann",
        currency="USD",
        total=Decimal("20.00"),
        raw={
            "id": int(external_id),
            "email": email,
            "financial_status": "paid",
            "customer": {"first_name": "Ann", "last_name": "Lee", "email": email},
            "shipping_address": {"address1": "1 Main St", "city": "Boston", "zip": "02110-1234"},
            "line_items": [{"sku": "TENT", "name": "Tent", "quantity": 2}],
            "note_text": "call Ann Lee on +1 617 555 0100",
        },
        search_text=f"#{external_id} {external_id} ann lee {email}",
    )
    OrderLine.objects.create(
        order=order,
        sku="TENT",
        name="Tent",
        quantity=2,
        unit_price=Decimal("10.00"),
        allocated_quantity=2,
        shipped_quantity=2 if status == S.SHIPPED else 0,
    )
    return order


def leftovers(merchant) -> list[str]:
    """Every place the PII could still be: orders, audit entries, outbox payloads, exceptions."""
    dumps = []
    for order in Order.objects.filter(merchant=merchant):
        dumps.append(json.dumps({f.name: str(getattr(order, f.name)) for f in Order._meta.fields}))
    dumps += [json.dumps([a.before, a.after, a.message]) for a in AuditEntry.objects.all()]
    dumps += [json.dumps(e.payload) for e in OutboxEvent.objects.all()]
    dumps += [x.detail for x in OrderException.objects.all()]
    text = "\n".join(dumps).lower()
    return [p for p in PII if p.lower() in text]


def test_shipped_order_is_redacted_with_exact_placeholders_and_keeps_what_fulfilment_needs(merchant_a):
    order = make_order(merchant_a)
    result = customer_redact(merchant=merchant_a, channel="shopify", email="ANN@mail.example.com")
    assert (result.redacted, result.deferred) == ([order.pk], [])
    order.refresh_from_db()
    assert order.ship_to == {
        "name": REDACTED,
        "company": REDACTED,
        "street1": REDACTED,
        "street2": REDACTED,
        "city": REDACTED,
        "state": "MA",
        "postal_code": "021",
        "country": "US",
        "phone": "",
        "email": "",
    }
    assert (order.customer_name, order.customer_email, order.note, order.gift_message) == (
        REDACTED,
        "",
        "",
        "",
    )
    assert order.bill_to == {
        "name": REDACTED,
        "street1": REDACTED,
        "city": REDACTED,
        "state": "MA",
        "postal_code": "021",
        "country": "US",
    }
    assert order.raw == {
        "id": 1001,
        "email": REDACTED,
        "financial_status": "paid",
        "customer": REDACTED,
        "shipping_address": REDACTED,
        "line_items": [{"sku": "TENT", "name": "Tent", "quantity": 2}],
        "note_text": f"call {REDACTED} on {REDACTED}",
    }
    assert order.search_text == "#1001 1001"
    # what fulfilment and billing need is intact
    assert (order.number, order.external_id, order.status, order.total, order.currency) == (
        "#1001",
        "1001",
        S.SHIPPED,
        Decimal("20.00"),
        "USD",
    )
    assert list(order.lines.values_list("sku", "quantity", "unit_price")) == [("TENT", 2, Decimal("10.00"))]
    assert leftovers(merchant_a) == []
    entry = AuditEntry.objects.get(action="order.redacted")
    assert entry.after == {
        "fields": [
            "bill_to",
            "customer_email",
            "customer_name",
            "gift_message",
            "note",
            "raw",
            "ship_to_city",
            "ship_to_company",
            "ship_to_email",
            "ship_to_name",
            "ship_to_phone",
            "ship_to_postal_code",
            "ship_to_street1",
            "ship_to_street2",
        ],
        "reason": "privacy request",
        "deferred": False,
    }
    assert OutboxEvent.objects.get(event_type="order.customer_redacted").payload == {
        "order_id": order.pk,
        "merchant_id": merchant_a.pk,
        "channel": "shopify",
    }
    # the order still works: the next transition goes through
    order_mark_delivered(order=order)
    order.refresh_from_db()
    assert order.status == S.DELIVERED


def test_copies_in_history_outbox_and_exceptions_are_scrubbed(merchant_a):
    order = make_order(merchant_a, status=S.ALLOCATED)
    order_change_address(order=order, address={"street1": "5 Elm St", "name": "Ann Lee"})
    OrderException.objects.create(
        merchant=merchant_a, order=order, reason="bad_address", detail="5 Elm St, Boston is not deliverable"
    )
    OutboxEvent.objects.create(event_type="x.test", payload={"order_id": order.pk, "to": "Ann Lee, 5 Elm St"})
    Order.objects.filter(pk=order.pk).update(status=S.CANCELLED)
    PII.append("5 Elm St")
    try:
        assert customer_redact(merchant=merchant_a, channel="shopify", external_ids=["1001"]).redacted == [
            order.pk
        ]
        assert leftovers(merchant_a) == []
        changed = AuditEntry.objects.get(action="order.address_changed")
        assert changed.before["street1"] == REDACTED
        assert changed.after["street1"] == REDACTED
        assert (
            OrderException.objects.get(reason="bad_address", detail__contains="deliverable").detail
            == f"{REDACTED}, {REDACTED} is not deliverable"
        )
    finally:
        PII.remove("5 Elm St")


def test_order_in_flight_waits_until_it_ships_then_is_redacted(
    merchant_a, django_capture_on_commit_callbacks
):
    order = make_order(merchant_a, status=S.PACKED)
    result = customer_redact(merchant=merchant_a, channel="shopify", external_ids=["1001"])
    assert (result.redacted, result.deferred) == ([], [order.pk])
    assert "still in flight" in result.describe()
    order.refresh_from_db()
    assert (order.ship_to_name, order.ship_to_street1) == ("Ann Lee", "1 Main St")  # the warehouse needs it
    assert redaction_state(order_ids=[order.pk]) == {order.pk: "deferred"}
    # asking again does not stack deferrals
    customer_redact(merchant=merchant_a, channel="shopify", external_ids=["1001"])
    assert AuditEntry.objects.filter(action="order.redaction_deferred").count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_shipped(order=order)
    order.refresh_from_db()
    assert order.status == S.SHIPPED
    assert (order.ship_to_name, order.ship_to_street1, order.customer_email) == (REDACTED, REDACTED, "")
    assert AuditEntry.objects.get(action="order.redacted").after["deferred"] is True
    assert redaction_state(order_ids=[order.pk]) == {order.pk: "redacted"}
    assert leftovers(merchant_a) == []


def test_redaction_is_idempotent_and_touches_only_that_customer(merchant_a, merchant_b):
    mine = make_order(merchant_a)
    other_customer = make_order(merchant_a, external_id="2002", email="zed@mail.example.com")
    other_channel = make_order(merchant_a, external_id="3003", channel="woocommerce")
    other_merchant = make_order(merchant_b)
    assert order_redact_customer(merchant=merchant_a, channel="shopify", email=PII[5], external_ids=[]) == 1
    # the email is gone now, so only the order id finds it again: already redacted, nothing redone
    assert order_redact_customer(merchant=merchant_a, channel="shopify", email=PII[5], external_ids=[]) == 0
    assert order_redact_customer(merchant=merchant_a, channel="shopify", email="", external_ids=["1001"]) == 1
    assert (
        AuditEntry.objects.filter(action="order.redacted").count() == 1
    )  # nothing left to redact the 2nd time
    for untouched in (other_customer, other_channel, other_merchant):
        untouched.refresh_from_db()
        assert untouched.ship_to_name == "Ann Lee"
    mine.refresh_from_db()
    assert mine.ship_to_name == REDACTED


def test_no_email_and_no_ids_matches_nothing(merchant_a):
    make_order(merchant_a)
    assert customer_redact(merchant=merchant_a, channel="shopify").redacted == []
    assert Order.objects.get().ship_to_name == "Ann Lee"


def test_shop_redact_covers_every_order_of_that_store(merchant_a):
    a = make_order(merchant_a, external_id="1")
    b = make_order(merchant_a, external_id="2", email="zed@mail.example.com")
    other_store = make_order(merchant_a, external_id="3", account="globex")
    result = customer_redact(merchant=merchant_a, channel="shopify", channel_account="acme.myshopify.com")
    assert sorted(result.redacted) == [a.pk, b.pk]
    other_store.refresh_from_db()
    assert other_store.ship_to_name == "Ann Lee"


def test_customer_data_export_lists_what_we_hold(merchant_a):
    order = make_order(merchant_a)
    make_order(merchant_a, external_id="2002", email="zed@mail.example.com")
    data = customer_data_export(merchant=merchant_a, channel="shopify", email=PII[5])
    assert data == {
        "channel": "shopify",
        "email": PII[5],
        "orders": [
            {
                "number": "#1001",
                "channel_order_id": "1001",
                "placed_at": order.placed_at.isoformat(),
                "status": "shipped",
                "customer": {"name": "Ann Lee", "email": PII[5]},
                "ship_to": order.ship_to,
                "bill_to": order.bill_to,
                "note": "Leave at the back door",
                "gift_message": "Happy birthday Ann",
                "currency": "USD",
                "total": "20.00",
                "lines": [{"sku": "TENT", "name": "Tent", "quantity": 2, "unit_price": "10.00"}],
                "shipments": [],
            }
        ],
    }


def test_a_worker_process_registers_the_redaction_handlers():
    """Deferred and queued redactions run in the worker: its task modules import ``orders.services`` and so the
    handlers registered in ``orders.services.redaction`` (a fresh interpreter, as a worker starts)."""
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup()\n"
        "from fulfil.celery import app; app.loader.import_default_modules()\n"
        "from fulfil import outbox\n"
        "print(sorted(outbox.handler_name(h) for t in ('order.status_changed', 'privacy.redact_requested')"
        " for h in outbox.handlers_for(t) if 'redaction' in outbox.handler_name(h)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fulfil.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=120
    ).stdout
    assert out.strip().splitlines()[-1] == (
        "['orders.services.redaction.on_redact_requested', "
        "'orders.services.redaction.on_status_changed_redact_deferred']"
    )
