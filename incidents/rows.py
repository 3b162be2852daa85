"""Model rows as parts of hand-written INSERT statements, for the ingest hot path.

The ORM's `create` builds a compiler and its SQL for every row (about a third of a new
trigger's CPU, docs/performance.md); the pipeline instead writes a new incident, its alert
and the event-log line in one data-modifying CTE, and the escalation tick writes a batch's
pages and timeline lines with one statement each (`insert_many`).

Each row travels as ONE parameter, a JSON document of its column values that PostgreSQL
spreads over the table's columns (`jsonb_populate_record`, which converts each value with
the column type's own input function). One parameter per row keeps the statements short and
under psycopg's limit of 50 parameters, above which it parses a statement again on every
execution (measured: about 10% of a new trigger's CPU with one parameter per column).

Values go through the model fields' own `pre_save` and `get_db_prep_save`, so defaults,
`auto_now_add` and encrypted fields are stored as `Model.save()` would store them.
PostgreSQL only (the callers keep an ORM path for the SQLite trial)."""

from __future__ import annotations

import json
from functools import cache

from django.db import connection, models
from psycopg.types.json import Jsonb

# Field classes whose `get_db_prep_save` adds nothing `json.dumps(default=str)` would not do
# (or, for JSON, only wraps the document): their `pre_save` value is written as it is. Exact
# classes, not subclasses: a field derived from one (the encrypted text field, say) may
# convert, so it takes the full path.
_AS_IS = frozenset({
    models.AutoField, models.BigAutoField, models.BigIntegerField, models.BooleanField,
    models.CharField, models.DateTimeField, models.ForeignKey, models.GenericIPAddressField,
    models.IntegerField, models.JSONField, models.PositiveIntegerField, models.TextField,
    models.UUIDField,
})


@cache
def _fields(model: type[models.Model]) -> tuple[tuple[str, models.Field, bool], ...]:
    """(column, field, written as it is) of each column but the primary key."""
    return tuple(
        (field.column, field, type(field) in _AS_IS)
        for field in model._meta.concrete_fields if not field.primary_key
    )


def _plain(value):
    """A prepared database value as JSON: a JSON column holds its document; the rest are
    numbers, booleans, strings or None, or (timestamps, UUIDs, IP addresses) written as
    their text form by `json.dumps(default=str)`, which the column's input function reads
    exactly (timestamps keep their offset and microseconds)."""
    return value.obj if isinstance(value, Jsonb) else value


def _values(obj: models.Model) -> dict:
    """The column values of `obj` (primary key left out), prepared as `Model.save()` would
    prepare them: `pre_save` fills defaults and `auto_now_add` on `obj` itself."""
    return {
        column: field.pre_save(obj, True) if as_is
        else _plain(field.get_db_prep_save(field.pre_save(obj, True), connection))
        for column, field, as_is in _fields(type(obj))
    }


def _json(document) -> str:
    return json.dumps(document, ensure_ascii=False, default=str)


def record(obj: models.Model) -> str:
    """The row of `obj` (primary key left to the database) as one JSON parameter."""
    return _json(_values(obj))


def _select(model: type[models.Model], given: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """The column list of an INSERT of `model` and the matching SELECT list, which reads
    each column from the populated record `r` unless `given` replaces it."""
    quote = connection.ops.quote_name
    replaced = dict(given)
    columns = [column for column, _field, _as_is in _fields(model)]
    select = [replaced.get(column, f"r.{quote(column)}") for column in columns]
    return ", ".join(map(quote, columns)), ", ".join(select)


@cache
def insert_select(model: type[models.Model], param: str, *, source: str = "",
                  given: tuple[tuple[str, str], ...] = ()) -> str:
    """`INSERT INTO <table> (columns) SELECT ...` of one row passed as the named parameter
    `param` (a `record`). `given` replaces some columns by SQL expressions (e.g. an id that
    an earlier part of the same statement returned), `source` adds to the FROM list what
    those expressions read."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns, select = _select(model, given)
    sources = ", ".join(filter(None, [source, f"jsonb_populate_record(NULL::{table}, %({param})s::jsonb) AS r"]))
    return f"INSERT INTO {table} ({columns}) SELECT {select} FROM {sources}"

def insert_one(obj: models.Model) -> int:
    """INSERT one row (no signals, as `bulk_create`) and return its id: the ORM's insert
    without its per-row compiler."""
    with connection.cursor() as cursor:
        cursor.execute(f"{insert_select(type(obj), 'row')} RETURNING id", {"row": record(obj)})
        obj.pk = cursor.fetchone()[0]
    return obj.pk


@cache
def _insert_many_sql(model: type[models.Model]) -> str:
    """The INSERT of `insert_many`. Each row's id is drawn from the table's sequence in a
    materialized CTE beside the row's position (`WITH ORDINALITY`; the sequence is looked up
    once, not per row), the rows are inserted with those ids, and the ids are read back ordered by position: input order by
    construction, not by the order of RETURNING (which SQL leaves open)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk.column
    columns, select = _select(model, ())
    return (
        f"WITH r AS MATERIALIZED ("
        f"SELECT nextval(seq.id) AS vigil_row_id, r.* "
        f"FROM (SELECT pg_get_serial_sequence('{table}', '{pk}')::regclass AS id) AS seq, "
        f"jsonb_populate_recordset(NULL::{table}, %(rows)s::jsonb) WITH ORDINALITY AS r), "
        f"written AS (INSERT INTO {table} ({quote(pk)}, {columns}) SELECT r.vigil_row_id, {select} FROM r) "
        f"SELECT vigil_row_id FROM r ORDER BY ordinality"
    )


def insert_many(objs: list[models.Model]) -> list[int]:
    """INSERT rows of one model (no signals, as `bulk_create`) in ONE statement with ONE
    parameter, a JSON array of `record`s, so psycopg prepares it once however many rows
    there are. Sets each object's primary key and returns the ids in input order. The
    model's primary key must be an auto-increment (identity) column."""
    if not objs:
        return []
    model = type(objs[0])
    with connection.cursor() as cursor:
        cursor.execute(_insert_many_sql(model), {"rows": _json([_values(obj) for obj in objs])})
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return ids
