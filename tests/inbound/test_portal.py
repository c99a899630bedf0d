"""The customer self-service return portal: public pages at /returns/<token>/, scoped to one merchant."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from fulfil.models import AuditEntry
from warehouse.inbound import services
from warehouse.inbound.models import ReturnAuthorization, ReturnLine, ReturnPortalSettings
from warehouse.inbound.portal import LOOKUP_FAILED

from .conftest import make_product, make_shipped_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(merchant_a, products, wh):
    return make_shipped_order(
        merchant_a, [(products["mug"], 2, Decimal("12.00")), (products["lamp"], 1, Decimal("40.00"))]
    )


def base(portal):
    return f"/returns/{portal.token}/"


def find(client, portal, number="1001", proof="jack@example.com"):
    return client.post(base(portal), {"number": number, "proof": proof})


def test_portal_off_or_unknown_is_404(client, merchant_a, portal_a):
    assert client.get(base(portal_a)).status_code == 200
    assert client.get("/returns/nope/").status_code == 404
    services.return_portal_update(
        merchant=merchant_a, enabled=False, window_days=30, allowed_reasons=[], prepaid_labels=False
    )
    assert client.get(base(portal_a)).status_code == 404


def test_a_failed_lookup_says_the_same_whatever_the_reason(client, merchant_b, products, portal_a, order):
    make_shipped_order(merchant_b, [(make_product(merchant_b, "B-MUG"), 1, Decimal("1"))], number="2002")
    answers = [
        find(client, portal_a, proof="someone@else.com"),  # A's order, wrong email
        find(client, portal_a, number="9999"),  # no such order
        find(client, portal_a, number="2002"),  # merchant B's order, right email: not on A's portal
        find(client, portal_a, proof="10001"),  # wrong postal code
    ]
    for response in answers:
        assert response.status_code == 400
        page = response.content.decode()
        assert LOOKUP_FAILED in page
        assert "B-MUG" not in page
        assert "MUG" not in page
    assert "return_portal:" + portal_a.token not in client.session


def test_lookup_by_email_or_postal_code_shows_only_that_orders_returnable_lines(
    client, merchant_a, products, portal_a, order
):
    other = make_shipped_order(
        merchant_a, [(products["serum"], 1, Decimal("25"))], number="1002", email="anne@example.com"
    )
    assert other.pk
    response = find(client, portal_a, proof="JACK@example.com ")
    assert response.status_code == 302
    assert response["Location"] == f"/returns/{portal_a.token}/order/"
    page = client.get(response["Location"]).content.decode()
    assert 'data-sku="MUG"' in page
    assert 'data-sku="LAMP"' in page
    assert "SERUM" not in page  # another customer's order
    assert "anne@example.com" not in page

    fresh = client.__class__()
    assert find(fresh, portal_a, proof="94 107").status_code == 302  # postal code, spacing ignored


def test_customer_opens_a_return_and_the_merchant_is_told(
    client, client_a, merchant_a, products, portal_a, order, django_capture_on_commit_callbacks
):
    find(client, portal_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            base(portal_a) + "order/",
            {
                f"qty_{products['mug'].pk}": "1",
                f"qty_{products['lamp'].pk}": "0",
                "reason": "no_longer_needed",
                "comment": "Too big",
                "request_key": "k1",
            },
        )
    assert response.status_code == 302
    rma = ReturnAuthorization.objects.get()
    assert response["Location"] == f"/returns/{portal_a.token}/done/{rma.pk}/"
    assert (rma.opened_by, rma.reason, rma.customer_note, rma.customer_email) == (
        "customer",
        "no_longer_needed",
        "Too big",
        "jack@example.com",
    )
    assert list(rma.lines.values_list("product__sku", "quantity", "unit_price")) == [
        ("MUG", 1, Decimal("12.00"))
    ]
    done = client.get(response["Location"]).content.decode()
    assert rma.number in done
    assert "write <strong>" + rma.number in done
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == [
        f"Return {rma.number} opened by your customer (order 1001)",
        f"Your return {rma.number}",
    ]
    customer_mail = next(m for m in mail.outbox if m.subject.startswith("Your return"))
    assert customer_mail.to == ["jack@example.com"]
    assert (
        AuditEntry.objects.filter(object_type="inbound.return", action="opened", source="portal").count() == 1
    )

    listing = client_a.get("/app/warehouse/inbound/returns/").content.decode()
    assert 'data-opened-by="customer"' in listing
    assert (
        "Opened by the customer" in client_a.get(f"/app/warehouse/inbound/returns/{rma.pk}/").content.decode()
    )

    again = client.post(  # the customer pressed the button twice: the same RMA
        base(portal_a) + "order/",
        {f"qty_{products['mug'].pk}": "1", "reason": "no_longer_needed", "request_key": "k1"},
    )
    assert again.status_code == 302
    assert ReturnAuthorization.objects.count() == 1
    page = client.get(base(portal_a) + "order/").content.decode()
    assert 'data-sku="MUG"' in page  # one mug left to return
    assert '<option value="2">' not in page.split('data-sku="MUG"')[1].split("</tr>")[0]


def test_refusals_create_nothing(client, merchant_a, products, portal_a, order):
    services.return_portal_update(
        merchant=merchant_a, enabled=True, window_days=30, allowed_reasons=["damaged"], prepaid_labels=False
    )
    find(client, portal_a)
    url = base(portal_a) + "order/"
    mug = f"qty_{products['mug'].pk}"
    assert client.post(url, {mug: "1", "reason": "no_longer_needed"}).status_code == 400  # not allowed here
    assert client.post(url, {mug: "3", "reason": "damaged"}).status_code == 400  # more than shipped
    assert client.post(url, {mug: "0", "reason": "damaged"}).status_code == 400  # nothing chosen
    assert client.post(url, {mug: "x", "reason": "damaged"}).status_code == 400
    order.shipped_at = timezone.now() - timedelta(days=31)
    order.save(update_fields=["shipped_at"])
    response = client.post(url, {mug: "1", "reason": "damaged"})
    assert response.status_code == 409
    assert "return window" in response.content.decode()
    assert not ReturnAuthorization.objects.exists()
    assert not ReturnLine.objects.exists()


def test_pages_need_the_lookup_and_show_only_this_sessions_returns(
    client, merchant_a, products, portal_a, order
):
    assert client.get(base(portal_a) + "order/")["Location"] == base(portal_a)  # no lookup yet
    rma = services.return_open(
        merchant=merchant_a, order=order, reason="other", lines=[(products["mug"], 1)], customer_note="SECRET"
    )
    find(client, portal_a)
    response = client.get(f"{base(portal_a)}done/{rma.pk}/")  # not opened from this session
    assert response.status_code == 404


def test_lookups_are_rate_limited(client, settings, portal_a, order):
    settings.RETURN_PORTAL_LOOKUPS_PER_IP = 3
    for _ in range(3):
        assert find(client, portal_a, proof="wrong@x.com").status_code == 400
    response = find(client, portal_a)  # right details, but too many attempts
    assert response.status_code == 429
    assert response["Retry-After"] == "600"
    assert f"return_portal:{portal_a.token}" not in client.session


def test_merchant_sets_up_the_portal(client_a, merchant_a):
    page = client_a.get("/app/warehouse/inbound/returns/portal/")
    assert page.status_code == 200
    response = client_a.post(
        "/app/warehouse/inbound/returns/portal/",
        {
            "enabled": "1",
            "window_days": "45",
            "allowed_reasons": ["damaged", "wrong_item"],
            "prepaid_labels": "1",
        },
    )
    assert response.status_code == 302
    portal = ReturnPortalSettings.objects.get(merchant=merchant_a)
    assert (portal.enabled, portal.window_days, portal.allowed_reasons, portal.prepaid_labels) == (
        True,
        45,
        ["damaged", "wrong_item"],
        True,
    )
    assert (
        f"/returns/{portal.token}/" in client_a.get("/app/warehouse/inbound/returns/portal/").content.decode()
    )
    bad = client_a.post("/app/warehouse/inbound/returns/portal/", {"enabled": "1", "window_days": "0"})
    assert bad.status_code == 400
    portal.refresh_from_db()
    assert portal.window_days == 45
    assert AuditEntry.objects.filter(object_type="inbound.return_portal").count() == 1


def test_api_lists_customer_opened_returns(api_a, merchant_a, products, portal_a, order):
    services.return_open(merchant=merchant_a, order=order, reason="other", lines=[(products["mug"], 1)])
    mine = services.return_portal_open(
        portal=portal_a, order=order, lines=[(products["lamp"], 1)], reason="damaged", request_key="api-1"
    )
    body = api_a.get("/api/v1/returns/?opened_by=customer").json()
    assert [(r["number"], r["opened_by"]) for r in body["results"]] == [(mine.number, "customer")]
    assert len(api_a.get("/api/v1/returns/").json()["results"]) == 2


def test_customer_can_attach_a_photo(client, client_a, products, portal_a, order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    find(client, portal_a)
    response = client.post(
        base(portal_a) + "order/",
        {
            f"qty_{products['lamp'].pk}": "1",
            "reason": "damaged",
            "photo": SimpleUploadedFile("crack.jpg", b"\xff\xd8\xff fake", content_type="image/jpeg"),
        },
    )
    assert response.status_code == 302
    rma = ReturnAuthorization.objects.get()
    assert rma.customer_photo.name.endswith(".jpg")
    assert "Customer's photo" in client_a.get(f"/app/warehouse/inbound/returns/{rma.pk}/").content.decode()


def test_a_photo_must_be_a_small_image(client, products, portal_a, order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    find(client, portal_a)
    response = client.post(
        base(portal_a) + "order/",
        {
            f"qty_{products['lamp'].pk}": "1",
            "reason": "damaged",
            "photo": SimpleUploadedFile("x.exe", b"MZ", content_type="application/octet-stream"),
        },
    )
    assert response.status_code == 400
    assert "must be an image" in response.content.decode()
    assert not ReturnAuthorization.objects.exists()
