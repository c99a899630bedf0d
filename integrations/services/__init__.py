"""Writes for sales channels: connecting, settings, the webhook inbox, reconciliation polls, product fetch and
mapping, the outbound push queue, dead letters and privacy requests.

Connectors are passed in (``connector=``) so tests can hand in a fake; by default the registry builds one for
the connection. Orders enter the book only through ``orders.services.order_import`` (via ``ports``); stock
figures come only from inventory's ``available_to_sell``.

A package by part of the job (``events``, ``connections``, ``inbound``, ``products``, ``push``,
``dead_letters``); every service is importable from here, as when this was one module.
"""

from __future__ import annotations

from integrations.services.connections import (  # noqa: F401
    SETTING_FIELDS,
    _enqueue_first_import,
    connection_activate,
    connection_create,
    connection_credentials,
    connection_disable,
    connection_first_import,
    connection_test,
    connection_update_settings,
)
from integrations.services.dead_letters import (  # noqa: F401
    alerts_check,
    dead_letter_dismiss,
    dead_letter_replay,
    sweep_due,
)
from integrations.services.events import (  # noqa: F401
    MAX_ATTEMPTS,
    RECONCILE_LOOKBACK,
    E,
    S,
    _mark_broken,
    _mark_ok,
    event_log,
)
from integrations.services.inbound import (  # noqa: F401
    STATUS_KEYS,
    _enqueue_inbox,
    _ingest_note,
    _ingest_prepare,
    _safe_delay,
    channel_order_ingest,
    channel_status,
    fulfillment_order_event,
    orders_reconcile,
)
from integrations.services.products import (  # noqa: F401
    listing_map,
    products_fetch,
    products_import,
    suggestions_for,
)
from integrations.services.push import (  # noqa: F401
    _INSERT_PUSH_ONCE,
    _UPSERT_PUSH,
    CHANNEL_ORIGIN,
    _enqueue_push,
    _order_connection,
    _push_dead,
    _send,
    _tracking_for,
    inventory_changed,
    inventory_resync,
    live_connections,
    order_cancelled,
    order_shipped,
    push_schedule,
    push_send,
)

# The inbox and its drain live in ``integrations.inbox``; their services stay reachable here (callers and
# tests use ``services.webhook_accept`` and friends). Resolved lazily: ``inbox`` imports this module.
_INBOX_NAMES = frozenset(
    {"webhook_accept", "inbox_drain", "inbox_process", "inbox_process_many", "kick_drain"}
)


def __getattr__(name: str):
    if name in _INBOX_NAMES:
        from integrations import inbox

        return getattr(inbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
