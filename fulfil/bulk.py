"""Bulk writes without Django's per-row machinery, for the hot batch paths (the order import, inventory's batch
reservation, the webhook inbox): ``insert_rows`` (one ``COPY … FROM STDIN``, keys drawn from the sequence
first) and ``bulk_update_rows`` (one ``UPDATE … FROM jsonb_to_recordset``). Generic over models; on another
database they fall back to ``bulk_create`` / ``bulk_update``."""

from __future__ import annotations

import json

from django.db import connection as db_connection

_INSERT_SPECS: dict = {}


_REQUIRED, _NOW, _CONSTANT, _PER_ROW = range(4)


def _insert_spec(model):
    """Per model, once: the columns of an INSERT and how each value is found and prepared — a column the row
    does not give is required, the current time (``auto_now``/``auto_now_add``), a constant default (no
    default, a plain value, or an empty ``dict``/``list``: taken once per call), or a callable default called
    for each row (e.g. ``timezone.now``)."""
    spec = _INSERT_SPECS.get(model)
    if spec is None:
        from django.db.models import JSONField

        cols = []
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                kind = _NOW
            elif not (f.has_default() or f.null or f.empty_strings_allowed):
                kind = _REQUIRED
            elif not f.has_default() or not callable(f.default) or f.default in (dict, list):
                kind = _CONSTANT
            else:
                kind = _PER_ROW
            prep = _json_text(f) if isinstance(f, JSONField) else None
            cols.append((f.attname, f.column, kind, f.get_default, prep))
        spec = _INSERT_SPECS[model] = cols
    return spec


_MISSING = object()


def _json_text(field):
    """A JSON field's value as the text COPY sends: what the field's own ``Jsonb`` adapter would dump
    (``json.dumps``; Python ``None`` is SQL NULL when the field is nullable, JSON ``null`` otherwise)."""
    encoder = getattr(field, "encoder", None)

    def prep(value):
        if value is None and field.null:
            return None
        return json.dumps(value, cls=encoder)

    return prep


def insert_rows(model, rows: list[dict], *, returning: bool = True) -> list[int]:
    """Insert many rows of ``model`` (dicts by attribute name; missing fields take their defaults,
    ``auto_now``/``auto_now_add`` fields the current time); returns the new primary keys in the rows' order
    (``returning``). On Postgres: the keys drawn from the table's sequence in one query, the rows sent with
    one ``COPY … FROM STDIN`` — the batch import's writes without a model instance per row and without
    Django's ``bulk_create`` compilation (UNNEST arrays quoted element by element in Python) or a query of
    thousands of placeholders for psycopg to split, which cost more than the rest of an import. No signals,
    as ``bulk_create``; database errors surface as Django's (``IntegrityError``)."""
    if not rows:
        return []
    if db_connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**row) for row in rows])
        return [o.pk for o in objs]
    from django.utils import timezone

    spec = _insert_spec(model)
    now = timezone.now()
    constants: dict[str, object] = {}
    qn = db_connection.ops.quote_name
    table, pk_column = model._meta.db_table, model._meta.pk.column
    columns = [c for _, c, _, _, _ in spec]
    with db_connection.cursor() as cursor:
        pks: list[int] = []
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, len(rows)],
            )
            pks = [r[0] for r in cursor.fetchall()]
            columns.insert(0, pk_column)
        sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        with db_connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for i, row in enumerate(rows):
                values = [pks[i]] if returning else []
                for attname, _column, kind, default, prep in spec:
                    value = row.get(attname, _MISSING)
                    if value is _MISSING:
                        if kind == _NOW:
                            value = now
                        elif kind == _CONSTANT:  # taken and prepared once per call
                            value = constants.get(attname, _MISSING)
                            if value is _MISSING:
                                value = default()
                                value = constants[attname] = prep(value) if prep is not None else value
                            values.append(value)
                            continue
                        elif kind == _PER_ROW:
                            value = default()
                        else:
                            raise ValueError(f"{model.__name__}.{attname} is required")
                    values.append(prep(value) if prep is not None else value)
                copy.write_row(values)
    return pks


def bulk_update_rows(model, objs: list, fields: list[str]) -> None:
    """``model.objects.bulk_update(objs, fields)`` as one ``UPDATE … FROM jsonb_to_recordset(%s)`` on Postgres:
    the new values travel as ONE JSON document (``json.dumps`` in C) instead of a placeholder per row and field
    (each prepared by the field, then quoted by psycopg one by one, in a query text of thousands of
    placeholders for psycopg to split) or Django's ``CASE WHEN`` per row and field. Same values: each column
    gets its field's value as Postgres reads it from text (decimals as strings, dates and times in ISO form,
    JSON fields as JSON); no ``auto_now``."""
    if not objs or not fields:
        return
    if db_connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    qn = db_connection.ops.quote_name
    convert = [(f.attname, f.column, _json_converter(f)) for f in columns]
    rows = []
    for obj in objs:
        row = {}
        for attname, column, conv in convert:
            value = getattr(obj, attname)
            row[column] = value if conv is None or value is None else conv(value)
        rows.append(row)
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET "  # noqa: S608 - quoted names from model meta; values are a parameter
        + ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns[1:])
        + " FROM jsonb_to_recordset(%s::jsonb) AS v("
        + ", ".join(f"{qn(f.column)} {f.db_type(db_connection)}" for f in columns)
        + f") WHERE t.{qn(meta.pk.column)} = v.{qn(meta.pk.column)}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, separators=(",", ":"))])


def _json_converter(field):
    """How a field's Python value goes into the JSON document of ``bulk_update_rows`` (``None``: as it is)."""
    from django.db import models

    if isinstance(field, models.JSONField):
        return None  # a JSON value of the document (what does not encode fails, as with the field's own dump)
    if isinstance(field, models.DecimalField):
        return str
    if isinstance(field, models.DateTimeField):
        return lambda value: field.get_db_prep_save(value, db_connection).isoformat()
    if isinstance(field, models.DateField | models.TimeField):
        return lambda value: value.isoformat()
    if isinstance(field, models.BooleanField | models.IntegerField | models.AutoField | models.ForeignKey):
        return None
    if isinstance(field, models.CharField | models.TextField):
        return str
    return lambda value: field.get_db_prep_save(value, db_connection)
