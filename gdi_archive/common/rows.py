"""Model instances from plain SQL, without the ORM's set-up for every statement.

A few hot statements (our own token's live checks, the file of a download) are plain SQL made
once per process, since compiling their ORM queries cost more CPU than the rest of a request.
`Model.objects.raw()` then spent nearly as much again on every request working out, from the
cursor's description, which column is which field (`resolve_model_init_order`, the column names,
the converters). Here that layout is worked out once per model and database: the statement
selects the model's concrete fields in `_meta` order (`model_columns`), then the extra columns
named by the caller; each row becomes an instance as `raw()` makes one (`Model.from_db`, each
field's database converters applied) with the extra columns set as attributes, unconverted.
"""

import functools
from collections.abc import Sequence

from django.db import connections
from django.db.models import Model


def model_columns(model: type[Model], alias: str, quote) -> str:
    """`alias.column, ...` of the model's concrete fields, in the order `instances` expects."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@functools.cache
def _layout(model: type[Model], using: str) -> tuple[tuple[str, ...], tuple]:
    connection = connections[using]
    fields = model._meta.concrete_fields
    converters = []
    for i, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((i, tuple(found), column))
    return tuple(field.attname for field in fields), tuple(converters)


def instances(model: type[Model], sql: str, params: Sequence, *, extra: Sequence[str] = (), using: str = "default"):
    """The rows of `sql` as instances of `model` (see the module's docstring)."""
    connection = connections[using]
    names, converters = _layout(model, using)
    width = len(names)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        if len(row) != width + len(extra):
            raise ValueError(f"{model.__name__}: the statement's columns do not match its fields and extras")
        values = list(row[:width])
        for i, functions, column in converters:
            for convert in functions:
                values[i] = convert(values[i], column, connection)
        instance = model.from_db(using, names, values)
        for name, value in zip(extra, row[width:], strict=True):
            setattr(instance, name, value)
        out.append(instance)
    return out
