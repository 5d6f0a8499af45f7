"""SQL helpers shared by the store's parts and the ledger (:mod:`digest.ledger`).

Timestamps (every one written is UTC; :func:`aware` restores the zone SQLite drops), ``IN``
queries split into chunks of :data:`CHUNK` values, a driver-level ``executemany`` for bulk
inserts, the SQLite connection pragmas, and :class:`StorePart`, the base of the mixins that
:class:`~digest.store.Store` is composed of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

#: values per ``IN (…)`` clause: well below SQLite's limit of bound parameters
CHUNK = 500


class StorePart:
    """Base of the store's parts (papers, subscribers, sources): they share one engine."""

    engine: Engine


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` with its zone: SQLite returns naive datetimes; every timestamp we write is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_in(
    conn: Connection,
    query: sa.Select[Any],
    column: sa.ColumnElement[Any],
    values: Sequence[Any],
) -> Iterator[sa.Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, :data:`CHUNK` at a time."""
    for chunk in iter_chunks(values, CHUNK):
        yield from conn.execute(query.where(column.in_(chunk)))


def execute_many(
    conn: Connection,
    table: sa.Table,
    sql: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Run ``sql`` (with ``{table}`` and ``?`` placeholders) once per row via the driver.

    SQLAlchemy's per-row parameter processing costs ~10 µs a row, which dominated claiming
    ten papers each for thousands of subscribers; the driver's ``executemany`` does not.
    ``columns`` names the table column each placeholder binds to, for type conversion.
    """
    dialect = conn.dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    text = sql.format(table=quote(table.name), **{c.name: quote(c.name) for c in table.columns})
    text = text.replace("?", mark)
    if any(processors):
        rows = [
            tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows
        ]
    else:
        rows = [tuple(row) for row in rows]
    if rows:
        conn.exec_driver_sql(text, rows)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """On each new SQLite connection: WAL, foreign keys, and waiting for a busy database."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
