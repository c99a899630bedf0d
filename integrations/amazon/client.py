"""Amazon Seller Central (merchant-fulfilled orders) through ``python-amazon-sp-api``: the only I/O.

Orders API v0 polled by LastUpdatedAfter with NextToken paging, order items, shipment confirmation; stock via a
Listings Items API patch of ``fulfillment_availability``. LWA refresh-token auth by the library; a connection
with ``base_url`` (tests) points both the API endpoint and the LWA token endpoint at it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from sp_api.api import ListingsItems, Orders
from sp_api.auth import AccessTokenClient
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import Marketplaces, SellingApiException

from integrations import conf, ratelimit
from integrations.amazon.mapper import order_from_amazon, product_from_amazon
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
    register,
)
from integrations.common import iso


def lwa_client_for(base_url: str) -> type[AccessTokenClient]:
    """An LWA token client that talks to ``base_url`` instead of https://api.amazon.com."""
    parts = urlsplit(base_url)

    class LocalAccessTokenClient(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc

    return LocalAccessTokenClient


@register
class AmazonChannel:
    platform: ClassVar[str] = "amazon"
    auth: ClassVar[str] = "oauth"  # consent screen; pasting a refresh token is the advanced path
    account_label: ClassVar[str] = "Seller ID (merchant token)"
    credential_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("refresh_token", "LWA refresh token (from authorising the Fulfil app)"),
        ("marketplace", "Marketplace (US, CA, MX, UK, DE, …)"),
    )
    syncs: ClassVar[tuple[str, ...]] = (
        "Merchant-fulfilled orders by reconciliation poll (every few minutes)",
        "Stock quantities (Listings Items API)",
        "Shipment confirmation with tracking",
        "Product (listing) import",
    )

    def __init__(self, connection, *, timeout: float | None = None):
        from integrations.services import connection_credentials

        self.connection = connection
        self.creds = connection_credentials(connection)
        self.timeout = timeout or conf.timeout()
        try:
            self.marketplace = Marketplaces[(self.creds.get("marketplace") or "US").upper()]
        except KeyError:
            self.marketplace = Marketplaces.US

    def _client(self, cls, **kwargs):
        credentials = {
            "refresh_token": self.creds.get("refresh_token", ""),
            "lwa_app_id": self.creds.get("lwa_app_id") or conf.get("AMAZON_LWA_CLIENT_ID") or "fulfil",
            "lwa_client_secret": self.creds.get("lwa_client_secret")
            or conf.get("AMAZON_LWA_CLIENT_SECRET")
            or "x",
        }
        extra = {}
        if self.connection.base_url:
            extra["auth_token_client_class"] = lwa_client_for(self.connection.base_url)
        client = cls(
            credentials=credentials, marketplace=self.marketplace, timeout=self.timeout, **extra, **kwargs
        )
        if self.connection.base_url:
            client.endpoint = self.connection.base_url.rstrip("/")
        return client

    def _call(self, fn, *args, **kwargs):
        wait = ratelimit.acquire(connection_id=self.connection.pk, platform=self.platform)
        if wait:
            raise RetryableProviderError("our Amazon request budget is spent; waiting", retry_after=wait)
        try:
            return fn(*args, **kwargs)
        except SellingApiException as exc:
            code = getattr(exc, "code", 999)
            message = getattr(exc, "message", "") or str(exc.error)
            if code == 429 or code >= 500:
                limit = (exc.headers or {}).get("x-amzn-RateLimit-Limit") if code == 429 else None
                retry_after = 1 / float(limit) if limit else (5.0 if code == 429 else None)
                raise RetryableProviderError(
                    f"Amazon answered {code}: {message}", retry_after=retry_after, status=code
                ) from exc
            if code in (401, 403):
                raise RejectedProviderError(
                    f"Amazon refused our access ({message}) — re-authorise Fulfil", status=code
                ) from exc
            raise RejectedProviderError(
                f"Amazon rejected the request ({code}): {message}", status=code
            ) from exc
        except AuthorizationError as exc:  # Login with Amazon refused or failed the token exchange
            code = exc.status_code or 0
            if code == 429 or code >= 500:
                raise RetryableProviderError(f"Amazon sign-in answered {code}", status=code) from exc
            raise RejectedProviderError(
                f"Amazon refused the refresh token ({exc.error_code or code}) — re-authorise Fulfil",
                status=code,
            ) from exc
        except httpx.TimeoutException as exc:
            raise RetryableProviderError("Amazon timed out") from exc
        except httpx.TransportError as exc:
            raise RetryableProviderError(f"Could not reach Amazon: {exc}") from exc
        except Exception as exc:  # the library raises plain errors when LWA refuses the refresh token
            if "invalid_grant" in str(exc) or "unauthorized" in str(exc).lower():
                raise RejectedProviderError("Amazon refused the refresh token — re-authorise Fulfil") from exc
            raise

    def authenticate(self) -> None:
        if not self.creds.get("refresh_token"):
            raise RejectedProviderError("No Amazon refresh token: authorise Fulfil in Seller Central")

    def test_connection(self) -> ConnectionCheck:
        try:
            self.authenticate()
            self._call(
                self._client(Orders).get_orders, CreatedAfter=iso(datetime.now(UTC)), MaxResultsPerPage=1
            )
        except RejectedProviderError as exc:
            return ConnectionCheck(False, str(exc))
        except RetryableProviderError as exc:
            return ConnectionCheck(False, f"We could not reach Amazon right now ({exc}).")
        return ConnectionCheck(
            True, f"Connected to Amazon ({self.marketplace.name}). We can read your orders."
        )

    def _items(self, client, order_id: str) -> list[dict]:
        items, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {}
            page = self._call(client.get_order_items, order_id, **kwargs)
            items.extend(page.payload.get("OrderItems") or [])
            token = page.next_token
            if not token:
                return items

    def fetch_orders(self, *, cursor: str) -> OrderPage:
        client = self._client(Orders)
        params = {
            "LastUpdatedAfter": cursor or "2020-01-01T00:00:00Z",
            "FulfillmentChannels": ["MFN"],
            "MaxResultsPerPage": 100,
        }
        orders, newest = [], cursor
        token = None
        while True:
            page = self._call(client.get_orders, **({"NextToken": token} if token else params))
            for order in page.payload.get("Orders") or []:
                if order.get("LastUpdateDate") and order["LastUpdateDate"] > (newest or ""):
                    newest = order["LastUpdateDate"]
                if order.get("OrderStatus") in ("Pending", "PendingAvailability"):
                    continue  # not yet paid: Amazon says do not ship
                items = self._items(client, order["AmazonOrderId"])
                orders.append(
                    order_from_amazon(
                        order,
                        items,
                        seller=self.connection.account_id,
                        shipping_map=self.connection.shipping_map,
                    )
                )
            token = page.next_token
            if not token:
                break
        return OrderPage(orders=orders, cursor=newest or cursor)

    def fetch_products(self) -> list[ChannelProduct]:
        client = self._client(ListingsItems, version="2021-08-01")
        out, token = [], None
        while True:
            kwargs = {
                "marketplaceIds": [self.marketplace.marketplace_id],
                "includedData": "summaries,fulfillmentAvailability",
            }
            if token:
                kwargs["pageToken"] = token
            page = self._call(client.search_listings_items, self.connection.account_id, **kwargs)
            out.extend(product_from_amazon(item) for item in page.payload.get("items") or [])
            token = (page.payload.get("pagination") or {}).get("nextToken")
            if not token:
                return out

    def push_available(self, *, updates: list[StockUpdate]) -> None:
        client = self._client(ListingsItems, version="2021-08-01")
        for u in updates:
            body = {
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": max(0, int(u.quantity))}
                        ],
                    }
                ],
            }
            result = self._call(
                client.patch_listings_item,
                self.connection.account_id,
                u.sku,
                marketplaceIds=[self.marketplace.marketplace_id],
                body=body,
            )
            if (result.payload or {}).get("status") == "INVALID":
                raise RejectedProviderError(
                    f"Amazon refused the quantity for {u.sku}: {result.payload.get('issues')}"
                )

    def push_fulfillment(
        self, *, order_external_id: str, lines: list[FulfillmentLine], tracking: Tracking
    ) -> str:
        client = self._client(Orders)
        self._call(
            client.confirm_shipment,
            order_external_id,
            marketplaceId=self.marketplace.marketplace_id,
            packageDetail={
                "packageReferenceId": "1",
                "carrierCode": tracking.carrier or "Other",
                "shippingMethod": tracking.service or "Standard",
                "trackingNumber": tracking.number,
                "shipDate": iso(datetime.now(UTC)),
                "orderItems": [
                    {"orderItemId": ln.external_line_id, "quantity": ln.quantity}
                    for ln in lines
                    if ln.external_line_id
                ],
            },
        )
        return order_external_id

    def push_cancellation(self, *, order_external_id: str, reason: str = "") -> None:
        raise RejectedProviderError(
            "Amazon merchant-fulfilled orders are cancelled in Seller Central (Orders → Cancel order); "
            "Fulfil stopped the shipment."
        )

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> Webhook:
        raise WebhookSignatureError("Amazon delivers notifications through SQS/EventBridge; we poll instead")

    def interpret_webhook(self, webhook: Webhook) -> WebhookAction:
        return WebhookAction("ignore")
