"""The audit trail: every business change, one mechanism project-wide.

Services call ``audit_record`` in the same transaction as the change. The acting user and the channel
(ui, api, webhook, worker) come from ``audit_context`` which views and tasks open around their work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from asgiref.local import Local

from fulfil.middleware import current_request_id
from fulfil.models import AuditEntry

_local = Local()


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    label: str = "system"
    source: str = "system"


SYSTEM = Actor()


@contextlib.contextmanager
def audit_context(actor: Actor) -> Iterator[None]:
    previous = getattr(_local, "actor", None)
    _local.actor = actor
    try:
        yield
    finally:
        _local.actor = previous


def current_actor() -> Actor:
    return getattr(_local, "actor", None) or SYSTEM


def actor_for_request(request, source: str = "ui") -> Actor:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        label = getattr(request, "api_key_label", "") or user.email
        return Actor(
            user_id=user.pk, label=label, source="api" if getattr(request, "api_key_label", "") else source
        )
    return Actor(label="anonymous", source=source)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def audit_record(
    *,
    obj_type: str,
    obj_id: Any,
    action: str,
    merchant_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
    actor: Actor | None = None,
) -> AuditEntry:
    actor = actor or current_actor()
    return AuditEntry.objects.create(
        merchant_id=merchant_id,
        actor_id=actor.user_id,
        actor_label=actor.label,
        source=actor.source,
        object_type=obj_type,
        object_id=str(obj_id),
        action=action,
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
        message=message,
        request_id=current_request_id(),
    )


def record_many(entries: Iterable[dict[str, Any]]) -> list[AuditEntry]:
    """``audit_record`` for many entries in one insert. Each entry holds ``audit_record``'s keyword arguments
    (``obj_type``, ``obj_id``, ``action``, optional ``merchant_id``, ``before``, ``after``, ``message``,
    ``actor``); an entry without an actor gets the current one."""
    rows = [AuditEntry(**fields) for fields in entry_rows(entries)]
    return AuditEntry.objects.bulk_create(rows) if rows else []


def entry_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``AuditEntry`` field values (by attribute name) ``record_many`` writes for ``entries``: the actor
    each entry names or the current one, the request id of now, before/after made JSON-safe. For a writer
    that inserts the rows with its own SQL (a batch's COPY)."""
    request_id = current_request_id()
    rows = []
    for e in entries:
        actor = e.get("actor") or current_actor()
        rows.append(
            {
                "merchant_id": e.get("merchant_id"),
                "actor_id": actor.user_id,
                "actor_label": actor.label,
                "source": actor.source,
                "object_type": e["obj_type"],
                "object_id": str(e["obj_id"]),
                "action": e["action"],
                "before": _jsonable(e.get("before") or {}),
                "after": _jsonable(e.get("after") or {}),
                "message": e.get("message", ""),
                "request_id": request_id,
            }
        )
    return rows


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys that changed, for compact before/after entries."""
    keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def audit_list(*, obj_type: str, obj_id: Any):
    return (
        AuditEntry.objects.filter(object_type=obj_type, object_id=str(obj_id))
        .select_related("actor")
        .order_by("pk")
    )
