"""Webhook receivers and OAuth callbacks: verify, store durably, answer. Never process inline.

The accept path is one HMAC check and one INSERT … ON CONFLICT DO NOTHING (the row is committed before the
2xx — autocommit), then a drain is kicked on commit (``integrations.inbox``). A bad signature is a 401 and
stores nothing.

``WebhookFastPathMiddleware`` (first after ``SecurityMiddleware`` in settings) answers the platforms' POSTs
itself: no session, auth, CSRF, messages, tenancy or URL resolution of the whole site — none of which a
signed machine-to-machine POST uses."""

from __future__ import annotations

import re

from django.db import InterfaceError, OperationalError
from django.db import connection as db
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from fulfil.audit import Actor, audit_context
from integrations import conf, services
from integrations.base import ProviderError, WebhookSignatureError
from integrations.models import ChannelConnection
from integrations.shopify import oauth
from integrations.shopify.client import ShopifyChannel
from integrations.woocommerce.client import WooCommerceChannel

KEPT_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-API-Version",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
)


_META_KEYS = tuple((h, "HTTP_" + h.upper().replace("-", "_")) for h in KEPT_HEADERS)


def _kept(request) -> dict:
    meta = request.META
    return {h: meta[key] for h, key in _META_KEYS if key in meta}


def _accept(**kwargs) -> int | None:
    """``webhook_accept`` without Django's per-request connection health check (a ``SELECT 1`` round trip
    before every INSERT, CONN_HEALTH_CHECKS): the INSERT itself is the check — on a connection that turns out
    dead it is retried once on a fresh one, which is what the health check would have given us."""
    if db.connection is not None and not db.in_atomic_block:
        db.health_check_done = True
    try:
        return services.webhook_accept(**kwargs)
    except (InterfaceError, OperationalError):
        if db.in_atomic_block:
            raise
        db.close()
        return services.webhook_accept(**kwargs)


@csrf_exempt
@require_POST
def shopify_webhook(request):
    body = request.body
    try:
        hook = ShopifyChannel.verify_webhook(
            headers=request.headers, body=body, secret=conf.get("SHOPIFY_API_SECRET")
        )
    except WebhookSignatureError:
        return HttpResponse("invalid signature", status=401)
    _accept(platform="shopify", webhook=hook, body=body, headers=_kept(request))
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def shopify_fulfillment_service(request):
    """Shopify's fulfillment-service callback (``<callback_url>/fulfillment_order_notification``): a request
    is waiting. Stored like a webhook; processing reads the assigned fulfillment orders and answers each."""
    import uuid

    body = request.body
    try:
        hook = ShopifyChannel.verify_webhook(
            headers=request.headers, body=body, secret=conf.get("SHOPIFY_API_SECRET")
        )
    except WebhookSignatureError:
        return HttpResponse("invalid signature", status=401)
    # Every notification counts (the body is the same each time); processing is idempotent.
    hook = type(hook)(
        event_id=f"fsn:{uuid.uuid4()}", topic="fulfillment_service/notification", account_id=hook.account_id
    )
    _accept(platform="shopify", webhook=hook, body=body, headers=_kept(request))
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def woocommerce_webhook(request, connection_id: int):
    conn = (
        ChannelConnection.objects.filter(pk=connection_id, platform="woocommerce")
        .only("pk", "webhook_secret", "account_id")
        .first()
    )
    body = request.body
    if conn is None:
        return HttpResponse("invalid signature", status=401)
    if not request.headers.get("X-WC-Webhook-Signature") and body.startswith(b"webhook_id="):
        return HttpResponse("ok")  # WooCommerce's unsigned ping when a webhook is created
    try:
        hook = WooCommerceChannel.verify_webhook(
            headers=request.headers, body=body, secret=conn.webhook_secret
        )
    except WebhookSignatureError:
        return HttpResponse("invalid signature", status=401)
    _accept(platform="woocommerce", webhook=hook, body=body, headers=_kept(request), connection_id=conn.pk)
    return HttpResponse("ok")


@require_GET
def shopify_oauth_callback(request):
    params = {k: request.GET.get(k, "") for k in request.GET}
    if not oauth.callback_valid(params, conf.get("SHOPIFY_API_SECRET")):
        return HttpResponseBadRequest("The request did not come from Shopify (bad HMAC).")
    state = params.get("state", "")
    conn = (
        ChannelConnection.objects.filter(
            platform="shopify", status=ChannelConnection.Status.PENDING, oauth_state=state
        ).first()
        if state
        else None
    )
    if conn is None or oauth.normalise_shop(params.get("shop", "")) != conn.account_id:
        return HttpResponseBadRequest("This authorisation link has expired or belongs to another shop.")
    try:
        token = oauth.exchange_code(shop=conn.account_id, code=params.get("code", ""), base_url=conn.base_url)
    except ProviderError as exc:
        return HttpResponseBadRequest(f"Shopify did not give us access: {exc}")
    user = request.user if request.user.is_authenticated else None
    actor = Actor(user_id=user.pk if user else None, label=user.email if user else "shopify", source="ui")
    with audit_context(actor):
        services.connection_activate(
            connection=conn, access_token=token.get("access_token", ""), scopes=token.get("scope", "")
        )
    return redirect("integrations:detail", pk=conn.pk)


_WOO = re.compile(r"woocommerce/webhooks/(?P<connection_id>[0-9]+)/")
FAST_PATHS = {
    "shopify/webhooks/": shopify_webhook,
    "shopify/fulfillment-service/fulfillment_order_notification": shopify_fulfillment_service,
}


class WebhookFastPathMiddleware:
    """Serves the sales-channel webhook receivers (``webhook_urls``, mounted at /integrations/) before the
    rest of the middleware stack and the site's URL resolver. Every other path — the OAuth callback included,
    which needs the signed-in user — goes on as usual."""

    prefix = "/integrations/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(self.prefix):
            rest = path[len(self.prefix) :]
            view = FAST_PATHS.get(rest)
            match = _WOO.fullmatch(rest) if view is None else None
            if view is not None or match is not None:
                response = view(request) if view is not None else woocommerce_webhook(request, int(match[1]))
                # what CommonMiddleware would add: keep-alive clients need the length (not chunked)
                if not response.streaming and not response.has_header("Content-Length"):
                    response.headers["Content-Length"] = str(len(response.content))
                return response
        return self.get_response(request)
