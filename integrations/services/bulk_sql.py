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
    """Rows to one list per column: the parameters of ``unnest_source``.

    psycopg refuses a list that mixes ``int`` and ``float`` ("cannot dump lists of
    mixed types"), and one batch easily holds both (a 0 counter beside a 12.5 ms
    latency), so such a column is sent as floats throughout.
    """
    return [_one_type(list(column)) for column in zip(*rows, strict=True)]


def _one_type(column: list[Any]) -> list[Any]:
    kinds = {type(value) for value in column if value is not None}
    if kinds == {int, float}:
        return [None if value is None else float(value) for value in column]
    return column


def field_columns(model: Any, names: Sequence[str]) -> list[tuple[str, str]]:
    """(column, SQL type) of the model's fields, for ``unnest_source``."""
    fields = [model._meta.get_field(name) for name in names]
    return [(f.column, f.db_type(connection)) for f in fields]
