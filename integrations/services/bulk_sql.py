"""Batch statements whose text stays the same whatever the number of rows (PostgreSQL).

psycopg converts a statement's ``%s`` placeholders with a regular expression and caches
the result only for short statements, so a ``VALUES (...), (...)`` list of a whole
batch costs milliseconds of parsing on every execution. Here each column travels as one
array parameter and ``unnest()`` turns the arrays back into rows: the text is short,
fixed, and parsed once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def unnest_source(columns: Sequence[tuple[str, str]]) -> str:
    """``unnest(%s::type[], ...) AS v(name, ...)`` for (column name, SQL type) pairs."""
    arrays = ", ".join(f"%s::{sql_type}[]" for _, sql_type in columns)
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}) AS v({names})"


def column_arrays(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows to one list per column: the parameters of ``unnest_source``."""
    return [list(column) for column in zip(*rows, strict=True)]


def field_columns(model: Any, names: Sequence[str]) -> list[tuple[str, str]]:
    """(column, SQL type) of the model's fields, for ``unnest_source``."""
    fields = [model._meta.get_field(name) for name in names]
    return [(f.column, f.db_type(connection)) for f in fields]
