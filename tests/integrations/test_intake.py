"""The WSGI webhook intake in front of Django (integrations.intake, fulfil.wsgi): the same answers and the same
inbox rows as Django's receiver, duplicates stored once, bad signatures nothing, everything else to Django."""

from __future__ import annotations

import io
import sys

import pytest

from integrations.intake import WebhookIntake
from integrations.models import WebhookInbox
from orders.models import Order
from tests.channels.fakes.shopify import make_order, webhook

pytestmark = pytest.mark.django_db(transaction=True)


class DjangoStandIn:
    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response("204 No Content", [])
        return [b""]


@pytest.fixture
def intake():
    django = DjangoStandIn()
    front = WebhookIntake(django)
    yield front, django
    front.close()


def call(app, body: bytes, headers: dict, *, path="/integrations/shopify/webhooks/", method="POST", **extra):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **headers,
        **extra,
    }
    got = {}

    def start_response(status, response_headers, exc_info=None):
        got["status"], got["headers"] = status, dict(response_headers)

    got["body"] = b"".join(app(environ, start_response))
    return got


def test_signed_order_webhook_is_stored_once_and_imported(intake, shopify_conn, shopify_secret):
    front, django = intake
    body, headers = webhook(
        "orders/create", make_order(7001), secret=shopify_secret, shop=shopify_conn.account_id, event_id="e-1"
    )

    first = call(front, body, headers)
    again = call(front, body, {**headers, "HTTP_X_SHOPIFY_WEBHOOK_ID": "redelivery"})

    assert (first["status"], first["body"], first["headers"]["Content-Length"]) == ("200 OK", b"ok", "2")
    assert (again["status"], again["body"]) == ("200 OK", b"ok")
    assert django.calls == []
    row = WebhookInbox.objects.get()
    assert (row.platform, row.event_id, row.account_id, row.topic, row.connection_id) == (
        "shopify",
        "e-1",
        shopify_conn.account_id,
        "orders/create",
        shopify_conn.pk,  # set by the drain
    )
    assert row.body == body.decode()
    assert row.headers["X-Shopify-Webhook-Id"] == headers["HTTP_X_SHOPIFY_WEBHOOK_ID"]
    # tests run Celery eagerly: the kick drained the inbox inline, the order is in the book once
    assert row.status == "done"
    assert Order.objects.filter(merchant=shopify_conn.merchant, external_id="7001").count() == 1


def test_the_row_equals_what_djangos_receiver_stores(intake, client, shopify_conn, shopify_secret, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    front, _ = intake
    payload = make_order(7002)
    body, headers = webhook("orders/create", payload, secret=shopify_secret, shop=shopify_conn.account_id)
    call(front, body, {**headers, "HTTP_X_SHOPIFY_EVENT_ID": "via-intake"})
    client.generic(
        "POST",
        "/integrations/shopify/webhooks/",
        body,
        content_type="application/json",
        **{**headers, "HTTP_X_SHOPIFY_EVENT_ID": "via-django"},
    )
    fields = ["platform", "account_id", "connection_id", "topic", "headers", "body", "attempts", "last_error"]
    via_intake = WebhookInbox.objects.filter(event_id="via-intake").values(*fields).get()
    via_django = WebhookInbox.objects.filter(event_id="via-django").values(*fields).get()
    assert via_intake == via_django


def test_bad_signature_is_401_and_stores_nothing(intake, shopify_conn, shopify_secret):
    front, django = intake
    body, headers = webhook("orders/create", make_order(7003), secret="wrong", shop=shopify_conn.account_id)

    got = call(front, body, headers)
    unsigned = call(front, body, {k: v for k, v in headers.items() if k != "HTTP_X_SHOPIFY_HMAC_SHA256"})

    assert (got["status"], got["body"]) == ("401 Unauthorized", b"invalid signature")
    assert unsigned["status"] == "401 Unauthorized"
    assert WebhookInbox.objects.count() == 0
    assert Order.objects.count() == 0
    assert django.calls == []


def test_everything_else_goes_to_django(intake, shopify_conn, shopify_secret, settings):
    front, django = intake
    body, headers = webhook(
        "orders/create", make_order(7004), secret=shopify_secret, shop=shopify_conn.account_id
    )

    call(front, body, headers, method="GET")
    call(front, body, headers, path="/integrations/woocommerce/webhooks/1/")
    call(front, body, headers, path="/app/orders/")
    call(front, body, {**headers, "CONTENT_LENGTH": ""})  # no length: Django reads it its way
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    call(front, body, headers)  # too big: Django's 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    settings.SECURE_SSL_REDIRECT = True
    call(front, body, headers)  # plain HTTP: Django's redirect

    assert django.calls == [
        ("GET", "/integrations/shopify/webhooks/"),
        ("POST", "/integrations/woocommerce/webhooks/1/"),
        ("POST", "/app/orders/"),
        ("POST", "/integrations/shopify/webhooks/"),
        ("POST", "/integrations/shopify/webhooks/"),
        ("POST", "/integrations/shopify/webhooks/"),
    ]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert call(front, body, {**headers, "HTTP_X_FORWARDED_PROTO": "https"})["status"] == "200 OK"
    assert WebhookInbox.objects.count() == 1


def test_a_broken_connection_is_replaced(intake, shopify_conn, shopify_secret):
    front, _ = intake
    body, headers = webhook(
        "orders/create", make_order(7005), secret=shopify_secret, shop=shopify_conn.account_id
    )
    assert call(front, body, headers)["status"] == "200 OK"
    front._local.conn.close()  # as a Postgres restart would leave it

    body2, headers2 = webhook(
        "orders/create", make_order(7006), secret=shopify_secret, shop=shopify_conn.account_id
    )
    assert call(front, body2, headers2)["status"] == "200 OK"
    assert WebhookInbox.objects.count() == 2


def test_the_deployed_application_is_the_intake():
    from fulfil import wsgi

    assert isinstance(wsgi.application, WebhookIntake)
    assert wsgi.application.app is wsgi.django_application


def test_unprepared_statements_for_connection_poolers(intake, shopify_conn, shopify_secret, settings):
    settings.WEBHOOK_INTAKE_PREPARE = "0"
    front, _ = intake
    body, headers = webhook(
        "orders/create", make_order(7007), secret=shopify_secret, shop=shopify_conn.account_id
    )

    assert call(front, body, headers)["status"] == "200 OK"
    assert call(front, body, headers)["status"] == "200 OK"  # a re-delivery

    assert WebhookInbox.objects.filter(event_id=headers["HTTP_X_SHOPIFY_EVENT_ID"]).count() == 1
    assert front._local.prepared is None
