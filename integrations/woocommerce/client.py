"""WooCommerce through the ``woocommerce`` client (REST API v3, consumer key/secret): the only I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
import woocommerce

from integrations import conf, ratelimit
from integrations.base import (
    ChannelProduct,
    ConnectionCheck,
    FulfillmentLine,
    OrderPage,
    RejectedProviderError,
    RetryableProviderError,
    StockUpdate,
    Tracking,
    Webhook,
    WebhookAction,
    WebhookSignatureError,
    header,
    register,
)
from integrations.common import hmac_matches, iso
from integrations.woocommerce.mapper import order_from_woocommerce, product_from_woocommerce


@register
class WooCommerceChannel:
    platform: ClassVar[str] = "woocommerce"
    auth: ClassVar[str] = "keys"
    account_label: ClassVar[str] = "Store URL (https://shop.example.com)"
    credential_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("consumer_key", "Consumer key (ck_…)"),
        ("consumer_secret", "Consumer secret (cs_…)"),
    )
    syncs: ClassVar[tuple[str, ...]] = (
        "Orders in real time (webhooks) and by reconciliation",
        "Stock quantities of products and variations",
        "Completion with tracking note",
        "Cancellations",
        "Product import",
    )

    def __init__(self, connection, *, timeout: float | None = None):
        from integrations.services import connection_credentials

        self.connection = connection
        creds = connection_credentials(connection)
        url = connection.base_url or connection.account_id
        self.api = woocommerce.API(
            url=url,
            consumer_key=creds.get("consumer_key", ""),
            consumer_secret=creds.get("consumer_secret", ""),
            version="wc/v3",
            timeout=timeout or conf.timeout(),
            query_string_auth=url.startswith("https://") or bool(creds.get("query_string_auth")),
        )

    def _call(self, method: str, path: str, data: Any = None, params: dict | None = None):
        wait = ratelimit.acquire(connection_id=self.connection.pk, platform=self.platform)
        if wait:
            raise RetryableProviderError("our WooCommerce request budget is spent; waiting", retry_after=wait)
        try:
            if method == "get":
                response = self.api.get(path, params=params or {})
            else:
                response = getattr(self.api, method)(path, data)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetryableProviderError(f"Could not reach the store: {exc}") from exc
        code = response.status_code
        if code == 429 or code >= 500:
            retry = response.headers.get("Retry-After")
            raise RetryableProviderError(
                f"The store answered {code}", retry_after=float(retry) if retry else None, status=code
            )
        if code in (401, 403):
            raise RejectedProviderError(
                "The store refused our API keys — check them in WooCommerce", status=code
            )
        if code >= 400:
            raise RejectedProviderError(
                f"The store rejected the request ({code}): {response.text[:200]}", status=code
            )
        return response

    def authenticate(self) -> None:
        return None

    def test_connection(self) -> ConnectionCheck:
        try:
            response = self._call("get", "system_status")
            data = response.json()
            self._call("get", "orders", params={"per_page": 1})
        except RejectedProviderError as exc:
            return ConnectionCheck(False, str(exc))
        except RetryableProviderError as exc:
            return ConnectionCheck(False, f"We could not reach your store right now ({exc}).")
        env = data.get("environment") or {}
        version = env.get("version") or ""
        return ConnectionCheck(
            True,
            f"Connected to your WooCommerce store{(' ' + version) if version else ''}. We can read orders and products.",
            {"version": version},
        )

    def _pages(self, path: str, params: dict):
        page = 1
        while True:
            response = self._call("get", path, params={**params, "page": page, "per_page": 100})
            items = response.json()
            yield from items
            total = int(response.headers.get("X-WP-TotalPages") or 1)
            if page >= total or not items:
                return
            page += 1

    def fetch_orders(self, *, cursor: str) -> OrderPage:
        params: dict[str, Any] = {"orderby": "modified", "order": "asc"}
        if cursor:
            params["modified_after"] = cursor
        orders = [
            order_from_woocommerce(
                o, store=self.connection.account_id, shipping_map=self.connection.shipping_map
            )
            for o in self._pages("orders", params)
        ]
        stamps = [o.updated_at for o in orders if o.updated_at]
        return OrderPage(orders=orders, cursor=iso(max(stamps)) if stamps else cursor)

    def fetch_products(self) -> list[ChannelProduct]:
        out = []
        for product in self._pages("products", {}):
            if product.get("type") == "variable":
                for variation in self._pages(f"products/{product['id']}/variations", {}):
                    out.append(product_from_woocommerce(variation, parent=product))
            else:
                out.append(product_from_woocommerce(product))
        return out

    def push_available(self, *, updates: list[StockUpdate]) -> None:
        simple = []
        for u in updates:
            if not u.external_id:
                continue
            body = {"id": int(u.external_id), "manage_stock": True, "stock_quantity": max(0, int(u.quantity))}
            if u.parent_id:  # a variation
                self._call("put", f"products/{u.parent_id}/variations/{u.external_id}", body)
            else:
                simple.append(body)
        for start in range(0, len(simple), 100):
            self._call("post", "products/batch", {"update": simple[start : start + 100]})

    def push_fulfillment(
        self, *, order_external_id: str, lines: list[FulfillmentLine], tracking: Tracking
    ) -> str:
        note = f"Shipped with {tracking.carrier or 'the carrier'}: tracking {tracking.number}"
        if tracking.url:
            note += f" ({tracking.url})"
        self._call("post", f"orders/{order_external_id}/notes", {"note": note, "customer_note": True})
        self._call(
            "put",
            f"orders/{order_external_id}",
            {
                "status": "completed",
                "meta_data": [
                    {
                        "key": "_wc_shipment_tracking_items",
                        "value": [
                            {
                                "tracking_provider": tracking.carrier,
                                "tracking_number": tracking.number,
                                "custom_tracking_link": tracking.url,
                            }
                        ],
                    }
                ],
            },
        )
        return order_external_id

    def push_cancellation(self, *, order_external_id: str, reason: str = "") -> None:
        self._call("put", f"orders/{order_external_id}", {"status": "cancelled"})

    def register_webhooks(self, *, address: str) -> int:
        created = 0
        existing = {w.get("topic") for w in self._call("get", "webhooks").json()}
        for topic in ("order.created", "order.updated", "order.deleted"):
            if topic not in existing:
                self._call(
                    "post",
                    "webhooks",
                    {
                        "name": f"Fulfil {topic}",
                        "topic": topic,
                        "delivery_url": address,
                        "secret": self.connection.webhook_secret,
                    },
                )
                created += 1
        return created

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> Webhook:
        if not hmac_matches(secret, body, header(headers, "X-WC-Webhook-Signature")):
            raise WebhookSignatureError("bad X-WC-Webhook-Signature")
        topic = header(headers, "X-WC-Webhook-Topic")
        source = header(headers, "X-WC-Webhook-Source")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        # WooCommerce has no event id; the delivery id changes per retry. One version of one resource is one
        # event: (topic, id, modification time), else the body's digest.
        version = data.get("date_modified_gmt") or data.get("date_modified") or ""
        if isinstance(data, dict) and data.get("id") and version:
            event_id = f"{topic}:{data['id']}:{version}"
        else:
            event_id = "sha256:" + hashlib.sha256(topic.encode() + b"|" + body).hexdigest()
        return Webhook(event_id=event_id, topic=topic, account_id=source)

    def interpret_webhook(self, webhook: Webhook) -> WebhookAction:
        payload = webhook.payload or {}
        if webhook.topic in ("order.created", "order.updated", "order.restored"):
            return WebhookAction(
                "order",
                order=order_from_woocommerce(
                    payload, store=self.connection.account_id, shipping_map=self.connection.shipping_map
                ),
            )
        if webhook.topic == "order.deleted" and payload.get("id"):
            return WebhookAction("cancelled", data={"order_external_id": str(payload["id"])})
        return WebhookAction("ignore")
