"""eBay Sell APIs (Fulfillment, Inventory) on httpx: the only I/O.

PyPI checked: ``ebay-rest`` is maintained but fixes its hosts to eBay's production/sandbox (no base URL), so a
small typed client here. OAuth user token: refreshed with the stored refresh token before it expires."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

from django.utils import timezone

from integrations import conf
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
from integrations.ebay.mapper import order_from_ebay, product_from_ebay
from integrations.http import HttpChannel, basic_auth

BASE_URL = "https://api.ebay.com"
SCOPES = "https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.inventory"
REFRESH_MARGIN = timedelta(minutes=5)


@register
class EbayChannel(HttpChannel):
    platform: ClassVar[str] = "ebay"
    default_base_url: ClassVar[str] = BASE_URL
    refresh_margin: ClassVar[timedelta] = REFRESH_MARGIN
    auth: ClassVar[str] = "oauth"  # consent screen; pasting a refresh token is the advanced path
    account_label: ClassVar[str] = "eBay user ID"
    credential_fields: ClassVar[tuple[tuple[str, str], ...]] = (
        ("refresh_token", "OAuth refresh token (from authorising Fulfil on eBay)"),
    )
    syncs: ClassVar[tuple[str, ...]] = (
        "Orders by reconciliation poll (every few minutes)",
        "Stock quantities (Inventory API)",
        "Shipping fulfillments with tracking",
        "Product (inventory item) import",
    )

    # --- auth -----------------------------------------------------------------------------------------
    def authenticate(self) -> None:
        conn = self.connection
        if self.token_is_fresh():
            return
        refresh = conn.refresh_token or self.creds.get("refresh_token", "")
        if not refresh:
            raise RejectedProviderError("No eBay refresh token: authorise Fulfil on eBay")
        basic = basic_auth(
            self.creds.get("client_id") or conf.get("EBAY_CLIENT_ID"),
            self.creds.get("client_secret") or conf.get("EBAY_CLIENT_SECRET"),
        )
        response = self.http.request(
            "POST",
            "/identity/v1/oauth2/token",
            label="eBay sign-in",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": SCOPES},
            headers={"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
        )
        data = response.json()
        conn.access_token = data["access_token"]
        conn.token_expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 7200))
        if conn.pk:
            type(conn).objects.filter(pk=conn.pk).update(
                access_token=conn.access_token,
                token_expires_at=conn.token_expires_at,
            )

    def _call(self, method: str, path: str, **kwargs):
        self.authenticate()
        headers = {
            "Authorization": f"Bearer {self.connection.access_token}",
            "Accept": "application/json",
            **kwargs.pop("headers", {}),
        }
        try:
            return self.http.request(method, path, headers=headers, label="eBay", **kwargs)
        except RejectedProviderError as exc:
            if exc.status == 401:  # token revoked early: drop it so the next call refreshes
                self.connection.token_expires_at = None
            raise

    # --- protocol -------------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        try:
            self._call("GET", "/sell/fulfillment/v1/order", params={"limit": 1})
        except RejectedProviderError as exc:
            return ConnectionCheck(False, str(exc))
        except RetryableProviderError as exc:
            return ConnectionCheck(False, f"We could not reach eBay right now ({exc}).")
        return ConnectionCheck(True, "Connected to eBay. We can read your orders and update your stock.")

    def fetch_orders(self, *, cursor: str) -> OrderPage:
        since = cursor or "2020-01-01T00:00:00.000Z"
        orders, newest = [], cursor
        params = {"filter": f"lastmodifieddate:[{since}..]", "limit": 50, "offset": 0}
        path = "/sell/fulfillment/v1/order"
        while True:
            data = self._call("GET", path, params=params).json()
            for raw in data.get("orders") or []:
                order = order_from_ebay(
                    raw, account=self.connection.account_id, shipping_map=self.connection.shipping_map
                )
                orders.append(order)
                if order.updated_at and iso(order.updated_at) > (newest or ""):
                    newest = iso(order.updated_at)
            if not data.get("next"):
                break
            params = {
                **params,
                "offset": int(data.get("offset") or params["offset"]) + int(data.get("limit") or 50),
            }
        return OrderPage(orders=orders, cursor=newest or cursor)

    def fetch_products(self) -> list[ChannelProduct]:
        out, offset = [], 0
        while True:
            data = self._call(
                "GET", "/sell/inventory/v1/inventory_item", params={"limit": 100, "offset": offset}
            ).json()
            out.extend(product_from_ebay(item) for item in data.get("inventoryItems") or [])
            if not data.get("next"):
                return out
            offset += 100

    def push_available(self, *, updates: list[StockUpdate]) -> None:
        for start in range(0, len(updates), 25):
            chunk = updates[start : start + 25]
            body = {
                "requests": [
                    {"sku": u.sku, "shipToLocationAvailability": {"quantity": max(0, int(u.quantity))}}
                    for u in chunk
                ]
            }
            data = self._call("POST", "/sell/inventory/v1/bulk_update_price_quantity", json=body).json()
            failed = [r for r in data.get("responses") or [] if int(r.get("statusCode") or 200) >= 400]
            if failed:
                raise RejectedProviderError(f"eBay refused quantities: {failed[:3]}")

    def push_fulfillment(
        self, *, order_external_id: str, lines: list[FulfillmentLine], tracking: Tracking
    ) -> str:
        body = {
            "lineItems": [
                {"lineItemId": ln.external_line_id, "quantity": ln.quantity}
                for ln in lines
                if ln.external_line_id
            ],
            "shippedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "shippingCarrierCode": tracking.carrier or "Other",
            "trackingNumber": tracking.number,
        }
        response = self._call(
            "POST", f"/sell/fulfillment/v1/order/{quote(order_external_id)}/shipping_fulfillment", json=body
        )
        return response.headers.get("Location", "").rsplit("/", 1)[-1] or order_external_id

    def push_cancellation(self, *, order_external_id: str, reason: str = "") -> None:
        raise RejectedProviderError(
            "eBay orders are cancelled by the seller in Seller Hub (Orders → Cancel order); Fulfil stopped the shipment."
        )

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, secret: str) -> Webhook:
        raise WebhookSignatureError("eBay order notifications are not used; we poll instead")

    def interpret_webhook(self, webhook: Webhook) -> WebhookAction:
        return WebhookAction("ignore")
