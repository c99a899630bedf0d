"""Amazon SP-API website authorization workflow: the Seller Central consent URL (application id, state nonce)
and the Login-with-Amazon exchange of the ``spapi_oauth_code`` for the seller's refresh token.

Our app's settings: ``AMAZON_SPAPI_APP_ID`` (the SP-API application id, ``amzn1.sp.solution.…``),
``AMAZON_LWA_CLIENT_ID``/``AMAZON_LWA_CLIENT_SECRET``, ``AMAZON_SPAPI_DRAFT`` (adds ``version=beta`` while the app
is in draft). Base URLs, for tests only: ``AMAZON_SELLER_CENTRAL_URL`` (the consent page), ``AMAZON_LWA_BASE``
(the token endpoint host) and ``AMAZON_SP_API_BASE`` (stored as the new connection's ``base_url``, which the
client uses for both the API and LWA — the same override the Amazon connector already honours)."""

from __future__ import annotations

from urllib.parse import urlencode

from integrations import conf
from integrations.base import RejectedProviderError
from integrations.http import HttpTransport

# Seller Central of each marketplace (the consent page lives there).
SELLER_CENTRAL = {
    "US": "https://sellercentral.amazon.com",
    "CA": "https://sellercentral.amazon.ca",
    "MX": "https://sellercentral.amazon.com.mx",
    "BR": "https://sellercentral.amazon.com.br",
    "UK": "https://sellercentral.amazon.co.uk",
    "GB": "https://sellercentral.amazon.co.uk",
    "DE": "https://sellercentral.amazon.de",
    "FR": "https://sellercentral.amazon.fr",
    "IT": "https://sellercentral.amazon.it",
    "ES": "https://sellercentral.amazon.es",
    "NL": "https://sellercentral.amazon.nl",
    "SE": "https://sellercentral.amazon.se",
    "PL": "https://sellercentral.amazon.pl",
    "BE": "https://sellercentral.amazon.com.be",
    "TR": "https://sellercentral.amazon.com.tr",
    "AE": "https://sellercentral.amazon.ae",
    "IN": "https://sellercentral.amazon.in",
    "JP": "https://sellercentral.amazon.co.jp",
    "AU": "https://sellercentral.amazon.com.au",
    "SG": "https://sellercentral.amazon.sg",
}
LWA_BASE = "https://api.amazon.com"


def marketplace_code(value: str) -> str:
    code = (value or "US").strip().upper()
    return code if code in SELLER_CENTRAL else "US"


def consent_url(*, marketplace: str, state: str, redirect_uri: str) -> str:
    base = conf.get("AMAZON_SELLER_CENTRAL_URL") or SELLER_CENTRAL[marketplace_code(marketplace)]
    params = {"application_id": conf.get("AMAZON_SPAPI_APP_ID"), "state": state, "redirect_uri": redirect_uri}
    if conf.get("AMAZON_SPAPI_DRAFT").lower() in ("1", "true", "yes"):
        params["version"] = "beta"
    return f"{base.rstrip('/')}/apps/authorize/consent?{urlencode(params)}"


def exchange_code(*, code: str, redirect_uri: str) -> dict:
    """``spapi_oauth_code`` → ``{access_token, refresh_token, expires_in, token_type}`` (the code lives 5 minutes)."""
    http = HttpTransport(
        base_url=conf.get("AMAZON_LWA_BASE") or LWA_BASE, platform="amazon", connection_id=None
    )
    try:
        response = http.request(
            "POST",
            "/auth/o2/token",
            label="Login with Amazon",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": conf.get("AMAZON_LWA_CLIENT_ID"),
                "client_secret": conf.get("AMAZON_LWA_CLIENT_SECRET"),
            },
        )
    except RejectedProviderError as exc:
        raise RejectedProviderError(
            "Amazon did not accept the authorisation (it may have expired after 5 minutes) — please try again",
            status=exc.status,
        ) from exc
    finally:
        http.close()
    data = response.json()
    if not data.get("refresh_token"):
        raise RejectedProviderError("Amazon answered without a refresh token — please try again")
    return data
