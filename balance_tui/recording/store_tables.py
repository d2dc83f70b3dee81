"""The store's tables inside a recording, made from the store's own table definitions: the replay's screens
then read a recording with the store's own queries (the bucketed history, the ledger, the books, the
sessions), not a copy of them.

The history tables (`balance_samples`, `ledger_entries`) are kept as the store keeps them. The books
(`trading_sessions`, `account_balances`, `positions`, `balance_adjustments`) change in place, so each is kept
as `recorded_<name>`: every version of a row the recorder read, with the recorded time it read it. On
`books_as_of(path, at)` the store's names are views of those, each row as its latest version at or before
`at`: the books as they stood then.

The recorder writes through its plain sqlite3 connection (one transaction per flush with the frames), so
rows are turned into what SQLAlchemy would bind on SQLite by the columns' own types.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Index, Integer, MetaData, Table, create_engine, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from balance_tui.store.engine import reading
from balance_tui.store.tables import (
    AccountBalance,
    BalanceAdjustment,
    BalanceSample,
    LedgerEntryRecord,
    Position,
    TradingSession,
)
from balance_tui.store.types import UTCDateTime

SAMPLES: Table = BalanceSample.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerEntryRecord.__table__  # type: ignore[assignment]
SESSIONS: Table = TradingSession.__table__  # type: ignore[assignment]
BALANCES: Table = AccountBalance.__table__  # type: ignore[assignment]
POSITIONS: Table = Position.__table__  # type: ignore[assignment]
ADJUSTMENTS: Table = BalanceAdjustment.__table__  # type: ignore[assignment]
SESSIONS_KEPT = 50  # an exchange's newest sessions: as many as the sessions screen lists (sessions.overview)
# A session's heartbeat moves every few seconds and nothing shows it: a change of it alone is no new version.
UNSHOWN = {SESSIONS.name: frozenset({"heartbeat_at"})}
Rows = dict[str, list[dict[str, Any]]]  # by table name: rows as column -> value
_DIALECT = sqlite.dialect()
_RECORDED = MetaData()


def _versions(table: Table) -> Table:
    """`table` as versions: its columns without their keys and constraints, after an id and time of its own."""
    return Table(
        f"recorded_{table.name}",
        _RECORDED,
        Column("recorded_id", Integer, primary_key=True),
        Column("recorded_at", UTCDateTime(), nullable=False),
        *(Column(c.name, c.type, nullable=c.nullable) for c in table.columns),
        Index(f"ix_recorded_{table.name}_at", "recorded_at"),
    )


BOOKS = {table.name: _versions(table) for table in (SESSIONS, BALANCES, POSITIONS, ADJUSTMENTS)}


def create(db: sqlite3.Connection) -> None:
    """The tables and their indexes, as the store makes them on SQLite."""
    for table in (SAMPLES, LEDGER, *BOOKS.values()):
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


def _time(at: datetime) -> str:
    (bind,) = _binders(BOOKS[SESSIONS.name], ["recorded_at"])
    return bind(at)


def delete_before(db: sqlite3.Connection, before: datetime) -> None:
    """Samples and entries older than `before`, and the versions of the books superseded by then: what
    retention drops with the frames of that time (the books as they stood at `before` stay)."""
    for table, column in ((SAMPLES, "observed_at"), (LEDGER, "occurred_at")):
        (bind,) = _binders(table, [column])
        db.execute(f"DELETE FROM {table.name} WHERE {column} < ?", (bind(before),))
    for versions in BOOKS.values():
        db.execute(
            f"DELETE FROM {versions.name} WHERE recorded_at < :at AND recorded_id NOT IN "
            f"(SELECT max(recorded_id) FROM {versions.name} WHERE recorded_at < :at GROUP BY id)",
            {"at": _time(before)},
        )


class BooksCopy:
    """What the recorder last wrote of the books, to write only the rows that changed since."""

    def __init__(self) -> None:
        self._written: dict[tuple[str, int], dict[str, Any]] = {}
        self._adjustments_after = 0  # adjustments are append-only: those after the last one copied

    def read(self, store: Engine, exchange: str) -> Rows:
        """The rows of `exchange`'s newest sessions, their balances, positions and adjustments, in one read."""
        with reading(store) as db:
            run = db.connection().execute
            newest = SESSIONS.c.exchange == exchange
            sessions = run(select(SESSIONS).where(newest).order_by(SESSIONS.c.id.desc()).limit(SESSIONS_KEPT))
            found = {SESSIONS.name: [dict(row) for row in sessions.mappings()]}
            ids = [row["id"] for row in found[SESSIONS.name]]
            for table in (BALANCES, POSITIONS):
                of_them = select(table).where(table.c.session_id.in_(ids))
                found[table.name] = [dict(row) for row in run(of_them).mappings()]
            balance_ids = [row["id"] for row in found[BALANCES.name]]
            adjusted = select(ADJUSTMENTS).where(
                ADJUSTMENTS.c.id > self._adjustments_after, ADJUSTMENTS.c.balance_id.in_(balance_ids)
            )
            found[ADJUSTMENTS.name] = [dict(row) for row in run(adjusted).mappings()]
        return found

    def write(self, db: sqlite3.Connection, found: Rows, at: datetime) -> None:
        """The rows of `found` that differ from their last version written, as versions recorded `at`."""
        for name, rows in found.items():
            unshown = UNSHOWN.get(name, frozenset())
            changed = []
            for row in rows:
                key, shown = (name, row["id"]), {k: v for k, v in row.items() if k not in unshown}
                if self._written.get(key) != shown:
                    self._written[key] = shown
                    changed.append({"recorded_at": at, **row})
            insert(db, BOOKS[name], changed)
        self._adjustments_after = max((r["id"] for r in found[ADJUSTMENTS.name]), default=self._adjustments_after)


def changed_between(db: sqlite3.Connection, after: datetime, until: datetime) -> bool:
    """A version of the books was recorded in (after, until]: the books as of `until` differ."""
    low, high = sorted((after, until))
    return any(
        db.execute(
            f"SELECT 1 FROM {versions.name} WHERE recorded_at > ? AND recorded_at <= ? LIMIT 1",
            (_time(low), _time(high)),
        ).fetchone()
        for versions in BOOKS.values()
    )


def reader(path: Path) -> Engine:
    """An engine reading the recording at `path` (read-only), for the store's queries."""
    return _engine(path, lambda db: None)


def books_as_of(path: Path, at: datetime) -> Engine:
    """An engine on which the store's books tables are the recording's as they stood at `at`."""
    stood = _time(at)  # digits, dashes and colons: safe inline, where a view can take no parameter

    def as_of(db: sqlite3.Connection) -> None:
        for name, versions in BOOKS.items():
            columns = ", ".join(c.name for c in versions.columns if c.name not in ("recorded_id", "recorded_at"))
            db.execute(
                f"CREATE TEMP VIEW {name} AS SELECT {columns} FROM main.{versions.name} WHERE recorded_id IN "
                f"(SELECT max(recorded_id) FROM main.{versions.name} WHERE recorded_at <= '{stood}' GROUP BY id)"
            )

    return _engine(path, as_of)


def _engine(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> Engine:
    uri = f"{path.resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        prepare(db)
        return db

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)
