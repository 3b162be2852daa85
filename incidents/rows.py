"""Model rows as parts of hand-written INSERT statements, for the ingest hot path.

The ORM's `create` builds a compiler and its SQL for every row (about a third of a new
trigger's CPU, docs/performance.md); the pipeline instead writes a new incident, its alert
and the event-log line in one data-modifying CTE. The columns and placeholders of each
model are built once; each row only converts its values, through the model fields' own
`pre_save` and `get_db_prep_save`, so defaults, `auto_now_add`, JSON and encrypted fields
are stored exactly as `Model.save()` would store them.

PostgreSQL only (the callers keep an ORM path for the SQLite trial)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection, models

# Text columns take an untyped literal as they are; every other type is cast, so a value
# placed in a SELECT list (where PostgreSQL cannot infer the target column's type) still
# arrives as what the column holds.
_UNCAST = ("varchar", "text", "character varying")


@dataclass(frozen=True)
class Shape:
    """One model's INSERT parts: `columns` for `INSERT INTO table (columns)` and `values`,
    the matching placeholders (named `<prefix>_<n>`), in the same order."""

    table: str
    prefix: str
    fields: tuple
    columns: str
    values: str

    def params(self, obj: models.Model) -> dict:
        """The row's values by placeholder name, converted as `save()` converts them."""
        return {
            f"{self.prefix}_{n}": field.get_db_prep_save(field.pre_save(obj, True), connection)
            for n, field in enumerate(self.fields)
        }


@cache
def shape(model: type[models.Model], prefix: str = "p", *, given: tuple[str, ...] = ()) -> Shape:
    """The INSERT parts of `model`'s concrete columns, without its primary key and without
    the columns named in `given` (the caller writes those itself, e.g. an id taken from an
    earlier part of the same statement, and puts them first in the same order). `prefix`
    keeps the placeholder names of several rows in one statement apart."""
    quote = connection.ops.quote_name
    fields = tuple(
        field for field in model._meta.concrete_fields
        if not field.primary_key and field.column not in given
    )
    placeholders = []
    for n, field in enumerate(fields):
        db_type = field.db_type(connection)
        cast = "" if db_type.startswith(_UNCAST) else f"::{field.cast_db_type(connection)}"
        placeholders.append(f"%({prefix}_{n})s{cast}")
    return Shape(
        table=quote(model._meta.db_table),
        prefix=prefix,
        fields=fields,
        columns=", ".join([*map(quote, given), *(quote(f.column) for f in fields)]),
        values=", ".join(placeholders),
    )


def insert_one(obj: models.Model) -> int:
    """INSERT one row (no signals, as `bulk_create`) and return its id: the ORM's insert
    without its per-row compiler."""
    parts = shape(type(obj))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {parts.table} ({parts.columns}) VALUES ({parts.values}) RETURNING id",
            parts.params(obj),
        )
        obj.pk = cursor.fetchone()[0]
    return obj.pk
