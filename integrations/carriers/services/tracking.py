"""Tracking: updates applied to shipments (and, through the orders workflow, to orders), the carrier
webhook events stored once and processed, and the poll for trackers that went quiet."""

from __future__ import annotations

import hashlib
import logging
from functools import partial

from django.db import transaction
from django.utils import timezone

from fulfil import outbox
from fulfil.audit import audit_record

from ..base import TrackingInfo, WebhookNotice
from ..models import Shipment, TrackingEvent, WebhookEvent
from ..registry import WEBHOOK_PARSERS, AccountConfig, ConnectorFactory, connector_for

log = logging.getLogger(__name__)

STATUS_FROM_TRACKING = {
    "in_transit": Shipment.Status.IN_TRANSIT,
    "out_for_delivery": Shipment.Status.OUT_FOR_DELIVERY,
    "delivered": Shipment.Status.DELIVERED,
    "exception": Shipment.Status.EXCEPTION,
    "returned": Shipment.Status.RETURNED,
}
SHIPPED_LIKE = {"in_transit", "out_for_delivery", "delivered"}
FINAL = {Shipment.Status.DELIVERED, Shipment.Status.VOIDED, Shipment.Status.RETURNED}


def _fingerprint(detail) -> str:
    raw = "|".join(
        [
            detail.occurred_at.isoformat() if detail.occurred_at else "",
            detail.provider_status,
            detail.provider_status_detail,
            detail.message,
            detail.location,
        ]
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def tracking_apply(*, shipment: Shipment, info: TrackingInfo, source: str = "webhook") -> Shipment:
    """Record a tracking update: new events (deduplicated), the shipment status, and the order's status
    through the orders workflow. Idempotent: the same update twice changes nothing the second time."""
    with transaction.atomic():
        shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
        previous = shipment.status
        events = [
            TrackingEvent(
                merchant_id=shipment.merchant_id,
                shipment=shipment,
                status=d.status,
                message=d.message[:500],
                location=d.location[:200],
                occurred_at=d.occurred_at,
                provider_status=d.provider_status[:40],
                provider_status_detail=d.provider_status_detail[:60],
                fingerprint=_fingerprint(d),
            )
            for d in info.details
        ]
        TrackingEvent.objects.bulk_create(events, ignore_conflicts=True)
        new_status = STATUS_FROM_TRACKING.get(info.status)
        now = timezone.now()
        shipment.last_tracking_at = now
        if info.provider_tracker_id and not shipment.provider_tracker_id:
            shipment.provider_tracker_id = info.provider_tracker_id
        if info.public_url:
            shipment.public_tracking_url = info.public_url
        if info.est_delivery:
            shipment.est_delivery_at = info.est_delivery
        changed = new_status is not None and new_status != previous and previous not in FINAL
        if changed:
            shipment.status = new_status
            if (
                new_status in (Shipment.Status.IN_TRANSIT, Shipment.Status.OUT_FOR_DELIVERY)
                and not shipment.shipped_at
            ):
                shipment.shipped_at = _first_time(info, SHIPPED_LIKE) or now
            if new_status == Shipment.Status.DELIVERED:
                shipment.delivered_at = _first_time(info, {"delivered"}) or now
                shipment.shipped_at = (
                    shipment.shipped_at or _first_time(info, SHIPPED_LIKE) or shipment.delivered_at
                )
        shipment.save()
        if changed:
            audit_record(
                obj_type="carriers.Shipment",
                obj_id=shipment.pk,
                action="tracking_updated",
                merchant_id=shipment.merchant_id,
                before={"status": previous},
                after={"status": shipment.status},
                message=f"from {source}",
            )
            outbox.emit(
                "carrier.tracking_updated",
                {
                    "shipment_id": shipment.pk,
                    "order_id": shipment.order_id,
                    "merchant_id": shipment.merchant_id,
                    "from": previous,
                    "to": shipment.status,
                    "tracking_number": shipment.tracking_number,
                    "public_url": shipment.public_tracking_url,
                },
                merchant_id=shipment.merchant_id,
            )
            _advance_order(shipment)
    return shipment


def _first_time(info: TrackingInfo, statuses: set[str]):
    times = [d.occurred_at for d in info.details if d.status in statuses and d.occurred_at]
    return min(times) if times else None


def _advance_order(shipment: Shipment) -> None:
    """Move the order along through the orders app's own workflow (it checks, audits and emits)."""
    if not shipment.order_id:
        return
    try:
        from orders import services as order_services
        from orders.exceptions import IllegalTransition
    except ImportError:
        return
    mark_shipped = getattr(order_services, "order_mark_shipped", None)
    mark_delivered = getattr(order_services, "order_mark_delivered", None)
    order = shipment.order
    shipped_like = {Shipment.Status.IN_TRANSIT, Shipment.Status.OUT_FOR_DELIVERY, Shipment.Status.DELIVERED}
    try:
        if shipment.status in shipped_like and mark_shipped and order.status == "packed":
            with transaction.atomic():
                mark_shipped(order=order, shipment_id=shipment.pk)
            order.refresh_from_db()
        if shipment.status == Shipment.Status.DELIVERED and mark_delivered and order.status == "shipped":
            with transaction.atomic():
                mark_delivered(order=order)
    except IllegalTransition as exc:
        log.info("order %s not advanced by shipment %s: %s", order.pk, shipment.pk, exc)


def webhook_event_record(*, provider: str, payload: dict) -> tuple[WebhookEvent | None, bool]:
    """Store a verified webhook event once. Returns (event, created); a duplicate returns created=False."""
    notice: WebhookNotice = WEBHOOK_PARSERS[provider](payload)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=notice.event_id,
            defaults={"description": notice.description[:100], "payload": payload},
        )
        if created:
            transaction.on_commit(partial(_enqueue_webhook, event_id=event.pk))
    return event, created


def _enqueue_webhook(*, event_id: int) -> None:
    from ..tasks import process_webhook_event

    try:
        process_webhook_event.delay(event_id=event_id)
    except Exception:
        log.warning("could not enqueue webhook event %s; the poll will pick it up", event_id, exc_info=True)


def webhook_event_process(*, event_id: int) -> str:
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
            return event.status
        notice: WebhookNotice = WEBHOOK_PARSERS[event.provider](event.payload)
        status, error = WebhookEvent.Status.IGNORED, ""
        if notice.kind == "tracking" and notice.tracking is not None:
            shipment = _shipment_for_tracking(notice.tracking)
            if shipment is None:
                error = f"no shipment for tracking number {notice.tracking.tracking_number}"
            else:
                tracking_apply(shipment=shipment, info=notice.tracking, source="webhook")
                status = WebhookEvent.Status.PROCESSED
        elif notice.kind == "refund" and notice.provider_shipment_id:
            updated = Shipment.objects.filter(provider_shipment_id=notice.provider_shipment_id).update(
                refund_status=notice.refund_status[:20]
            )
            status = WebhookEvent.Status.PROCESSED if updated else WebhookEvent.Status.IGNORED
        event.status, event.error, event.processed_at = status, error[:500], timezone.now()
        event.save(update_fields=["status", "error", "processed_at"])
        return status


def _shipment_for_tracking(info: TrackingInfo) -> Shipment | None:
    qs = Shipment.objects.exclude(status=Shipment.Status.VOIDED)
    if info.provider_tracker_id:
        found = qs.filter(provider_tracker_id=info.provider_tracker_id).first()
        if found:
            return found
    if info.provider_shipment_id:
        found = qs.filter(provider_shipment_id=info.provider_shipment_id).first()
        if found:
            return found
    if info.tracking_number:
        matches = qs.filter(tracking_number=info.tracking_number)
        if info.carrier:
            matches = matches.filter(carrier=info.carrier) or qs.filter(tracking_number=info.tracking_number)
        return matches.order_by("-pk").first()
    return None


def shipment_track(*, shipment_id: int, connectors: ConnectorFactory | None = None) -> Shipment:
    """Poll the carrier for one shipment (for trackers that went quiet)."""
    shipment = Shipment.objects.select_related("account").get(pk=shipment_id)
    if shipment.account is None or not shipment.tracking_number:
        return shipment
    connector = (connectors or connector_for)(AccountConfig.of(shipment.account))
    info = connector.track(
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        provider_tracker_id=shipment.provider_tracker_id,
    )
    return tracking_apply(shipment=shipment, info=info, source="poll")
