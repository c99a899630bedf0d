"""Per-product channel rules on the product page: see each channel's rule and available-to-sell, change it,
reset to the channel default; every change emits inventory.available_changed for the product's levels."""

import pytest

from fulfil.models import OutboxEvent
from inventory import services
from inventory.models import ChannelAllocationRule
from tests.inventory.factories import LocationFactory, ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(merchant_a):
    wh = WarehouseFactory(code="WHC")
    shelf = LocationFactory(warehouse=wh, code="A-01-01-1-A")
    p = ProductFactory(merchant=merchant_a, sku="CH-1")
    services.stock_receive(merchant=merchant_a, product=p, warehouse=wh, quantity=40, location=shelf)
    services.channel_rule_save(merchant=merchant_a, channel="shopify", rule="share", share_percent=50)
    return p, wh


def row(content: bytes, channel: str) -> str:
    html = content.decode()
    start = html.index(f'data-channel="{channel}"')
    return html[start : html.index("</tr>", start)]


def test_product_page_shows_and_edits_per_channel_rules(client_a, merchant_a, stocked):
    p, wh = stocked
    page = client_a.get(f"/app/inventory/products/{p.pk}/")
    assert page.status_code == 200
    shopify = row(page.content, "shopify")
    assert "channel default" in shopify
    assert '<td class="num available-to-sell">20</td>' in shopify  # 50 % of 40

    OutboxEvent.objects.all().delete()  # (a still-pending event of the same level may absorb a new one)
    resp = client_a.post(
        f"/app/inventory/products/{p.pk}/channels/",
        {"channel": "shopify", "rule": "cap", "cap": "15", "buffer": "5", "show_zero_below": "3"},
    )
    assert resp.status_code == 302
    rule = ChannelAllocationRule.objects.get(merchant=merchant_a, channel="shopify", product=p)
    assert (rule.rule, rule.cap, rule.buffer, rule.show_zero_below, rule.share_percent) == (
        "cap",
        15,
        5,
        3,
        100,
    )
    events = OutboxEvent.objects.filter(event_type="inventory.available_changed").order_by("pk")
    assert [e.payload for e in events] == [
        {"merchant_id": merchant_a.pk, "product_id": p.pk, "warehouse_id": wh.pk}
    ]
    shopify = row(client_a.get(f"/app/inventory/products/{p.pk}/").content, "shopify")
    assert "this product&#x27;s rule" in shopify or "this product's rule" in shopify
    assert '<td class="num available-to-sell">15</td>' in shopify  # min(40 - 5, 15)

    # a new channel just for this product: show zero below 50 hides the 40
    client_a.post(
        f"/app/inventory/products/{p.pk}/channels/",
        {"channel": "ebay", "rule": "all", "show_zero_below": "50"},
    )
    assert '<td class="num available-to-sell">0</td>' in row(
        client_a.get(f"/app/inventory/products/{p.pk}/").content, "ebay"
    )

    # back to the channel default
    client_a.post(f"/app/inventory/products/{p.pk}/channels/", {"channel": "shopify", "reset": "1"})
    assert not ChannelAllocationRule.objects.filter(channel="shopify", product=p).exists()
    assert '<td class="num available-to-sell">20</td>' in row(
        client_a.get(f"/app/inventory/products/{p.pk}/").content, "shopify"
    )


def test_bad_values_are_refused_with_the_reason(client_a, merchant_a, stocked):
    p, _ = stocked
    resp = client_a.post(
        f"/app/inventory/products/{p.pk}/channels/",
        {"channel": "shopify", "rule": "share", "share_percent": "150"},
    )
    assert resp.status_code == 400
    assert b"share_percent" in resp.content
    assert not ChannelAllocationRule.objects.filter(product=p).exists()


def test_another_merchant_cannot_set_rules_on_my_product(client, membership_b, stocked):
    p, _ = stocked
    client.force_login(membership_b.user)
    resp = client.post(f"/app/inventory/products/{p.pk}/channels/", {"channel": "shopify", "rule": "all"})
    assert resp.status_code == 404
    assert not ChannelAllocationRule.objects.filter(product=p).exists()
