"""Platforms' mandatory privacy requests, honoured: a customer's data request is answered with an export the
merchant downloads (and the merchant is emailed), a customer or shop redact erases the customer's personal
data through the orders app's redaction service (orders in flight wait until they ship) and from the raw
webhook bodies we still keep.

``privacy_request_process`` is the entry point for a verified webhook: idempotent on the platform's event id.
``privacy_request_honour`` does the work for a recorded request (also for rows recorded before this module
existed). ``privacy_requests_settle`` completes requests whose deferred orders have been redacted since.
"""

from __future__ import annotations

import json
import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfil.audit import audit_record
from integrations.models import ChannelConnection, PrivacyRequest, WebhookInbox

log = logging.getLogger(__name__)
K = PrivacyRequest.Kind


def privacy_request_process(
    *,
    connection: ChannelConnection,
    kind: str,
    email: str = "",
    order_ids: list[str] | None = None,
    event_id: str = "",
) -> PrivacyRequest:
    """Record and honour one privacy request. A second delivery of the same event returns the first."""
    if kind not in K.values:
        raise ValueError(f"unknown privacy request kind {kind!r}")
    if event_id:
        existing = PrivacyRequest.objects.filter(platform=connection.platform, event_id=event_id).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            req = PrivacyRequest.objects.create(
                merchant_id=connection.merchant_id,
                connection=connection,
                platform=connection.platform,
                kind=kind,
                customer_email=email or "",
                order_ids=[str(i) for i in order_ids or []],
                event_id=event_id[:255],
            )
            return privacy_request_honour(request=req)
    except IntegrityError:  # the same event processed concurrently: the other one won
        existing = PrivacyRequest.objects.filter(platform=connection.platform, event_id=event_id).first()
        if existing is None:
            raise
        return existing


def privacy_request_honour(*, request: PrivacyRequest) -> PrivacyRequest:
    """Do what the request asks. Idempotent: redaction twice changes nothing more; the merchant is told once."""
    from orders import services as orders

    req = request
    conn = req.connection
    merchant = req.merchant
    with transaction.atomic():
        if req.kind == K.DATA_REQUEST:
            req.export = orders.customer_data_export(
                merchant=merchant, channel=req.platform, email=req.customer_email, external_ids=req.order_ids
            )
            count = len(req.export["orders"])
            req.result = (
                f"export ready: {count} orders with their addresses and shipments — download it from the "
                "connection's privacy page and send it to the customer"
            )
            req.completed_at = req.completed_at or timezone.now()
            if req.notified_at is None:
                req.notified_at = timezone.now()
                transaction.on_commit(partial(_notify_merchant, request_id=req.pk))
        else:
            shop = req.kind == K.SHOP_REDACT
            result = orders.customer_redact(
                merchant=merchant,
                channel=req.platform,
                email="" if shop else req.customer_email,
                external_ids=[] if shop else req.order_ids,
                channel_account=(conn.account_id if conn is not None else None) if shop else None,
                reason=f"{req.platform} {req.get_kind_display().lower()}",
            )
            scrubbed = _scrub_inbox(req, conn)
            if shop and conn is not None:
                ChannelConnection.objects.filter(pk=conn.pk).update(
                    access_token="", refresh_token="", webhook_secret="", credentials=""
                )
            req.customer_email = mask_email(req.customer_email)  # the request is kept; the address is not
            req.deferred_order_ids = result.deferred
            req.result = result.describe() + (f"; {scrubbed} stored webhooks erased" if scrubbed else "")
            req.completed_at = None if result.deferred else (req.completed_at or timezone.now())
        req.save()
        audit_record(
            obj_type="privacy_request",
            obj_id=req.pk,
            action=f"privacy.{req.kind}.honoured",
            merchant_id=req.merchant_id,
            message=req.result,
        )
    return req


def privacy_requests_settle(*, merchant_id: int | None = None) -> int:
    """Complete redact requests whose waiting orders have all been redacted by now. Returns how many."""
    from orders.services.redaction import redaction_state

    qs = PrivacyRequest.objects.filter(completed_at__isnull=True).exclude(deferred_order_ids=[])
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    done = 0
    for req in list(qs):
        state = redaction_state(order_ids=req.deferred_order_ids)
        waiting = [pk for pk in req.deferred_order_ids if state.get(pk) != "redacted"]
        if waiting == req.deferred_order_ids:
            continue
        req.deferred_order_ids = waiting
        if not waiting:
            req.completed_at = timezone.now()
            req.result += "; the orders that were in flight are redacted now"
            done += 1
        req.save(update_fields=["deferred_order_ids", "completed_at", "result"])
    return done


def privacy_export(*, request: PrivacyRequest) -> dict:
    """The data-request answer to download (compiled now for requests recorded without one)."""
    if request.export is not None:
        return request.export
    from orders import services as orders

    return orders.customer_data_export(
        merchant=request.merchant,
        channel=request.platform,
        email=request.customer_email,
        external_ids=request.order_ids,
    )


def privacy_status(*, request: PrivacyRequest) -> str:
    """Plain words for the privacy page."""
    if request.kind == K.DATA_REQUEST:
        return "Answered — download the export and send it to the customer"
    from orders.services.redaction import redaction_state

    pks = list(request.deferred_order_ids or [])
    if not pks and request.order_ids:  # requests recorded by the inbox's own handler: find our orders
        from orders.models import Order

        pks = list(
            Order.objects.filter(
                merchant_id=request.merchant_id, channel=request.platform, external_id__in=request.order_ids
            ).values_list("pk", flat=True)
        )
    state = redaction_state(order_ids=pks) if pks else {}
    waiting = [pk for pk in pks if state.get(pk) == "deferred"]
    if waiting:
        return f"{len(waiting)} orders still in flight — erased as soon as they ship"
    if request.completed_at or (pks and all(state.get(pk) == "redacted" for pk in pks)):
        return "Done — personal data erased"
    return "Recorded"


def mask_email(email: str) -> str:
    """``bob@mail.example.com`` → ``b***@mail.example.com``: enough for the merchant to recognise a request."""
    if "@" not in (email or ""):
        return ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


# --- internals ------------------------------------------------------------------------------------------

DONE_STATUSES = (WebhookInbox.Status.DONE, WebhookInbox.Status.IGNORED, WebhookInbox.Status.DEAD)


def _scrub_inbox(req: PrivacyRequest, conn: ChannelConnection | None) -> int:
    """Processed webhook bodies that carry the customer (or, for a shop redact, every one of the shop)."""
    if conn is None:
        return 0
    rows = WebhookInbox.objects.filter(
        platform=conn.platform, account_id=conn.account_id, status__in=DONE_STATUSES
    )
    if req.kind != K.SHOP_REDACT:
        from django.db.models import Q

        match = Q(body__icontains=req.customer_email) if req.customer_email else Q()
        for external_id in req.order_ids:
            match |= Q(body__contains=f'"id":{external_id}') | Q(body__contains=f'"id": {external_id}')
            match |= Q(body__contains=f'"id":"{external_id}"') | Q(body__contains=f'"id": "{external_id}"')
        if not match:
            return 0
        rows = rows.filter(match)
    rows = rows.exclude(body__startswith='{"redacted"')
    ids = list(rows.values_list("pk", "topic"))
    for pk, topic in ids:
        WebhookInbox.objects.filter(pk=pk).update(body=json.dumps({"redacted": True, "topic": topic}))
    return len(ids)


def _notify_merchant(*, request_id: int) -> None:
    from django.conf import settings
    from django.core.mail import send_mail
    from django.urls import reverse

    req = PrivacyRequest.objects.select_related("merchant", "connection").filter(pk=request_id).first()
    if req is None:
        return
    emails = [m.user.email for m in req.merchant.memberships.select_related("user") if m.user.email]
    if not emails:
        return
    where = req.connection.display_name if req.connection else req.get_platform_display()
    url = settings.SITE_URL.rstrip("/") + (
        reverse("integrations:privacy", args=[req.connection_id])
        if req.connection_id
        else "/app/integrations/"
    )
    try:
        send_mail(
            f"[Fulfil] A customer asked {where} for their data",
            f"A customer of your {req.get_platform_display()} store {where} asked for the personal data held "
            f"about them ({req.customer_email or 'see the request'}).\n\n"
            f"We compiled what Fulfil holds (their orders, addresses and shipments). Download it here and send "
            f"it to the customer:\n{url}\n",
            None,
            emails,
        )
    except Exception:  # mail down: the request and its export are on the page regardless
        log.warning("integrations: could not email the privacy request %s", request_id, exc_info=True)
