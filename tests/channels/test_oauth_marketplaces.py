"""Amazon (SP-API website authorization) and eBay (OAuth authorization code) consent flows against the fakes:
the redirect to the consent screen, the callback with the state nonce, the code exchange at the token
endpoint, tokens stored encrypted, the connection tested and connected. A wrong, missing, reused or foreign
state is refused and stores nothing."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection as db
from django.utils import timezone

from integrations.models import ChannelConnection
from tests.channels.fakes.amazon import FakeAmazon
from tests.channels.fakes.ebay import FakeEbay

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/app/integrations/oauth/{}/callback/"


@pytest.fixture
def amazon(settings):
    fake = FakeAmazon().start()
    settings.AMAZON_SPAPI_APP_ID = fake.application_id
    settings.AMAZON_LWA_CLIENT_ID, settings.AMAZON_LWA_CLIENT_SECRET = fake.lwa_client
    settings.AMAZON_SELLER_CENTRAL_URL = fake.url
    settings.AMAZON_LWA_BASE = fake.url
    settings.AMAZON_SP_API_BASE = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def ebay(settings):
    fake = FakeEbay().start()
    fake.accept_url = CALLBACK.format("ebay")
    settings.EBAY_CLIENT_ID, settings.EBAY_CLIENT_SECRET = fake.client
    settings.EBAY_RUNAME = fake.runame
    settings.EBAY_AUTH_URL = fake.url
    settings.EBAY_API_BASE = fake.url
    settings.EBAY_IDENTITY_BASE = fake.url
    yield fake
    fake.stop()


def consent(client, platform: str, **form) -> tuple[str, dict]:
    """Press the button: our redirect to the platform's consent screen, and its query."""
    response = client.post(f"/app/integrations/oauth/{platform}/start/", form)
    assert response.status_code == 302
    location = response["Location"]
    return location, {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def approve(location: str) -> str:
    """The seller approves in their browser: the platform redirects back to us. Returns our callback path."""
    back = httpx.get(location, follow_redirects=False)
    assert back.status_code == 302
    parts = urlsplit(back.headers["location"])
    return f"{parts.path}?{parts.query}"


def raw_column(pk: int, column: str) -> str:
    with db.cursor() as cur:
        cur.execute(f"SELECT {column} FROM integrations_channelconnection WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_amazon_consent_connects_the_seller(client_a, amazon, merchant_a):
    location, query = consent(client_a, "amazon", marketplace="uk", name="Acme UK")
    assert location.startswith(f"{amazon.url}/apps/authorize/consent?")
    assert query == {
        "application_id": amazon.application_id,
        "state": query["state"],
        "redirect_uri": CALLBACK.format("amazon"),
    }
    assert len(query["state"]) >= 40
    response = client_a.get(approve(location), follow=True)
    conn = ChannelConnection.objects.get()
    assert response.redirect_chain == [(f"/app/integrations/{conn.pk}/", 302)]
    assert "Connected to Amazon (GB). We can read your orders. Your first import has started." in (
        response.content.decode()
    )
    assert (conn.merchant, conn.platform, conn.account_id, conn.name, conn.status) == (
        merchant_a,
        "amazon",
        "A2SELLERTEST",
        "Acme UK",
        "active",
    )
    assert conn.base_url == amazon.url
    creds = __import__("json").loads(conn.credentials)
    assert creds["marketplace"] == "UK"
    assert creds["refresh_token"].startswith("Atzr|")
    assert "Atzr|" not in raw_column(conn.pk, "credentials")  # encrypted at rest
    assert amazon.auth_codes == {}  # the code was exchanged (and cannot be again)
    from fulfil.models import AuditEntry

    entry = AuditEntry.objects.get(action="channel.authorised", object_id=str(conn.pk))
    assert entry.after == {"platform": "amazon", "account_id": "A2SELLERTEST", "scopes": ""}
    assert "Atzr" not in str(entry.after) + entry.message


def test_amazon_callback_with_a_forged_state_is_refused_and_stores_nothing(client_a, amazon):
    location, _query = consent(client_a, "amazon", marketplace="US")
    path = approve(location)
    forged = path.replace("state=", "state=x")
    response = client_a.get(forged)
    assert response.status_code == 400
    assert "did not start here" in response.content.decode()
    assert ChannelConnection.objects.count() == 0
    assert len(amazon.auth_codes) == 1  # never exchanged
    # the nonce was used up by the refused attempt: the genuine callback is refused too
    assert client_a.get(path).status_code == 400
    assert ChannelConnection.objects.count() == 0


def test_amazon_callback_replayed_is_refused(client_a, amazon):
    location, _ = consent(client_a, "amazon", marketplace="US")
    path = approve(location)
    assert client_a.get(path).status_code == 302
    assert client_a.get(path).status_code == 400
    assert ChannelConnection.objects.count() == 1


def test_another_merchants_browser_cannot_use_the_callback(client_a, amazon, membership_b, client):
    location, _ = consent(client_a, "amazon", marketplace="US")
    path = approve(location)
    client.force_login(membership_b.user)
    assert client.get(path).status_code == 400
    assert ChannelConnection.objects.count() == 0


def test_amazon_expired_code_says_so_and_stores_nothing(client_a, amazon):
    location, _ = consent(client_a, "amazon", marketplace="US")
    path = approve(location)
    amazon.auth_codes.clear()  # Amazon's 5 minutes are over
    response = client_a.get(path)
    assert response.status_code == 400
    assert "Amazon did not accept the authorisation" in response.content.decode()
    assert ChannelConnection.objects.count() == 0


def test_ebay_consent_stores_encrypted_tokens_with_expiries(client_a, ebay, merchant_a):
    location, query = consent(client_a, "ebay")
    assert location.startswith(f"{ebay.url}/oauth2/authorize?")
    assert query == {
        "client_id": "cid",
        "redirect_uri": ebay.runame,
        "response_type": "code",
        "scope": "https://api.ebay.com/oauth/api_scope/sell.fulfillment "
        "https://api.ebay.com/oauth/api_scope/sell.inventory "
        "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly",
        "state": query["state"],
    }
    before = timezone.now()
    response = client_a.get(approve(location), follow=True)
    conn = ChannelConnection.objects.get()
    assert "Connected to eBay. We can read your orders and update your stock." in response.content.decode()
    assert (conn.merchant, conn.account_id, conn.status, conn.base_url) == (
        merchant_a,
        "acme_ebay",
        "active",
        ebay.url,
    )
    assert conn.access_token in ebay.valid_tokens
    assert conn.refresh_token.startswith("v^1.1#i^1#r^1#")
    assert timedelta(seconds=7190) < conn.token_expires_at - before < timedelta(seconds=7300)
    assert timedelta(seconds=47303990) < conn.refresh_token_expires_at - before < timedelta(seconds=47304100)
    for column in ("access_token", "refresh_token"):
        assert "v^1.1" not in raw_column(conn.pk, column)
    assert ebay.token_refreshes == 0  # the granted access token was used for the test, not refreshed


def test_ebay_declined_consent_connects_nothing(client_a, ebay):
    _location, query = consent(client_a, "ebay")
    response = client_a.get(
        f"/app/integrations/oauth/ebay/callback/?state={query['state']}&error=access_denied"
    )
    assert response.status_code == 400
    assert "eBay did not authorise Fulfil (access_denied)" in response.content.decode()
    assert ChannelConnection.objects.count() == 0


def test_connect_page_offers_the_consent_screen_and_keeps_the_advanced_path(client_a, ebay):
    page = client_a.get("/app/integrations/connect/ebay/").content.decode()
    assert "Continue to eBay" in page
    assert "Advanced: paste a refresh token" in page


def test_without_app_credentials_the_page_says_so(client_a, settings):
    settings.AMAZON_SPAPI_APP_ID = ""
    page = client_a.get("/app/integrations/connect/amazon/").content.decode()
    assert "not set up on this Fulfil server" in page
    response = client_a.post("/app/integrations/oauth/amazon/start/", {"marketplace": "US"})
    assert response.status_code == 302
    assert response["Location"] == "/app/integrations/connect/amazon/"


def test_amazon_callback_without_its_code_connects_nothing(client_a, amazon):
    _location, query = consent(client_a, "amazon", marketplace="US")
    response = client_a.get(
        f"/app/integrations/oauth/amazon/callback/?state={query['state']}&code=x&selling_partner_id=A2SELLERTEST"
    )
    assert response.status_code == 400
    assert "Amazon did not authorise Fulfil (no code)" in response.content.decode()
    assert ChannelConnection.objects.count() == 0


def test_integrations_page_offers_sign_in_for_the_marketplaces(client_a):
    page = client_a.get("/app/integrations/").content.decode()
    assert "Sign in with Amazon — no keys to copy." in page
    assert "Sign in with eBay — no keys to copy." in page
    assert "Paste the API keys from your Walmart account." in page
