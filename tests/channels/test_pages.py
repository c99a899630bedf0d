"""The merchant's side: the platforms page, connecting with keys (test + first import) or OAuth, settings,
products and SKU mapping, product import, health with dead-letter replay, the onboarding step, alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from fulfil import onboarding
from integrations import services
from integrations.models import ChannelConnection, ChannelListing, ChannelPush, DeadLetter
from orders.models import Order
from tests.channels.fakes.woocommerce import FakeWooCommerce, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_woo():
    fake = FakeWooCommerce().start()
    yield fake
    fake.stop()


def test_index_lists_the_five_platforms_with_what_they_sync(client_a):
    html = client_a.get("/app/integrations/").content.decode()
    for label in ("Shopify", "WooCommerce", "Amazon", "eBay", "Walmart"):
        assert f"Connect {label}" in html
    assert "Fulfillments with tracking" in html


def test_connect_woocommerce_with_keys_tests_and_imports(
    client_a, merchant_a, fake_woo, monkeypatch, django_capture_on_commit_callbacks
):
    fake_woo.add_order(501, sku="WOO-1", quantity=2, updated=timezone.now().strftime("%Y-%m-%dT%H:%M:%S"))
    fake_woo.orders[501]["date_created_gmt"] = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
    from integrations.woocommerce import client as woo

    real_init = woo.WooCommerceChannel.__init__

    def init(self, connection, **kw):  # the form has no base-URL field: point the store URL at the fake
        connection.base_url = fake_woo.url
        real_init(self, connection, **kw)

    monkeypatch.setattr(woo.WooCommerceChannel, "__init__", init)
    assert onboarding.progress(merchant_a).items  # the step exists
    step_done = dict((s.key, done) for s, done in onboarding.progress(merchant_a).items)
    assert step_done["sales_channel"] is False
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            "/app/integrations/connect/woocommerce/",
            {
                "account_id": "https://shop.example.com",
                "consumer_key": "ck_test",
                "consumer_secret": "cs_test",
            },
        )
    conn = ChannelConnection.objects.get(merchant=merchant_a)
    assert response.status_code == 302
    assert response["Location"] == f"/app/integrations/{conn.pk}/"
    assert conn.status == "active"
    assert conn.first_import["ok"] is True
    assert conn.first_import["orders"]["created"] == 1
    assert Order.objects.filter(merchant=merchant_a, channel="woocommerce", external_id="501").exists()
    html = client_a.get(f"/app/integrations/{conn.pk}/").content.decode()
    assert "imported 1 orders" in html
    assert dict((s.key, done) for s, done in onboarding.progress(merchant_a).items)["sales_channel"] is True


def test_connect_with_bad_keys_says_so(client_a, merchant_a, fake_woo, monkeypatch):
    from integrations.woocommerce import client as woo

    real_init = woo.WooCommerceChannel.__init__

    def init(self, connection, **kw):
        connection.base_url = fake_woo.url
        real_init(self, connection, **kw)

    monkeypatch.setattr(woo.WooCommerceChannel, "__init__", init)
    fake_woo.fail_next(401, times=2)
    response = client_a.post(
        "/app/integrations/connect/woocommerce/",
        {"account_id": "https://shop.example.com", "consumer_key": "ck_bad", "consumer_secret": "cs_bad"},
        follow=True,
    )
    assert "The store refused our API keys" in response.content.decode()
    assert ChannelConnection.objects.get(merchant=merchant_a).status == "error"


def test_connect_shopify_redirects_to_the_install_page(client_a, merchant_a, shopify_secret):
    response = client_a.post("/app/integrations/connect/shopify/", {"account_id": "acme-outdoor"})
    conn = ChannelConnection.objects.get(merchant=merchant_a)
    assert conn.account_id == "acme-outdoor.myshopify.com"
    assert conn.status == "pending"
    assert response.status_code == 302
    assert response["Location"].startswith("https://acme-outdoor.myshopify.com/admin/oauth/authorize?")
    assert f"state={conn.oauth_state}" in response["Location"]


def test_connect_shopify_refuses_a_non_shopify_domain(client_a, merchant_a):
    response = client_a.post("/app/integrations/connect/shopify/", {"account_id": "evil.example.com"})
    assert response.status_code == 200
    assert "myshopify.com" in response.content.decode()
    assert not ChannelConnection.objects.exists()


def test_test_connection_button_shows_plain_result(client_a, shopify_conn):
    response = client_a.post(f"/app/integrations/{shopify_conn.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Connected to Acme Test Shop." in response.content.decode()


def test_settings_are_saved_and_audited(client_a, shopify_conn):
    from fulfil.models import AuditEntry

    response = client_a.post(
        f"/app/integrations/{shopify_conn.pk}/",
        {
            "name": "Main store",
            "import_from": "2026-01-01T00:00",
            "review": "hold",
            "inventory_sync": "on",
            "inventory_buffer": "2",
            "import_statuses": "paid, authorized",
            "shipping_map": "Express = expedited\nNext Day Air = overnight",
        },
    )
    assert response.status_code == 302
    shopify_conn.refresh_from_db()
    assert shopify_conn.name == "Main store"
    assert shopify_conn.review == "hold"
    assert shopify_conn.inventory_buffer == 2
    assert shopify_conn.import_statuses == ["paid", "authorized"]
    assert shopify_conn.shipping_map == {"Express": "expedited", "Next Day Air": "overnight"}
    assert AuditEntry.objects.filter(
        action="channel.settings_changed", object_id=str(shopify_conn.pk)
    ).exists()


def test_bad_shipping_map_is_refused_and_nothing_changes(client_a, shopify_conn):
    response = client_a.post(
        f"/app/integrations/{shopify_conn.pk}/",
        {"name": "X", "review": "auto", "inventory_buffer": "0", "shipping_map": "Express = teleport"},
    )
    assert response.status_code == 200
    assert "Line 1" in response.content.decode()
    shopify_conn.refresh_from_db()
    assert shopify_conn.name == shopify_conn.account_id


def test_hold_for_review_holds_new_orders(shopify_conn):
    from integrations.shopify.mapper import order_from_shopify
    from tests.channels.fakes.shopify import make_order as shopify_order

    shopify_conn.review = "hold"
    shopify_conn.save()
    order, created, _ = services.channel_order_ingest(
        connection=shopify_conn, order=order_from_shopify(shopify_order(61))
    )
    assert created
    order.refresh_from_db()
    assert order.status == "on_hold"


def test_products_mapping_and_import(client_a, merchant_a, shopify_conn):
    from inventory.models import Product

    pink = Product.objects.create(merchant=merchant_a, sku="PINK-OURS", name="Pink", barcode="1234_pink")
    client_a.post(f"/app/integrations/{shopify_conn.pk}/products/fetch/")
    html = client_a.get(f"/app/integrations/{shopify_conn.pk}/products/").content.decode()
    assert "IPOD2008PINK" in html
    assert "PINK-OURS" in html
    pink_listing = ChannelListing.objects.get(connection=shopify_conn, sku="IPOD2008PINK")
    assert pink_listing.product == pink  # suggested by barcode, mapped
    red = ChannelListing.objects.get(connection=shopify_conn, sku="IPOD2008RED")
    assert red.product is None
    response = client_a.post(f"/app/integrations/{shopify_conn.pk}/products/import/", {"listing": [red.pk]})
    assert response.status_code == 302
    red.refresh_from_db()
    assert red.product is not None
    assert red.product.sku == "IPOD2008RED"
    assert red.product.name == "IPod Nano - 8GB - Red"
    # Mapping the pink listing to our product makes orders for its channel SKU use ours.
    client_a.post(
        f"/app/integrations/{shopify_conn.pk}/products/{pink_listing.pk}/map/",
        {"product": pink.pk, "selected": "on"},
    )
    shopify_conn.refresh_from_db()
    assert shopify_conn.sku_map == {"IPOD2008PINK": "PINK-OURS"}


def test_health_page_and_dead_letter_replay(
    client_a, shopify_conn, fake_shopify, django_capture_on_commit_callbacks
):
    push_id = services.push_schedule(
        connection=shopify_conn,
        kind="cancellation",
        key="cancellation:999",
        payload={"order_id": 999999, "external_id": "999"},
    )
    push = ChannelPush.objects.get(pk=push_id)
    DeadLetter.objects.create(
        merchant=shopify_conn.merchant,
        connection=shopify_conn,
        push=push,
        summary="Cancellation cancellation:999",
        error="boom",
    )
    ChannelPush.objects.filter(pk=push_id).update(status="dead")
    html = client_a.get(f"/app/integrations/{shopify_conn.pk}/health/").content.decode()
    assert "Cancellation cancellation:999" in html
    assert "Orders imported today" in html
    dl = DeadLetter.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(
            f"/app/integrations/{shopify_conn.pk}/dead-letters/{dl.pk}/", {"action": "replay"}
        )
    assert response.status_code == 302
    dl.refresh_from_db()
    assert dl.status == "replayed"
    assert (
        ChannelPush.objects.get(pk=push_id).status == "done"
    )  # replayed: the order is gone, nothing to send


def test_rejected_push_is_dead_lettered_and_connection_flagged(shopify_conn, fake_shopify):
    fake_shopify.fail_next(422, path_contains="graphql")
    from inventory.models import Product

    product = Product.objects.create(merchant=shopify_conn.merchant, sku="IPOD2008PINK", name="Pink")
    ChannelListing.objects.create(
        merchant=shopify_conn.merchant,
        connection=shopify_conn,
        external_id="808950810",
        inventory_item_id="808950810",
        sku="IPOD2008PINK",
        name="Pink",
        product=product,
    )
    push_id = services.push_schedule(
        connection=shopify_conn,
        kind="inventory",
        key=f"inventory:{product.pk}",
        payload={"product_id": product.pk},
    )
    assert services.push_send(push_id=push_id) == "dead"
    assert DeadLetter.objects.filter(connection=shopify_conn, push_id=push_id).count() == 1
    shopify_conn.refresh_from_db()
    assert shopify_conn.status == "error"


def test_retryable_push_waits_then_succeeds(shopify_conn, fake_shopify):
    from inventory.models import Product

    product = Product.objects.create(merchant=shopify_conn.merchant, sku="IPOD2008PINK", name="Pink")
    ChannelListing.objects.create(
        merchant=shopify_conn.merchant,
        connection=shopify_conn,
        external_id="808950810",
        inventory_item_id="808950810",
        sku="IPOD2008PINK",
        name="Pink",
        product=product,
    )
    fake_shopify.fail_next(429, retry_after=2, path_contains="graphql")
    push_id = services.push_schedule(
        connection=shopify_conn,
        kind="inventory",
        key=f"inventory:{product.pk}",
        payload={"product_id": product.pk},
    )
    assert services.push_send(push_id=push_id) == "retry"
    push = ChannelPush.objects.get(pk=push_id)
    assert push.status == "pending"
    assert 1 <= (push.next_attempt_at - timezone.now()).total_seconds() <= 2.5
    shopify_conn.refresh_from_db()
    assert shopify_conn.rate_limited_until is not None
    assert services.push_send(push_id=push_id) == "not-yet"
    ChannelPush.objects.filter(pk=push_id).update(next_attempt_at=timezone.now())
    assert services.push_send(push_id=push_id) == "done"
    assert fake_shopify.inventory[("808950810", "905684977")] == 0


def test_stock_change_coalesces_into_one_push(shopify_conn):
    from inventory.models import Product

    product = Product.objects.create(merchant=shopify_conn.merchant, sku="P1", name="P1")
    ChannelListing.objects.create(
        merchant=shopify_conn.merchant,
        connection=shopify_conn,
        external_id="1",
        inventory_item_id="1",
        sku="P1",
        name="P1",
        product=product,
    )
    for _ in range(5):
        services.inventory_changed(merchant_id=shopify_conn.merchant_id, product_id=product.pk)
    assert ChannelPush.objects.filter(connection=shopify_conn, kind="inventory").count() == 1


def test_broken_connection_alerts_once(shopify_conn):
    ChannelConnection.objects.filter(pk=shopify_conn.pk).update(
        status="error", broken_since=timezone.now() - timedelta(minutes=45), status_reason="token revoked"
    )
    assert services.alerts_check(after_minutes=30) == [shopify_conn.pk]
    assert len(mail.outbox) == 1
    assert "needs attention" in mail.outbox[0].subject
    assert services.alerts_check(after_minutes=30) == []


def test_woocommerce_webhook_signature_and_dedupe(client, merchant_a, django_capture_on_commit_callbacks):
    from tests.channels.fakes.woocommerce import webhook

    conn = services.connection_create(
        merchant=merchant_a, platform="woocommerce", account_id="https://shop.example.com", status="active"
    )
    conn.import_from = None
    conn.save()
    url = f"/integrations/woocommerce/webhooks/{conn.pk}/"
    body, headers = webhook("order.created", make_order(801), secret="wrong")
    assert client.generic("POST", url, body, content_type="application/json", **headers).status_code == 401
    body, headers = webhook("order.created", make_order(801), secret=conn.webhook_secret)
    for delivery in ("a", "b"):  # WooCommerce re-delivers with a new delivery id
        headers["HTTP_X_WC_WEBHOOK_DELIVERY_ID"] = delivery
        with django_capture_on_commit_callbacks(execute=True):
            assert (
                client.generic("POST", url, body, content_type="application/json", **headers).status_code
                == 200
            )
    assert Order.objects.filter(channel="woocommerce", external_id="801").count() == 1


def test_api_lists_connections_and_health_for_the_owner_only(api_a, api_b, shopify_conn):
    body = api_a.get("/api/v1/channels/").json()
    assert [c["id"] for c in body["results"]] == [shopify_conn.pk]
    assert "access_token" not in body["results"][0]
    assert api_a.get(f"/api/v1/channels/{shopify_conn.pk}/health/").json()["dead_letters_open"] == 0
    assert api_b.get(f"/api/v1/channels/{shopify_conn.pk}/").status_code == 404
    assert api_b.get("/api/v1/channels/").json()["results"] == []
    assert api_b.post(f"/api/v1/channels/{shopify_conn.pk}/sync/").status_code == 404
    result = api_a.post(f"/api/v1/channels/{shopify_conn.pk}/test/").json()
    assert result == {
        "ok": True,
        "message": "Connected to Acme Test Shop. We can read orders and products and update stock.",
    }


def test_api_schema_lists_channel_endpoints(api_a):
    schema = api_a.get("/api/v1/schema/?format=json").json()
    assert "/api/v1/channels/{id}/health/" in schema["paths"]


def test_cancellation_from_the_channel_is_not_echoed_back(shopify_conn, shopify_secret):
    from integrations.shopify.mapper import order_from_shopify
    from tests.channels.fakes.shopify import make_order as shopify_order

    order, _, _ = services.channel_order_ingest(
        connection=shopify_conn, order=order_from_shopify(shopify_order(71))
    )
    assert services.order_cancelled(order_id=order.pk, reason="cancelled on the channel") is None
    push_id = services.order_cancelled(order_id=order.pk, reason="Cancelled by the merchant in Fulfil")
    assert ChannelPush.objects.get(pk=push_id).key == f"cancellation:{order.pk}"


def test_shipped_order_pushes_fulfillment_with_the_shipments_tracking(shopify_conn, fake_shopify):
    from integrations.carriers.models import Shipment
    from integrations.shopify.mapper import order_from_shopify
    from tests.channels.fakes.shopify import make_order as shopify_order

    raw = fake_shopify.add_order(shopify_order(81, quantity=2))
    order, _, _ = services.channel_order_ingest(connection=shopify_conn, order=order_from_shopify(raw))
    shipment = Shipment.objects.create(
        merchant=shopify_conn.merchant,
        order=order,
        carrier="ups",
        service="Ground",
        idempotency_key="t-81",
        tracking_number="1Z81",
        public_tracking_url="https://track.example/1Z81",
    )
    push_id = services.order_shipped(order_id=order.pk, shipment_id=shipment.pk)
    assert services.push_send(push_id=push_id) == "done"
    sent = fake_shopify.fulfillments[0]
    assert sent["tracking_info"] == {"company": "ups", "number": "1Z81", "url": "https://track.example/1Z81"}
    assert sent["line_items_by_fulfillment_order"][0]["fulfillment_order_line_items"][0]["quantity"] == 2
    # The same shipment event again (a retried outbox handler) sends nothing new.
    assert services.order_shipped(order_id=order.pk, shipment_id=shipment.pk) is None
    assert len(fake_shopify.fulfillments) == 1
