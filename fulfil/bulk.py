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


class _InsertPlan:
    """For one call of ``insert_rows`` and one set of keys its rows give: the given attributes (in COPY
    column order) and the JSON ones among them to encode, then the filled-in columns — the current time, the
    constant defaults (taken and encoded once) and the callable defaults (called per row)."""

    def __init__(self, model, spec, keys: frozenset, now) -> None:
        self.given: list[str] = []
        self.preps: list[tuple[int, object]] = []
        given_columns: list[str] = []
        filled_columns: list[str] = []
        self.constants: list = []
        per_row_columns: list[str] = []
        self.per_row: list[tuple[object, object]] = []
        for attname, column, kind, default, prep in spec:
            if attname in keys:
                if prep is not None:
                    self.preps.append((len(self.given), prep))
                self.given.append(attname)
                given_columns.append(column)
            elif kind == _NOW:
                filled_columns.append(column)
                self.constants.append(now)
            elif kind == _CONSTANT:
                value = default()
                filled_columns.append(column)
                self.constants.append(prep(value) if prep is not None else value)
            elif kind == _PER_ROW:
                per_row_columns.append(column)
                self.per_row.append((default, prep))
            else:
                raise ValueError(f"{model.__name__}.{attname} is required")
        unknown = keys - {attname for attname, *_ in spec}
        if unknown:
            raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
        self.columns = given_columns + filled_columns + per_row_columns


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
    qn = db_connection.ops.quote_name
    table, pk_column = model._meta.db_table, model._meta.pk.column
    pks: list[int] = []
    with db_connection.cursor() as cursor:
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, len(rows)],
            )
            pks = [r[0] for r in cursor.fetchall()]
        # One COPY per set of keys the rows give (almost always one): its columns are the given ones first,
        # then the filled-in ones, so a row is its values in one comprehension plus the call's constants.
        groups: dict[frozenset, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(frozenset(row), []).append(i)
        plans = [(_InsertPlan(model, spec, keys, now), indices) for keys, indices in groups.items()]
        for plan, indices in plans:  # (every plan made first: a refused row means nothing was written)
            columns = ([pk_column] if returning else []) + plan.columns
            sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
            given, preps, constants, per_row = plan.given, plan.preps, plan.constants, plan.per_row
            with db_connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                for i in indices:
                    row = rows[i]
                    values = [row[a] for a in given]
                    for k, prep in preps:
                        values[k] = prep(values[k])
                    values += constants
                    if per_row:
                        values += [prep(d()) if prep is not None else d() for d, prep in per_row]
                    if returning:
                        values.insert(0, pks[i])
                    copy.write_row(values)
    return pks


_ROW_FIELDS: dict = {}


def instances(model, rows: list[dict], pks: list[int]) -> list:
    """The instances that rows just written by ``insert_rows`` are, as ``Model(**row)`` with its pk would have
    them: each field not in its row at its default — so an ``auto_now``/``auto_now_add`` field the row does not
    give is ``None`` here, not the time ``insert_rows`` wrote (give it in the rows when the instance needs it).
    Built as the ORM builds rows it read — ``Model.from_db``, positional values: ``Model.__init__``'s fast
    path, without its keyword handling per field."""
    fields = _ROW_FIELDS.get(model)
    if fields is None:
        fields = _ROW_FIELDS[model] = [
            (f.attname, f.get_default, f.primary_key) for f in model._meta.concrete_fields
        ]
    attnames = [attname for attname, _, _ in fields]
    alias = db_connection.alias
    return [
        model.from_db(
            alias,
            attnames,
            [pk if is_pk else (row[a] if a in row else default()) for a, default, is_pk in fields],
        )
        for row, pk in zip(rows, pks, strict=True)
    ]


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
        + ", ".join(f"{qn(f.column)} = {_set_value(f, qn)}" for f in columns[1:])
        + " FROM jsonb_to_recordset(%s::jsonb) AS v("
        + ", ".join(f"{qn(f.column)} {f.db_type(db_connection)}" for f in columns)
        + f") WHERE t.{qn(meta.pk.column)} = v.{qn(meta.pk.column)}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, separators=(",", ":"))])


def _set_value(field, qn) -> str:
    """A column's new value from the recordset. ``jsonb_to_recordset`` reads a JSON ``null`` into a jsonb
    column as SQL NULL; a JSON field that cannot be NULL stores Python ``None`` as JSON ``null`` (as Django
    does), a nullable one as SQL NULL."""
    from django.db import models

    if isinstance(field, models.JSONField) and not field.null:
        return f"COALESCE(v.{qn(field.column)}, 'null'::jsonb)"
    return f"v.{qn(field.column)}"


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
