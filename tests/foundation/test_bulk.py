"""``fulfil.bulk``: rows written by ``insert_rows`` (COPY) read back exactly as ``bulk_create`` would have written
them, whatever keys each row gives; ``instances`` are those rows; ``bulk_update_rows`` writes each field's value."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from fulfil.bulk import bulk_update_rows, insert_rows, instances
from fulfil.models import OutboxEvent

FIELDS = [
    f.attname for f in OutboxEvent._meta.concrete_fields if not f.primary_key and f.attname != "created_at"
]


def _as_stored(pks):
    by_pk = {e.pk: e for e in OutboxEvent.objects.filter(pk__in=pks)}
    return [{f: getattr(by_pk[pk], f) for f in FIELDS} for pk in pks]


@pytest.mark.django_db
def test_rows_with_different_keys_are_stored_like_bulk_create_stores_them():
    rows = [
        {"event_type": "a", "payload": {"n": 1, "nested": [1, "x"]}, "merchant_id": 7},
        {"event_type": "b"},  # every other field at its default
        {"event_type": "c", "payload": {}, "status": "done", "handled": ["h1"], "attempts": 3},
        {"event_type": "d", "payload": {"n": 2}, "merchant_id": None},
        {
            "event_type": "e",
            "dispatched_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
            "last_error": "tab\there, newline\nthere, backslash \\ and quote '",
        },
    ]
    pks = insert_rows(OutboxEvent, rows)
    assert len(pks) == len(set(pks)) == 5
    assert pks == sorted(pks)
    expected = OutboxEvent.objects.bulk_create([OutboxEvent(**row) for row in rows])
    assert _as_stored(pks) == _as_stored([e.pk for e in expected])
    stored = OutboxEvent.objects.get(pk=pks[0])
    assert stored.created_at is not None
    assert stored.payload == {"n": 1, "nested": [1, "x"]}

    built = instances(OutboxEvent, rows, pks)
    assert [e.pk for e in built] == pks
    assert [{f: getattr(e, f) for f in FIELDS} for e in built] == _as_stored(pks)
    assert all(e._state.adding is False for e in built)


@pytest.mark.django_db
def test_without_returning_nothing_is_drawn_and_the_rows_are_written():
    before = OutboxEvent.objects.count()
    assert insert_rows(OutboxEvent, [{"event_type": "x"}, {"event_type": "y"}], returning=False) == []
    assert OutboxEvent.objects.count() == before + 2
    assert insert_rows(OutboxEvent, []) == []


@pytest.mark.django_db
def test_a_missing_required_field_or_an_unknown_key_is_refused_and_nothing_is_written():
    before = OutboxEvent.objects.count()
    with pytest.raises(ValueError, match="no field colour"):
        insert_rows(OutboxEvent, [{"event_type": "x"}, {"event_type": "y", "colour": "red"}])
    assert OutboxEvent.objects.count() == before


@pytest.mark.django_db
def test_a_constraint_violation_is_djangos_integrity_error():
    pk = insert_rows(OutboxEvent, [{"event_type": "x"}])[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(OutboxEvent, [{"event_type": "y", "attempts": -1}])  # attempts is a PositiveIntegerField
    assert OutboxEvent.objects.filter(pk=pk).exists()


@pytest.mark.django_db
def test_bulk_update_rows_writes_each_fields_value():
    pks = insert_rows(OutboxEvent, [{"event_type": "a"}, {"event_type": "b", "payload": {"k": 1}}])
    events = list(OutboxEvent.objects.filter(pk__in=pks).order_by("pk"))
    at = datetime(2026, 11, 29, 13, 30, 15, 123456, tzinfo=UTC)
    events[0].payload, events[0].dispatched_at, events[0].attempts = {"v": [1, 2]}, at, 4
    events[1].payload, events[1].dispatched_at, events[1].status = None, None, "failed"
    bulk_update_rows(OutboxEvent, events, ["payload", "dispatched_at", "attempts", "status"])
    a, b = OutboxEvent.objects.filter(pk__in=pks).order_by("pk")
    assert (a.payload, a.dispatched_at, a.attempts, a.status) == ({"v": [1, 2]}, at, 4, "pending")
    assert (b.payload, b.dispatched_at, b.attempts, b.status) == (None, None, 0, "failed")
