"""Outbox handlers: billing reacts to what the lower apps did. Each is idempotent (charge lines are unique
on their source key; estimates are recomputed)."""

from __future__ import annotations

from billing import selectors, services
from fulfil import outbox
from fulfil.audit import Actor, audit_context

BILLING = Actor(label="billing", source="worker")


def credit_release_guard(order) -> str | None:
    """Orders' release guard (registered in ``BillingConfig.ready``): a merchant on credit hold gets no new
    orders released to the warehouse. The operator override is applied inside ``credit_hold``."""
    reason = selectors.credit_hold(order.merchant)
    return f"Credit hold: {reason}" if reason else None


@outbox.handles("billing.credit_changed")
def release_orders_held_for_credit(event) -> None:
    """Paid, overridden or a higher limit: let the orders held for credit go (each re-checks every guard)."""
    from orders.services import orders_release_held

    merchant_id = event.payload["merchant_id"]
    with audit_context(BILLING):
        orders_release_held(merchant_id=merchant_id)


@outbox.handles("order.created")
def estimate_on_created(event) -> None:
    p = event.payload
    services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.status_changed")
def estimate_on_status_changed(event) -> None:
    p = event.payload
    if p.get("to") in ("shipped", "partially_shipped", "delivered", "cancelled"):
        return
    services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.changed")
def estimate_on_changed(event) -> None:
    p = event.payload
    if p.get("order_id") and p.get("merchant_id"):
        services.order_cost_estimate(merchant_id=p["merchant_id"], order_id=p["order_id"])


@outbox.handles("order.shipped")
def bill_order_shipped(event) -> None:
    p = event.payload
    services.order_charge_shipped(
        merchant_id=p["merchant_id"],
        order_id=p["order_id"],
        shipment_id=p.get("shipment_id"),
        event_id=event.pk,
    )


@outbox.handles("inventory.received")
def bill_units_received(event) -> None:
    p = event.payload
    services.inbound_charge_received(
        merchant_id=p["merchant_id"], inbound_shipment_id=p["inbound_shipment_id"], event_id=event.pk
    )


@outbox.handles("inventory.kits_built")
def bill_kits_built(event) -> None:
    p = event.payload
    services.kitting_charge_built(merchant_id=p["merchant_id"], payload=p, event_id=event.pk)


@outbox.handles("return.processed")
def bill_return_processed(event) -> None:
    p = event.payload
    services.return_charge_processed(merchant_id=p["merchant_id"], payload=p, event_id=event.pk)


def _connect_cache_invalidation() -> None:
    """The estimate's memoised reads (``selectors.card_in_force_cached``/``volume_basis_cached``,
    ``sources._origin_zip``) are dropped whenever a row they are built from is written in this process — cache
    invalidation only, no business flow (another process sees the change within the memo's short TTL)."""
    from django.db.models.signals import post_delete, post_save

    from billing import sources
    from billing.models import ChargeLine, RateCard, RateCardVersion, VolumeCommitment

    for model in (RateCard, RateCardVersion, VolumeCommitment, ChargeLine):
        for signal in (post_save, post_delete):
            signal.connect(
                selectors.estimate_caches_clear, sender=model, dispatch_uid=f"billing-est-{model.__name__}"
            )
    from django.apps import apps

    try:
        warehouse = apps.get_model("inventory", "Warehouse")
    except LookupError:
        return
    for signal in (post_save, post_delete):
        signal.connect(sources.origin_cache_clear, sender=warehouse, dispatch_uid="billing-est-warehouse")


_connect_cache_invalidation()
