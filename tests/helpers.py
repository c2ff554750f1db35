"""Helpers shared by tests: scanning every stored text for leaked secrets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection

TEXT_TYPES_PG = ("text", "character varying", "json", "jsonb", "character")


def _text_columns() -> Iterator[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = ANY(%s)",
                [list(TEXT_TYPES_PG)],
            )
            yield from cursor.fetchall()
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in cursor.fetchall():
            cursor.execute(f'PRAGMA table_info("{table}")')
            for column in cursor.fetchall():
                if any(t in column[2].lower() for t in ("char", "text", "json", "clob")):
                    yield table, column[1]


def stored_texts() -> Iterator[tuple[str, str, str]]:
    """Every non-null text value in every table: (table, column, value)."""
    columns = list(_text_columns())
    with connection.cursor() as cursor:
        for table, column in columns:
            qt, qc = connection.ops.quote_name(table), connection.ops.quote_name(column)
            cursor.execute(f"SELECT {qc} FROM {qt} WHERE {qc} IS NOT NULL")
            for (value,) in cursor.fetchall():
                yield table, column, str(value)


def find_leaks(texts: Iterable[str], canaries: Iterable[str]) -> list[str]:
    """The canaries that occur in any of the texts."""
    canary_list = list(canaries)
    found: set[str] = set()
    for text in texts:
        found.update(c for c in canary_list if c in text)
    return sorted(found)
