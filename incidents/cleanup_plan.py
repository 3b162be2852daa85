"""What deleting an incident must also delete or detach, derived from the models' own foreign
keys (every app's), so a table added later that points at Incident is handled the day it
appears, or refused loudly: a foreign key whose `on_delete` the cleanup cannot do in SQL
(PROTECT, RESTRICT, DO_NOTHING, SET_DEFAULT, SET(...)) makes `incident_plan()` raise.

The cleanup deletes in set-based SQL, not through Django's collector, so it must do what
`on_delete` would have done: CASCADE deletes the rows (their own dependents first), SET_NULL
clears the column. Events are the exception by policy: their foreign key is SET_NULL (an
incident deleted by hand leaves its event log), but retention deletes them with the incident.

Each step is one statement over a batch of incident ids, bound as `%(ids)s`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models

from incidents.models import ChangeEvent, Event, Incident

# Rows retention removes with their incident although their foreign key says SET_NULL.
DELETED_WITH_INCIDENT = (Event,)
# Tables the cleanup also deletes by age alone, with a plain DELETE: nothing may point at them.
DELETED_BY_AGE = (Event, ChangeEvent)
MAX_DEPTH = 4  # Incident <- Notification <- SlackMessage is 2; deeper means a cycle or a mistake


@dataclass(frozen=True)
class Step:
    """DELETE (or UPDATE ... SET col = NULL) the rows of `model` whose chain of foreign keys
    `path` (this model's field first, the field pointing at Incident last) reaches a doomed
    incident."""

    model: type[models.Model]
    action: str  # "delete" | "set_null"
    path: tuple[models.ForeignKey, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def lookup(self) -> str:
        """The ORM lookup from this model to the incident, e.g. `notification__incident`."""
        return "__".join(field.name for field in self.path)

    def sql(self) -> str:
        table = _q(self.model._meta.db_table)
        column = _q(self.path[0].column)
        where = f"{column} {_reaches_incident(self.path)}"
        if self.action == "delete":
            return f"DELETE FROM {table} WHERE {where}"
        return f"UPDATE {table} SET {column} = NULL WHERE {where}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _reaches_incident(path: tuple[models.ForeignKey, ...]) -> str:
    """`= ANY(ids)` for a column pointing at Incident, or `IN (SELECT ...)` through the
    parents for one pointing at a child (each hop an indexed foreign-key column)."""
    if len(path) == 1:  # a column holding incident ids (checked in _steps_for)
        return "= ANY(%(ids)s::bigint[])"
    parent_field = path[1]
    parent = parent_field.model
    target = _q(path[0].target_field.column)
    return (f"IN (SELECT {target} FROM {_q(parent._meta.db_table)} "
            f"WHERE {_q(parent_field.column)} {_reaches_incident(path[1:])})")


def referencing_fields(model: type[models.Model]) -> list[models.ForeignKey]:
    """Every concrete foreign key or one-to-one field, in any installed app (many-to-many
    through tables included), that points at `model`."""
    return [
        field
        for other in apps.get_models(include_auto_created=True)
        if not other._meta.proxy
        for field in other._meta.local_concrete_fields
        if field.is_relation and field.remote_field.model is model
    ]


def _steps_for(model: type[models.Model], path: tuple[models.ForeignKey, ...]) -> list[Step]:
    if len(path) >= MAX_DEPTH:
        raise ImproperlyConfigured(f"retention: foreign keys to {model._meta.label} nest too deep ({path})")
    fields = referencing_fields(model)
    # Rows deleted by policy go first, so a later SET_NULL step only touches rows that stay.
    fields.sort(key=lambda f: (model is not Incident or f.model not in DELETED_WITH_INCIDENT, f.model._meta.label))
    return [step for field in fields for step in plan_step(field, model, path)]


def plan_step(field: models.ForeignKey, model: type[models.Model], path: tuple[models.ForeignKey, ...]) -> list[Step]:
    """What deleting rows of `model` (reached by `path`) does to the rows whose `field` points
    at them: do what its on_delete says, or refuse by name."""
    child_path = (field, *path)
    on_delete = field.remote_field.on_delete
    if model is Incident and not field.target_field.primary_key:
        raise ImproperlyConfigured(f"retention: {field.model._meta.label}.{field.name} must point at Incident.id")
    if on_delete is models.CASCADE or (model is Incident and field.model in DELETED_WITH_INCIDENT):
        # The child's own dependents first, then the child.
        return [*_steps_for(field.model, child_path), Step(field.model, "delete", child_path)]
    if on_delete is models.SET_NULL:
        return [Step(field.model, "set_null", child_path)]
    raise ImproperlyConfigured(
        f"retention: {field.model._meta.label}.{field.name} points at {model._meta.label} with "
        f"on_delete={getattr(on_delete, '__name__', on_delete)}; incidents/cleanup_plan.py "
        "only knows CASCADE and SET_NULL"
    )


@functools.cache
def incident_plan() -> tuple[Step, ...]:
    """The statements that remove a batch of incidents' dependents, in order; the incidents'
    own DELETE comes after them."""
    for model in DELETED_BY_AGE:
        if referencing_fields(model):
            raise ImproperlyConfigured(
                f"retention: {model._meta.label} is deleted by age with a plain DELETE, but "
                f"{[f.model._meta.label for f in referencing_fields(model)]} point at it"
            )
    return tuple(_steps_for(Incident, ()))
