"""The store's history tables (`balance_samples`, `ledger_entries`) inside a recording, made from the store's
own table definitions: the asset and ledger screens then read a recording with the store's own queries
(the bucketed history, the ledger), not a copy of them.

The recorder writes through its plain sqlite3 connection (one transaction per flush with the frames), so
rows are turned into what SQLAlchemy would bind on SQLite by the columns' own types.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from balance_tui.store.tables import BalanceSample, LedgerEntryRecord

SAMPLES: Table = BalanceSample.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerEntryRecord.__table__  # type: ignore[assignment]
_DIALECT = sqlite.dialect()


def create(db: sqlite3.Connection) -> None:
    """The tables and their indexes, as the store makes them on SQLite."""
    for table in (SAMPLES, LEDGER):
        db.execute(str(CreateTable(table, if_not_exists=True).compile(dialect=_DIALECT)))
        for index in table.indexes:
            db.execute(str(CreateIndex(index, if_not_exists=True).compile(dialect=_DIALECT)))


def _binders(table: Table, names: Iterable[str]) -> list[Callable[[Any], Any]]:
    """Each column's value as SQLAlchemy binds it on SQLite (the dialect's own DATETIME text, say): the
    store's queries compare those texts."""
    types = [table.c[name].type.dialect_impl(_DIALECT) for name in names]
    return [kind.bind_processor(_DIALECT) or (lambda value: value) for kind in types]


def insert(db: sqlite3.Connection, table: Table, rows: list[Mapping[str, object]]) -> None:
    """`rows` (as store.history.sample_row / ledger_row give them); a ledger entry already kept (its
    `ledger_id`) is left as it is, as the store does."""
    if not rows:
        return
    names = list(rows[0])
    binders = _binders(table, names)
    db.executemany(
        f"INSERT OR IGNORE INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [tuple(bind(row[name]) for bind, name in zip(binders, names, strict=True)) for row in rows],
    )


def delete_before(db: sqlite3.Connection, before: datetime) -> None:
    """Samples and entries older than `before`: what retention drops with the frames of that time."""
    for table, column in ((SAMPLES, "observed_at"), (LEDGER, "occurred_at")):
        (bind,) = _binders(table, [column])
        db.execute(f"DELETE FROM {table.name} WHERE {column} < ?", (bind(before),))


def reader(path: Path) -> Engine:
    """An engine reading the recording at `path` (read-only), for the store's queries."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False), poolclass=NullPool
    )
