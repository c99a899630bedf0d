"""Outbox handlers (idempotent): counts triggered by short picks and emptied locations."""

from __future__ import annotations

from fulfil import outbox
from warehouse.inbound import services


@outbox.handles("warehouse.short_pick")
def count_on_short_pick(event) -> None:
    """A picker found fewer units than the system said: count that location (at most one open count)."""
    p = event.payload
    services.count_trigger_short_pick(
        location_id=int(p["location_id"]), product_id=int(p["product_id"]), source_key=f"event:{event.pk}"
    )


@outbox.handles("warehouse.location_emptied")
@outbox.handles("inventory.location_emptied")
def count_on_location_emptied(event) -> None:
    """A location went to zero: confirm it is really empty."""
    p = event.payload
    services.count_trigger_location_empty(
        location_id=int(p["location_id"]), product_id=int(p["product_id"]), source_key=f"event:{event.pk}"
    )
