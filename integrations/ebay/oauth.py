"""eBay's OAuth authorization-code grant for a user token: the consent URL (client id, RuName as
``redirect_uri``, scopes, state nonce), the code-for-tokens exchange (``POST /identity/v1/oauth2/token``, HTTP
Basic with our app keys) and the Identity API call that tells us whose account it is.

Our app's settings: ``EBAY_CLIENT_ID``, ``EBAY_CLIENT_SECRET``, ``EBAY_RUNAME`` (the redirect URL name whose
"auth accepted" URL is our callback). Base URLs, for tests only: ``EBAY_AUTH_URL`` (consent), ``EBAY_API_BASE``
(token endpoint and APIs; stored as the new connection's ``base_url`` when it is not eBay's) and
``EBAY_IDENTITY_BASE`` (apiz host)."""

from __future__ import annotations

from urllib.parse import urlencode

from integrations import conf
from integrations.base import ProviderError, RejectedProviderError
from integrations.ebay.client import BASE_URL, SCOPES
from integrations.http import HttpTransport, basic_auth

AUTH_URL = "https://auth.ebay.com"
IDENTITY_BASE = "https://apiz.ebay.com"
IDENTITY_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly"
CONSENT_SCOPES = f"{SCOPES} {IDENTITY_SCOPE}"


def api_base() -> str:
    return (conf.get("EBAY_API_BASE") or BASE_URL).rstrip("/")


def authorize_url(*, state: str) -> str:
    params = {
        "client_id": conf.get("EBAY_CLIENT_ID"),
        "redirect_uri": conf.get("EBAY_RUNAME"),
        "response_type": "code",
        "scope": CONSENT_SCOPES,
        "state": state,
    }
    return f"{(conf.get('EBAY_AUTH_URL') or AUTH_URL).rstrip('/')}/oauth2/authorize?{urlencode(params)}"


def exchange_code(*, code: str) -> dict:
    """``code`` → ``{access_token, expires_in, refresh_token, refresh_token_expires_in, token_type}``."""
    http = HttpTransport(base_url=api_base(), platform="ebay", connection_id=None)
    try:
        response = http.request(
            "POST",
            "/identity/v1/oauth2/token",
            label="eBay sign-in",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": conf.get("EBAY_RUNAME")},
            headers={
                "Authorization": basic_auth(conf.get("EBAY_CLIENT_ID"), conf.get("EBAY_CLIENT_SECRET")),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    except RejectedProviderError as exc:
        raise RejectedProviderError(
            "eBay did not accept the authorisation (it may have expired) — please try again",
            status=exc.status,
        ) from exc
    finally:
        http.close()
    data = response.json()
    if not data.get("access_token") or not data.get("refresh_token"):
        raise RejectedProviderError("eBay answered without the tokens we need — please try again")
    return data


def fetch_user(*, access_token: str) -> dict:
    """The authorising account (``userId``, ``username``) from the Identity API; ``{}`` when eBay does not
    say (the connection then keeps a neutral name the merchant can change)."""
    base = conf.get("EBAY_IDENTITY_BASE") or (conf.get("EBAY_API_BASE") or IDENTITY_BASE)
    http = HttpTransport(base_url=base, platform="ebay", connection_id=None)
    try:
        return http.request(
            "GET",
            "/commerce/identity/v1/user/",
            label="eBay identity",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        ).json()
    except (ProviderError, ValueError):
        return {}
    finally:
        http.close()
