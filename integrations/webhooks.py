"""Webhook receivers and OAuth callbacks: verify, store durably, answer. Never process inline.

The accept path is one HMAC check and one INSERT … ON CONFLICT DO NOTHING (the row is committed before the
2xx — autocommit), then the processing task is enqueued on commit. A bad signature is a 401 and stores
nothing."""

from __future__ import annotations

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


def _kept(request) -> dict:
    return {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}


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
    services.webhook_accept(platform="shopify", webhook=hook, body=body, headers=_kept(request))
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
    services.webhook_accept(platform="shopify", webhook=hook, body=body, headers=_kept(request))
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
    services.webhook_accept(
        platform="woocommerce", webhook=hook, body=body, headers=_kept(request), connection_id=conn.pk
    )
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
