"""Writes of the carrier layer: rate shopping, labels, voids, scan forms, address checks, tracking.

I/O to providers never runs inside a database transaction: a service records our intent first (so nothing is
bought twice), calls the provider, then records the outcome in a short transaction with its audit entry and
outbox event. Providers come from ``registry.connector_for``; every service accepts ``connectors=`` so tests
and benchmarks can hand in another factory without patching.

One module per thing that changes together:

- ``accounts``: carrier accounts and the merchant's shipping rules;
- ``rates``: rate shopping (parallel fan-out, circuit breaker, ranking, recorded quotes);
- ``labels``: buying a label (idempotent, failover), storing its file, voiding it;
- ``scanforms``: end-of-day scan forms;
- ``addresses``: address verification and the merchant's decision on a proposal;
- ``tracking``: tracking updates, carrier webhook events, polling quiet trackers.

Callers import from this package (``from integrations.carriers.services import shipment_buy_label`` or
``from integrations.carriers import services``); the names below are its public surface.
"""

from ._common import MAX_ATTEMPTS
from .accounts import (
    ACCOUNT_FIELDS,
    carrier_account_create,
    carrier_account_set_enabled,
    carrier_account_test,
    carrier_account_update,
    shipping_rule_set,
)
from .addresses import address_proposal_decide, address_verify
from .labels import (
    BUYING_STALE_AFTER,
    MAX_BUY_CANDIDATES,
    shipment_buy_label,
    shipment_store_label,
    shipment_void,
)
from .rates import AccountOutcome, ShopResult, no_rate_reasons, rates_for_order, rates_shop
from .scanforms import scanform_create, scanforms_end_of_day
from .tracking import (
    FINAL,
    SHIPPED_LIKE,
    STATUS_FROM_TRACKING,
    shipment_track,
    tracking_apply,
    webhook_event_process,
    webhook_event_record,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "BUYING_STALE_AFTER",
    "FINAL",
    "MAX_ATTEMPTS",
    "MAX_BUY_CANDIDATES",
    "SHIPPED_LIKE",
    "STATUS_FROM_TRACKING",
    "AccountOutcome",
    "ShopResult",
    "address_proposal_decide",
    "address_verify",
    "carrier_account_create",
    "carrier_account_set_enabled",
    "carrier_account_test",
    "carrier_account_update",
    "no_rate_reasons",
    "rates_for_order",
    "rates_shop",
    "scanform_create",
    "scanforms_end_of_day",
    "shipment_buy_label",
    "shipment_store_label",
    "shipment_track",
    "shipment_void",
    "shipping_rule_set",
    "tracking_apply",
    "webhook_event_process",
    "webhook_event_record",
]
