"""Merchant pages for sales channels (/app/integrations/): thin — parse, authorise, call one service, render."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from fulfil.audit import actor_for_request, audit_context
from fulfil.tenancy import get_for_merchant_or_404, merchant_required
from integrations import selectors, services
from integrations.base import CONNECTORS, ProviderError, RejectedProviderError
from integrations.forms import ConnectForm, SettingsForm
from integrations.models import (
    ChannelConnection,
    ChannelEvent,
    ChannelListing,
    DeadLetter,
    Platform,
    PrivacyRequest,
)


def _connectors():
    from integrations import platforms  # noqa: F401 - fills the registry

    return CONNECTORS


def _connection(request, pk: int) -> ChannelConnection:
    return get_for_merchant_or_404(ChannelConnection.objects, request.merchant, pk=pk)


@merchant_required
def index(request):
    connectors = _connectors()
    platforms = [
        {"key": value, "label": label, "syncs": connectors[value].syncs, "auth": connectors[value].auth}
        for value, label in Platform.choices
        if value in connectors
    ]
    return TemplateResponse(
        request,
        "integrations/index.html",
        {"platforms": platforms, "connections": selectors.connection_list(merchant=request.merchant)},
    )


@merchant_required
def connect(request, platform: str):
    connector_cls = _connectors().get(platform)
    if connector_cls is None:
        raise Http404("Unknown platform")
    form = ConnectForm(request.POST or None, connector_cls=connector_cls)
    if request.method == "POST" and form.is_valid():
        account = form.cleaned_data["account_id"].strip()
        with audit_context(actor_for_request(request)):
            if platform == "shopify":
                from integrations.shopify import oauth

                shop = oauth.normalise_shop(account)
                if not oauth.valid_shop(shop):
                    form.add_error(
                        "account_id", "Enter your shop's myshopify.com domain, e.g. acme.myshopify.com"
                    )
                    return TemplateResponse(
                        request, "integrations/connect.html", _connect_ctx(platform, form)
                    )
                conn = _create(request, form, platform=platform, account_id=shop)
                if conn is None:
                    return TemplateResponse(
                        request, "integrations/connect.html", _connect_ctx(platform, form)
                    )
                redirect_uri = request.build_absolute_uri(reverse("integrations_shopify_callback"))
                return redirect(
                    oauth.install_url(shop=shop, state=conn.oauth_state, redirect_uri=redirect_uri)
                )
            conn = _create(request, form, platform=platform, account_id=account)
            if conn is None:
                return TemplateResponse(request, "integrations/connect.html", _connect_ctx(platform, form))
            try:
                check = services.connection_test(connection=conn)
            except ProviderError as exc:
                check = None
                messages.error(request, f"Could not check the connection: {exc}")
            if check is not None and check.ok:
                services.connection_activate(connection=conn)
                messages.success(request, f"{check.message} Your first import has started.")
            elif check is not None:
                messages.error(request, f"Saved, but the test failed: {check.message}")
        return redirect("integrations:detail", pk=conn.pk)
    return TemplateResponse(request, "integrations/connect.html", _connect_ctx(platform, form))


def _connect_ctx(platform, form):
    from integrations.amazon.oauth import SELLER_CENTRAL

    return {
        "platform": platform,
        "label": Platform(platform).label,
        "form": form,
        "connector": _connectors()[platform],
        "oauth_ready": _oauth_ready(platform),
        "marketplaces": sorted(set(SELLER_CENTRAL) - {"GB"}),
    }


OAUTH_SETTINGS = {
    "amazon": ("AMAZON_SPAPI_APP_ID", "AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET"),
    "ebay": ("EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET", "EBAY_RUNAME"),
}


def _oauth_ready(platform: str) -> bool:
    """Whether this Fulfil server has the app credentials the platform's consent screen needs."""
    from integrations import conf

    names = OAUTH_SETTINGS.get(platform)
    return bool(names) and all(conf.get(name) for name in names)


@merchant_required
@require_POST
def oauth_start(request, platform: str):
    """Send the merchant to the platform's consent screen with a one-time state nonce."""
    from integrations import oauth

    if platform not in OAUTH_SETTINGS:
        raise Http404("No consent screen for this platform")
    if not _oauth_ready(platform):
        messages.error(
            request,
            f"{Platform(platform).label} sign-in is not set up on this Fulfil server yet — use the advanced option.",
        )
        return redirect("integrations:connect", platform=platform)
    name = request.POST.get("name", "").strip()[:120]
    if platform == "amazon":
        from integrations.amazon import oauth as amazon_oauth

        marketplace = amazon_oauth.marketplace_code(request.POST.get("marketplace", "US"))
        state = oauth.oauth_begin(
            session=request.session,
            merchant=request.merchant,
            platform=platform,
            marketplace=marketplace,
            name=name,
        )
        return redirect(
            amazon_oauth.consent_url(
                marketplace=marketplace,
                state=state,
                redirect_uri=request.build_absolute_uri(
                    reverse("integrations:oauth_callback", args=[platform])
                ),
            )
        )
    from integrations.ebay import oauth as ebay_oauth

    state = oauth.oauth_begin(
        session=request.session, merchant=request.merchant, platform=platform, name=name
    )
    return redirect(ebay_oauth.authorize_url(state=state))


@merchant_required
def oauth_callback(request, platform: str):
    """The platform sends the merchant back here: check the state, exchange the code, store the tokens
    (encrypted), test the connection and say in plain words what happened."""
    from integrations import oauth

    if platform not in OAUTH_SETTINGS:
        raise Http404("No consent screen for this platform")
    label = Platform(platform).label
    params = request.GET
    try:
        started = oauth.oauth_check(
            session=request.session,
            merchant=request.merchant,
            platform=platform,
            state=params.get("state", ""),
        )
        code_param = "spapi_oauth_code" if platform == "amazon" else "code"
        if params.get("error") or not params.get(code_param):
            raise oauth.OAuthRefused(
                f"{label} did not authorise Fulfil ({params.get('error_description') or params.get('error') or 'no code'})"
                " — nothing was connected. You can try again any time."
            )
        with audit_context(actor_for_request(request)):
            conn, check = _oauth_finish(request, platform, started)
    except oauth.OAuthRefused as exc:
        return TemplateResponse(
            request,
            "integrations/oauth_result.html",
            {"label": label, "platform": platform, "error": str(exc)},
            status=400,
        )
    except ProviderError as exc:
        return TemplateResponse(
            request,
            "integrations/oauth_result.html",
            {"label": label, "platform": platform, "error": f"{exc}. Nothing was connected."},
            status=400 if isinstance(exc, RejectedProviderError) else 502,
        )
    if check.ok:
        messages.success(request, f"{check.message} Your first import has started.")
    else:
        messages.error(request, f"{label} authorised Fulfil, but the test failed: {check.message}")
    return redirect("integrations:detail", pk=conn.pk)


def _oauth_finish(request, platform: str, started: dict):
    from integrations import conf, oauth

    now = timezone.now()
    if platform == "amazon":
        from integrations.amazon import oauth as amazon_oauth

        seller = request.GET.get("selling_partner_id", "").strip()
        if not seller:
            raise oauth.OAuthRefused(
                "Amazon did not say which seller account authorised Fulfil — please try again."
            )
        token = amazon_oauth.exchange_code(
            code=request.GET["spapi_oauth_code"],
            redirect_uri=request.build_absolute_uri(reverse("integrations:oauth_callback", args=[platform])),
        )
        return oauth.channel_authorized(
            merchant=request.merchant,
            platform="amazon",
            account_id=seller,
            name=started.get("name") or f"Amazon {started.get('marketplace', 'US')}",
            base_url=conf.get("AMAZON_SP_API_BASE"),
            credentials={
                "refresh_token": token["refresh_token"],
                "marketplace": started.get("marketplace", "US"),
            },
        )
    from integrations.ebay import oauth as ebay_oauth

    token = ebay_oauth.exchange_code(code=request.GET["code"])
    user = ebay_oauth.fetch_user(access_token=token["access_token"])
    account = user.get("username") or user.get("userId") or ""
    if not account:
        import hashlib

        account = "ebay-" + hashlib.sha256(token["refresh_token"].encode()).hexdigest()[:12]
    base = ebay_oauth.api_base()
    refresh_in = token.get("refresh_token_expires_in")
    return oauth.channel_authorized(
        merchant=request.merchant,
        platform="ebay",
        account_id=account,
        name=started.get("name") or account,
        base_url="" if base == ebay_oauth.BASE_URL else base,
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        expires_at=now + timedelta(seconds=int(token.get("expires_in") or 7200)),
        refresh_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in else None,
        scopes=ebay_oauth.CONSENT_SCOPES,
    )


def _create(request, form, *, platform, account_id):
    if (
        ChannelConnection.objects.filter(platform=platform, account_id=account_id)
        .exclude(status=ChannelConnection.Status.DISABLED)
        .exclude(merchant=request.merchant)
        .exists()
    ):
        form.add_error("account_id", "This account is already connected to another Fulfil merchant.")
        return None
    existing = (
        ChannelConnection.objects.for_merchant(request.merchant)
        .filter(platform=platform, account_id=account_id)
        .exclude(status=ChannelConnection.Status.DISABLED)
        .first()
    )
    if existing is not None:
        return existing
    return services.connection_create(
        merchant=request.merchant,
        platform=platform,
        account_id=account_id,
        name=form.cleaned_data.get("name") or "",
        credentials=form.credentials(),
    )


@merchant_required
def detail(request, pk: int):
    conn = _connection(request, pk)
    from inventory.models import Warehouse

    warehouses = list(Warehouse.objects.visible_to(request.merchant))
    form = SettingsForm(request.POST or None, instance=conn, warehouses=warehouses)
    if request.method == "POST":
        if form.is_valid():
            with audit_context(actor_for_request(request)):
                services.connection_update_settings(connection=conn, **form.settings())
            messages.success(request, "Settings saved.")
            return redirect("integrations:detail", pk=conn.pk)
        conn.refresh_from_db()
    listings = ChannelListing.objects.for_merchant(request.merchant).filter(connection=conn)
    return TemplateResponse(
        request,
        "integrations/detail.html",
        {
            "conn": conn,
            "form": form,
            "connector": _connectors().get(conn.platform),
            "listing_count": listings.count(),
            "mapped_count": listings.filter(product__isnull=False).count(),
            "privacy_open": PrivacyRequest.objects.for_merchant(request.merchant)
            .filter(connection=conn, received_at__gte=timezone.now() - timedelta(days=30))
            .count(),
            "data_requests": PrivacyRequest.objects.for_merchant(request.merchant)
            .filter(
                connection=conn,
                kind=PrivacyRequest.Kind.DATA_REQUEST,
                received_at__gte=timezone.now() - timedelta(days=30),
            )
            .count(),
            "webhook_url": request.build_absolute_uri(
                reverse("integrations_woocommerce_webhook", args=[conn.pk])
                if conn.platform == "woocommerce"
                else reverse("integrations_shopify_webhook")
            ),
        },
    )


@merchant_required
@require_POST
def test(request, pk: int):
    conn = _connection(request, pk)
    with audit_context(actor_for_request(request)):
        check = services.connection_test(connection=conn)
    return TemplateResponse(request, "integrations/detail.html#test_result", {"conn": conn, "check": check})


@merchant_required
@require_POST
def sync(request, pk: int):
    conn = _connection(request, pk)
    if not conn.is_live:
        messages.error(request, "This connection is not active.")
        return redirect("integrations:detail", pk=conn.pk)
    try:
        with audit_context(actor_for_request(request)):
            result = services.orders_reconcile(connection=conn)
        messages.success(
            request,
            f"Checked {result['fetched']} orders: {result['created']} new, {result['updated']} updated.",
        )
    except ProviderError as exc:
        messages.error(request, f"The sync failed: {exc}")
    return redirect("integrations:health", pk=conn.pk)


@merchant_required
@require_POST
def disconnect(request, pk: int):
    conn = _connection(request, pk)
    with audit_context(actor_for_request(request)):
        services.connection_disable(connection=conn, reason="Disconnected by the merchant")
    messages.success(request, f"{conn.display_name} disconnected. Orders already imported stay in the book.")
    return redirect("integrations:index")


@merchant_required
def products(request, pk: int):
    conn = _connection(request, pk)
    qs = (
        ChannelListing.objects.for_merchant(request.merchant)
        .filter(connection=conn)
        .select_related("product")
    )
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(sku__icontains=q) | qs.filter(name__icontains=q)
    page = Paginator(qs.order_by("sku", "pk"), 50).get_page(request.GET.get("page"))
    rows = [
        (listing, services.suggestions_for(listing) if listing.product_id is None else []) for listing in page
    ]
    return TemplateResponse(
        request, "integrations/products.html", {"conn": conn, "page": page, "rows": rows, "q": q}
    )


@merchant_required
@require_POST
def products_fetch(request, pk: int):
    conn = _connection(request, pk)
    try:
        with audit_context(actor_for_request(request)):
            result = services.products_fetch(connection=conn)
        messages.success(
            request,
            f"{result['fetched']} products on the channel; {result['matched']} matched to your catalog.",
        )
    except ProviderError as exc:
        messages.error(request, f"Could not fetch products: {exc}")
    return redirect("integrations:products", pk=conn.pk)


@merchant_required
@require_POST
def listing_map(request, pk: int, listing_pk: int):
    conn = _connection(request, pk)
    listing = get_for_merchant_or_404(
        ChannelListing.objects.filter(connection=conn), request.merchant, pk=listing_pk
    )
    product = None
    product_id = request.POST.get("product", "")
    if product_id:
        from integrations import ports

        product = get_for_merchant_or_404(
            ports.products_for(merchant=request.merchant), request.merchant, pk=product_id
        )
    with audit_context(actor_for_request(request)):
        services.listing_map(listing=listing, product=product, selected=request.POST.get("selected") == "on")
    if request.htmx:
        return TemplateResponse(
            request,
            "integrations/products.html#row",
            {
                "conn": conn,
                "listing": listing,
                "suggestions": services.suggestions_for(listing) if not product else [],
            },
        )
    return redirect("integrations:products", pk=conn.pk)


@merchant_required
@require_POST
def products_import(request, pk: int):
    conn = _connection(request, pk)
    ids = [int(i) for i in request.POST.getlist("listing") if i.isdigit()]
    with audit_context(actor_for_request(request)):
        result = services.products_import(connection=conn, listing_ids=ids)
    if result["created"]:
        messages.success(request, f"{result['created']} products added to your catalog as drafts.")
    for error in result["errors"][:5]:
        messages.error(request, error)
    return redirect("integrations:products", pk=conn.pk)


@merchant_required
def health(request, pk: int):
    conn = _connection(request, pk)
    events = ChannelEvent.objects.for_merchant(request.merchant).filter(connection=conn)
    outcome = request.GET.get("outcome", "")
    if outcome:
        events = events.filter(outcome=outcome)
    page = Paginator(events.order_by("-pk"), 50).get_page(request.GET.get("page"))
    dead = DeadLetter.objects.for_merchant(request.merchant).filter(connection=conn, status="open")
    return TemplateResponse(
        request,
        "integrations/health.html",
        {
            "conn": conn,
            "h": selectors.connection_health(connection=conn),
            "page": page,
            "dead_letters": dead[:50],
            "outcome": outcome,
        },
    )


@merchant_required
@require_POST
def dead_letter_replay(request, pk: int, dl_pk: int):
    conn = _connection(request, pk)
    dl = get_for_merchant_or_404(DeadLetter.objects.filter(connection=conn), request.merchant, pk=dl_pk)
    with audit_context(actor_for_request(request)):
        if request.POST.get("action") == "dismiss":
            services.dead_letter_dismiss(dead_letter=dl)
            messages.success(request, "Dismissed.")
        else:
            services.dead_letter_replay(dead_letter=dl)
            messages.success(request, "Queued again.")
    return redirect("integrations:health", pk=conn.pk)


@merchant_required
def privacy(request, pk: int):
    """The connection's privacy requests: data requests with their export, redactions with their state."""
    from integrations import privacy as privacy_service

    conn = _connection(request, pk)
    qs = PrivacyRequest.objects.for_merchant(request.merchant).filter(connection=conn).order_by("-pk")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = [(req, privacy_service.privacy_status(request=req)) for req in page]
    return TemplateResponse(request, "integrations/privacy.html", {"conn": conn, "page": page, "rows": rows})


@merchant_required
def privacy_export(request, pk: int, req_pk: int):
    """Download what we hold about the customer of a data request (JSON, to send to the customer)."""
    from integrations import privacy as privacy_service

    conn = _connection(request, pk)
    req = get_for_merchant_or_404(
        PrivacyRequest.objects.filter(connection=conn, kind=PrivacyRequest.Kind.DATA_REQUEST),
        request.merchant,
        pk=req_pk,
    )
    response = JsonResponse(privacy_service.privacy_export(request=req), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="customer-data-request-{req.pk}.json"'
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ebay_account_deletion(request):
    """eBay's marketplace account deletion endpoint (called by eBay, not people): the validation challenge on
    GET, signed deletion notices on POST (412 when the signature does not verify; nothing is stored)."""
    from django.http import HttpResponse

    from integrations import conf
    from integrations.base import WebhookSignatureError
    from integrations.ebay import deletion

    if request.method == "GET":
        code = request.GET.get("challenge_code", "")
        if not code or not conf.get("EBAY_DELETION_VERIFICATION_TOKEN"):
            return HttpResponse(status=400)
        endpoint = conf.get("EBAY_DELETION_ENDPOINT") or request.build_absolute_uri(request.path)
        return JsonResponse(
            {"challengeResponse": deletion.challenge_response(challenge_code=code, endpoint=endpoint)}
        )
    try:
        notice = deletion.verify(
            signature_header=request.headers.get("X-EBAY-SIGNATURE", ""), body=request.body
        )
    except WebhookSignatureError as exc:
        return HttpResponse(str(exc), status=412, content_type="text/plain")
    deletion.account_deletion_record(notice=notice)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def walmart_webhook(request, pk: int):
    """Walmart order event notifications for one connection (called by Walmart): Basic credentials checked,
    stored once per event id in the inbox, processed by the drain (the purchase order is fetched and imported)."""
    from django.http import HttpResponse

    from integrations.base import Webhook, WebhookSignatureError
    from integrations.walmart.client import WalmartChannel

    conn = (
        ChannelConnection.objects.filter(pk=pk, platform="walmart")
        .only("pk", "webhook_secret", "account_id")
        .first()
    )
    if conn is None:
        return HttpResponse("unknown connection", status=401)
    try:
        hook = WalmartChannel.verify_webhook(
            headers=request.headers, body=request.body, secret=conn.webhook_secret
        )
    except WebhookSignatureError:
        return HttpResponse("invalid credentials", status=401)
    services.webhook_accept(
        platform="walmart",
        webhook=Webhook(event_id=hook.event_id, topic=hook.topic, account_id=conn.account_id),
        body=request.body,
        headers={
            k: v
            for k, v in request.headers.items()
            if k.lower().startswith("wm_") or k.lower() == "content-type"
        },
        connection_id=conn.pk,
    )
    return HttpResponse("ok")
