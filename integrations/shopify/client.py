"""Shopify through the ``shopifyapi`` library (REST resources and ``shopify.GraphQL``): the only I/O.

Production activates a real ``shopify.Session`` (https://<shop>.myshopify.com/admin/api/<version>); a
connection with ``base_url`` (tests, the local fake) sets ``ShopifyResource.site`` directly plus the
access-token header, as the library allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pyactiveresource.connection as par
import shopify

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
from integrations.common import hmac_matches, iso, parse_time
from integrations.shopify.mapper import order_from_shopify, products_from_shopify

_lock = threading.RLock()  # the library keeps its site/headers per thread and class; one session at a time

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/edited", "orders/paid"}
PRIVACY_TOPICS = {"customers/data_request", "customers/redact", "shop/redact"}
FULFILLMENT_ORDER_TOPICS = {
    "fulfillment_orders/fulfillment_request_submitted": "fulfillment_request",
    "fulfillment_orders/cancellation_request_submitted": "cancellation_request",
    "fulfillment_orders/placed_on_hold": "hold",
    "fulfillment_orders/hold_released": "unhold",
    "fulfillment_orders/moved": "moved",
    "fulfillment_orders/cancelled": "cancelled",
}
WEBHOOK_TOPICS = sorted(
    ORDER_TOPICS | PRIVACY_TOPICS | set(FULFILLMENT_ORDER_TOPICS) | {"app/uninstalled", "products/update"}
)

SET_QUANTITIES = """
mutation inventorySetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { reason }
    userErrors { field message }
  }
}
"""
SHOP_QUERY = "{ shop { name myshopifyDomain } }"


class _GraphQL(shopify.GraphQL):
    """``shopify.GraphQL`` with an explicit timeout (the library's ``urlopen`` has none)."""

    timeout: float = 10.0

    def execute(self, query, variables=None, operation_name=None):
        headers = self.merge_headers(
            {"Accept": "application/json", "Content-Type": "application/json"}, self.headers
        )
        data = json.dumps({"query": query, "variables": variables, "operationName": operation_name}).encode()
        req = urllib.request.Request(self.endpoint, data, headers)  # noqa: S310 - https or loopback fake
        with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
            return response.read().decode("utf-8")


def session_site(shop: str, version: str) -> str:
    """The REST site a real ``shopify.Session`` resolves to (used in production; unit-tested)."""
    session = shopify.Session(shop, version, "token")
    return session.site


def _gid(kind: str, value: str) -> str:
    return value if str(value).startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = header(headers, "Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


@register
class ShopifyChannel:
    platform: ClassVar[str] = "shopify"
    auth: ClassVar[str] = "oauth"
    account_label: ClassVar[str] = "Shop domain (your-store.myshopify.com)"
    credential_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    syncs: ClassVar[tuple[str, ...]] = (
        "Orders in real time (webhooks) and by reconciliation",
        "Stock levels at the Fulfil location",
        "Fulfillments with tracking",
        "Cancellation, hold and move requests",
        "Product import",
    )

    def __init__(self, connection, *, timeout: float | None = None):
        self.connection = connection
        self.timeout = timeout or conf.timeout()
        self.version = conf.get("SHOPIFY_API_VERSION")

    # --- session and errors ------------------------------------------------------------------------
    @property
    def site(self) -> str:
        base = (self.connection.base_url or "").rstrip("/")
        if base:
            return f"{base}/admin/api/{self.version}"
        return session_site(self.connection.account_id, self.version)

    @contextlib.contextmanager
    def _session(self, cost: float = 1.0) -> Iterator[None]:
        wait = ratelimit.acquire(connection_id=self.connection.pk, platform="shopify", cost=cost)
        if wait:
            raise RetryableProviderError("our Shopify request budget is spent; waiting", retry_after=wait)
        with _lock:
            if self.connection.base_url:
                shopify.ShopifyResource.clear_session()
                shopify.ShopifyResource.site = self.site
                shopify.ShopifyResource.set_headers({"X-Shopify-Access-Token": self.connection.access_token})
            else:
                shopify.ShopifyResource.activate_session(
                    shopify.Session(self.connection.account_id, self.version, self.connection.access_token)
                )
            shopify.ShopifyResource.timeout = self.timeout
            try:
                yield
            except par.ClientError as exc:
                code = exc.code or 0
                if code == 429:
                    raise RetryableProviderError(
                        "Shopify asked us to slow down (429)",
                        retry_after=_retry_after(getattr(exc.response, "headers", None)) or 2.0,
                        status=429,
                    ) from exc
                if code in (401, 403):
                    raise RejectedProviderError(
                        "Shopify refused our access token — reconnect the store", status=code
                    ) from exc
                raise RejectedProviderError(
                    f"Shopify rejected the request ({code}): {exc}", status=code
                ) from exc
            except par.ServerError as exc:
                raise RetryableProviderError(f"Shopify server error ({exc.code})", status=exc.code) from exc
            except urllib.error.HTTPError as exc:  # GraphQL
                if exc.code == 429 or exc.code >= 500:
                    raise RetryableProviderError(
                        f"Shopify GraphQL {exc.code}", retry_after=_retry_after(exc.headers), status=exc.code
                    ) from exc
                raise RejectedProviderError(f"Shopify GraphQL {exc.code}", status=exc.code) from exc
            except (par.Error, urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                raise RetryableProviderError(f"Could not reach Shopify: {exc}") from exc
            finally:
                shopify.ShopifyResource.clear_session()

    def _rest(self, method: str, path: str, body: dict | None = None) -> dict:
        conn = shopify.ShopifyResource.connection
        url = self.site + path
        headers = dict(shopify.ShopifyResource.get_headers())
        data = json.dumps(body).encode() if body is not None else None
        if method == "GET":
            response = conn._open("GET", url, headers)
        else:
            headers["Content-Type"] = "application/json"
            response = conn._open(method, url, headers, data)
        return json.loads(response.body or b"{}")

    def _graphql(self, query: str, variables: dict | None = None) -> dict:
        client = _GraphQL()
        client.timeout = self.timeout
        result = json.loads(client.execute(query, variables))
        throttle = ((result.get("extensions") or {}).get("cost") or {}).get("throttleStatus")
        if throttle:
            self.connection.rate_state = {"graphql": throttle}
        for error in result.get("errors") or []:
            code = ((error.get("extensions") or {}).get("code")) or ""
            if code == "THROTTLED":
                restore = float((throttle or {}).get("restoreRate") or 50)
                raise RetryableProviderError("Shopify GraphQL cost budget spent", retry_after=100 / restore)
            raise RejectedProviderError(f"Shopify GraphQL error: {error.get('message')}")
        return result.get("data") or {}

    # --- the protocol ----------------------------------------------------------------------------
    def authenticate(self) -> None:
        """Expiring offline tokens (Shopify's newer apps) are refreshed a few minutes before they expire."""
        conn = self.connection
        if not conn.access_token:
            raise RejectedProviderError("This store has not finished the Shopify authorisation")
        if not (conn.refresh_token and conn.token_expires_at):
            return
        from datetime import timedelta

        from django.utils import timezone

        if conn.token_expires_at - timedelta(minutes=5) > timezone.now():
            return
        from integrations.shopify import oauth

        data = oauth.refresh_token(
            shop=conn.account_id, refresh_token=conn.refresh_token, base_url=conn.base_url
        )
        conn.access_token = data["access_token"]
        conn.refresh_token = data.get("refresh_token") or conn.refresh_token
        conn.token_expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 3600))
        if conn.pk:
            type(conn).objects.filter(pk=conn.pk).update(
                access_token=conn.access_token,
                refresh_token=conn.refresh_token,
                token_expires_at=conn.token_expires_at,
            )

    def test_connection(self) -> ConnectionCheck:
        try:
            self.authenticate()
            with self._session():
                shop = shopify.Shop.current()
                data = self._graphql(SHOP_QUERY)
                scopes = [s.handle for s in shopify.AccessScope.find()] if not self.connection.scopes else []
        except RejectedProviderError as exc:
            return ConnectionCheck(False, f"Shopify refused: {exc}")
        except RetryableProviderError as exc:
            return ConnectionCheck(False, f"We could not reach Shopify right now ({exc}). Try again shortly.")
        name = (data.get("shop") or {}).get("name") or getattr(shop, "name", "")
        return ConnectionCheck(
            True,
            f"Connected to {name}. We can read orders and products and update stock.",
            {"shop": name, "scopes": scopes},
        )

    def fetch_orders(self, *, cursor: str) -> OrderPage:
        """Orders updated since ``cursor`` (an ISO time), oldest first, every page."""
        params: dict[str, Any] = {"status": "any", "limit": 250}
        if cursor:
            params["updated_at_min"] = cursor
        orders = []
        newest = parse_time(cursor) if cursor else None
        with self._session():
            page = shopify.Order.find(**params)
            while True:
                for resource in page:
                    data = resource.to_dict()
                    order = order_from_shopify(
                        data, shop=self.connection.account_id, shipping_map=self.connection.shipping_map
                    )
                    orders.append(order)
                    if order.updated_at and (newest is None or order.updated_at > newest):
                        newest = order.updated_at
                if not page.has_next_page():
                    break
                page = page.next_page()
        return OrderPage(orders=orders, cursor=iso(newest) if newest else cursor)

    def fetch_products(self) -> list[ChannelProduct]:
        out: list[ChannelProduct] = []
        with self._session():
            page = shopify.Product.find(limit=250)
            while True:
                for resource in page:
                    out.extend(products_from_shopify(resource.to_dict()))
                if not page.has_next_page():
                    break
                page = page.next_page()
        return out

    def register_fulfillment_service(self, *, callback_url: str) -> str:
        """Register Fulfil as a fulfillment service on the shop; returns its location id."""
        with self._session():
            existing = [s for s in shopify.FulfillmentService.find(scope="all") if s.name == "Fulfil"]
            service = existing[0] if existing else shopify.FulfillmentService()
            if not existing:
                service.name = "Fulfil"
                service.callback_url = callback_url
                service.inventory_management = True
                service.tracking_support = True
                service.requires_shipping_method = True
                service.fulfillment_orders_opt_in = True
                service.permits_sku_sharing = True
                service.attributes["format"] = "json"
                if not service.save():
                    raise RejectedProviderError(
                        f"Shopify refused the fulfillment service: {service.errors.full_messages()}"
                    )
            return str(service.location_id or "")

    def register_webhooks(self, *, address: str) -> int:
        created = 0
        with self._session():
            have = {w.topic for w in shopify.Webhook.find()}
            for topic in WEBHOOK_TOPICS:
                if topic in PRIVACY_TOPICS or topic in have:
                    continue  # privacy webhooks are configured in the app's settings, not per shop
                hook = shopify.Webhook({"topic": topic, "address": address, "format": "json"})
                if hook.save():
                    created += 1
        return created

    def push_available(self, *, updates: list[StockUpdate]) -> None:
        if not updates:
            return
        location = self.connection.channel_location_id
        if not location:
            raise RejectedProviderError("The Fulfil location is not registered on this shop yet")
        quantities = [
            {
                "inventoryItemId": _gid("InventoryItem", u.inventory_item_id),
                "locationId": _gid("Location", location),
                "quantity": max(0, int(u.quantity)),
            }
            for u in updates
            if u.inventory_item_id
        ]
        for start in range(0, len(quantities), 250):
            chunk = quantities[start : start + 250]
            with self._session(cost=max(1.0, len(chunk) / 10)):
                data = self._graphql(
                    SET_QUANTITIES,
                    {
                        "input": {
                            "name": "available",
                            "reason": "correction",
                            "ignoreCompareQuantity": True,
                            "quantities": chunk,
                        }
                    },
                )
            errors = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
            if errors:
                raise RejectedProviderError("; ".join(e.get("message", "") for e in errors))

    def _fulfillment_orders(self, order_external_id: str) -> list[dict]:
        data = self._rest("GET", f"/orders/{order_external_id}/fulfillment_orders.json")
        return data.get("fulfillment_orders") or []

    def push_fulfillment(
        self, *, order_external_id: str, lines: list[FulfillmentLine], tracking: Tracking
    ) -> str:
        """Create fulfillments with tracking: one call per assigned location, as Shopify requires."""
        wanted: dict[str, int] = {}
        for line in lines:
            key = line.external_line_id or line.sku
            wanted[key] = wanted.get(key, 0) + line.quantity
        ids = []
        with self._session(cost=2):
            by_location: dict[str, list[dict]] = {}
            for fo in self._fulfillment_orders(order_external_id):
                if fo.get("status") not in ("open", "in_progress"):
                    continue
                location = str(fo.get("assigned_location_id") or "")
                if self.connection.channel_location_id and location != str(
                    self.connection.channel_location_id
                ):
                    continue
                items = []
                for item in fo.get("fulfillment_order_line_items") or []:
                    key = str(item.get("line_item_id"))
                    if key not in wanted:
                        key = str(item.get("sku") or "")
                    take = (
                        min(int(item.get("quantity") or 0), wanted.get(key, 0))
                        if wanted
                        else int(item.get("quantity") or 0)
                    )
                    if take > 0:
                        items.append({"id": item["id"], "quantity": take})
                        if wanted:
                            wanted[key] -= take
                if items:
                    by_location.setdefault(location, []).append(
                        {"fulfillment_order_id": fo["id"], "fulfillment_order_line_items": items}
                    )
            for _location, groups in sorted(by_location.items()):
                body = {
                    "fulfillment": {
                        "line_items_by_fulfillment_order": groups,
                        "tracking_info": {
                            "company": tracking.carrier,
                            "number": tracking.number,
                            "url": tracking.url,
                        },
                        "notify_customer": True,
                    }
                }
                result = self._rest("POST", "/fulfillments.json", body)
                ids.append(str((result.get("fulfillment") or {}).get("id", "")))
        if not ids:
            raise RejectedProviderError("No open fulfillment order for this order at the Fulfil location")
        return ",".join(ids)

    def push_cancellation(self, *, order_external_id: str, reason: str = "") -> None:
        """We cancelled: accept a pending cancellation request, else cancel the order on Shopify."""
        with self._session(cost=2):
            fos = self._fulfillment_orders(order_external_id)
            requested = [fo for fo in fos if fo.get("request_status") == "cancellation_requested"]
            if requested:
                for fo in requested:
                    self._rest(
                        "POST",
                        f"/fulfillment_orders/{fo['id']}/cancellation_request/accept.json",
                        {"cancellation_request": {"message": reason or "Cancelled"}},
                    )
                return
            self._rest("POST", f"/orders/{order_external_id}/cancel.json", {"reason": "other"})

    def accept_fulfillment_request(self, *, fulfillment_order_id: str, message: str = "") -> None:
        with self._session():
            self._rest(
                "POST",
                f"/fulfillment_orders/{fulfillment_order_id}/fulfillment_request/accept.json",
                {"fulfillment_request": {"message": message or "Accepted by Fulfil"}},
            )

    def reject_cancellation_request(self, *, fulfillment_order_id: str, message: str) -> None:
        with self._session():
            self._rest(
                "POST",
                f"/fulfillment_orders/{fulfillment_order_id}/cancellation_request/reject.json",
                {"cancellation_request": {"message": message}},
            )

    def accept_cancellation_request(self, *, fulfillment_order_id: str, message: str = "") -> None:
        with self._session():
            self._rest(
                "POST",
                f"/fulfillment_orders/{fulfillment_order_id}/cancellation_request/accept.json",
                {"cancellation_request": {"message": message or "Cancelled"}},
            )

    def assigned_fulfillment_orders(self, *, assignment_status: str) -> list[dict]:
        """Fulfillment orders assigned to our location with a pending request (fulfillment_requested or
        cancellation_requested) — what a fulfillment-service notification asks us to look at."""
        path = f"/assigned_fulfillment_orders.json?assignment_status={assignment_status}"
        if self.connection.channel_location_id:
            path += f"&location_ids[]={self.connection.channel_location_id}"
        with self._session():
            return self._rest("GET", path).get("fulfillment_orders") or []

    def fetch_order(self, *, order_external_id: str):
        with self._session():
            data = self._rest("GET", f"/orders/{order_external_id}.json").get("order") or {}
        return order_from_shopify(
            data, shop=self.connection.account_id, shipping_map=self.connection.shipping_map
        )

    # --- webhooks ----------------------------------------------------------------------------------
    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> Webhook:
        if not hmac_matches(secret, body, header(headers, "X-Shopify-Hmac-Sha256")):
            raise WebhookSignatureError("bad X-Shopify-Hmac-Sha256")
        topic = header(headers, "X-Shopify-Topic")
        shop = header(headers, "X-Shopify-Shop-Domain")
        event_id = header(headers, "X-Shopify-Event-Id")
        if not event_id:  # older deliveries: the same body for the same topic is the same event
            event_id = "sha256:" + hashlib.sha256(f"{topic}|{shop}|".encode() + body).hexdigest()
        return Webhook(event_id=event_id, topic=topic, account_id=shop)

    def interpret_webhook(self, webhook: Webhook) -> WebhookAction:
        topic, payload = webhook.topic, webhook.payload or {}
        if topic in ORDER_TOPICS:
            return WebhookAction(
                "order",
                order=order_from_shopify(
                    payload, shop=self.connection.account_id, shipping_map=self.connection.shipping_map
                ),
            )
        if topic == "fulfillment_service/notification":
            return WebhookAction("assigned_requests", data={"kind": str(payload.get("kind") or "")})
        if topic == "app/uninstalled":
            return WebhookAction("uninstall")
        if topic in PRIVACY_TOPICS:
            customer = payload.get("customer") or {}
            return WebhookAction(
                "privacy",
                data={
                    "kind": {
                        "customers/data_request": "data_request",
                        "customers/redact": "customer_redact",
                    }.get(topic, "shop_redact"),
                    "email": customer.get("email") or "",
                    "order_ids": [
                        str(i)
                        for i in payload.get("orders_to_redact") or payload.get("orders_requested") or []
                    ],
                },
            )
        if topic in FULFILLMENT_ORDER_TOPICS:
            fo = payload.get("fulfillment_order") or payload.get("original_fulfillment_order") or {}
            order_id = str(fo.get("order_id") or "").rsplit("/", 1)[-1]
            return WebhookAction(
                FULFILLMENT_ORDER_TOPICS[topic],
                data={
                    "fulfillment_order_id": str(fo.get("id") or "").rsplit("/", 1)[-1],
                    "order_external_id": order_id,
                    "status": fo.get("status") or "",
                    "destination_location_id": str(
                        ((payload.get("moved_fulfillment_order") or {}).get("assigned_location_id")) or ""
                    ),
                },
            )
        return WebhookAction("ignore")
