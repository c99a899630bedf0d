"""Shopify's OAuth install flow: the authorize URL (scopes, state nonce), the HMAC check of the callback, and
the code-for-token exchange."""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlencode

import httpx
import shopify

from integrations import conf
from integrations.base import RejectedProviderError, RetryableProviderError

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")


def normalise_shop(value: str) -> str:
    shop = value.strip().lower().removeprefix("https://").removeprefix("http://").split("/")[0]
    if shop and "." not in shop:
        shop = f"{shop}.myshopify.com"
    return shop


def valid_shop(shop: str) -> bool:
    return bool(SHOP_DOMAIN.match(shop))


def install_url(*, shop: str, state: str, redirect_uri: str, base_url: str = "") -> str:
    scopes = [s.strip() for s in conf.get("SHOPIFY_SCOPES").split(",") if s.strip()]
    if base_url:
        query = urlencode(
            {
                "client_id": conf.get("SHOPIFY_API_KEY"),
                "scope": ",".join(scopes),
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{base_url.rstrip('/')}/admin/oauth/authorize?{query}"
    shopify.Session.setup(api_key=conf.get("SHOPIFY_API_KEY"), secret=conf.get("SHOPIFY_API_SECRET"))
    return shopify.Session(shop, conf.get("SHOPIFY_API_VERSION")).create_permission_url(
        scopes, redirect_uri, state
    )


def callback_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's documented algorithm: every query parameter but ``hmac``, sorted, ``k=v`` joined with ``&``,
    HMAC-SHA256 with the app secret, hex."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def callback_valid(params: dict[str, str], secret: str) -> bool:
    given = params.get("hmac", "")
    return bool(secret and given) and hmac.compare_digest(callback_hmac(params, secret), given)


def exchange_code(*, shop: str, code: str, base_url: str = "") -> dict:
    return _token_request(shop=shop, base_url=base_url, body={"code": code})


def refresh_token(*, shop: str, refresh_token: str, base_url: str = "") -> dict:
    """Expiring offline tokens: trade the refresh token for a new access token."""
    return _token_request(
        shop=shop, base_url=base_url, body={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def _token_request(*, shop: str, base_url: str, body: dict) -> dict:
    base = base_url.rstrip("/") if base_url else f"https://{shop}"
    try:
        response = httpx.post(
            f"{base}/admin/oauth/access_token",
            json={
                "client_id": conf.get("SHOPIFY_API_KEY"),
                "client_secret": conf.get("SHOPIFY_API_SECRET"),
                **body,
            },
            timeout=conf.timeout(),
        )
    except httpx.HTTPError as exc:
        raise RetryableProviderError(f"Could not reach Shopify: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryableProviderError(f"Shopify answered {response.status_code}", status=response.status_code)
    if response.status_code != 200:
        raise RejectedProviderError(
            f"Shopify refused the authorisation ({response.status_code}) — reconnect the store"
        )
    return response.json()
