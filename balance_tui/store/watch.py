"""Tell a console what other ones wrote: `async for change in watch_store(engine)`: new balance adjustments
and new acknowledgements of validation issues, by id.

PostgreSQL: LISTEN on the store's two channels; the triggers of migrations 0002 (adjustments) and 0003
(acknowledgements) send the new row's id there inside the inserting transaction, so it arrives at commit
and never for a rollback. Notifications are not stored: after a (re)connect a catch-up query fetches the
ids committed while nobody listened, and that change says `resync` (reload everything, to be safe about
anything the id order cannot show).
SQLite: no notifications; every `poll_interval` (0.25 s, well inside the 1 s target) the watch asks SQLite
whether any other connection committed since it last asked (`_Commits`), and only then a query on each
table's primary key fetches ids above the last seen. One writer at a time means ids grow in commit order
there, so the poll misses nothing. At rest that is a few microseconds a poll: no thread, no query.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Engine, PoolProxiedConnection, func
from sqlmodel import SQLModel, col, select

from balance_tui.store.engine import postgresql_connect_args, reading
from balance_tui.store.tables import BalanceAdjustment, ValidationAck

log = logging.getLogger(__name__)

# + schema, cut to 63 bytes: as the triggers in migrations 0002 and 0003 name them.
CHANNEL_PREFIXES = ("balance_tui_adjustments:", "balance_tui_acks:")
WATCHED: tuple[type[SQLModel], ...] = (BalanceAdjustment, ValidationAck)  # in the order of CHANNEL_PREFIXES
APPLICATION_NAME = "balance-tui watch"


@dataclass(frozen=True, slots=True)
class Seen:
    """The last ids a console has read, of adjustments and of acknowledgements; the watch reports later ones."""

    adjustment_id: int = 0
    ack_id: int = 0


@dataclass(frozen=True, slots=True)
class StoreChange:
    adjustment_ids: tuple[int, ...]  # new adjustments, by id (`books.adjustments(after_id=...)` reads them)
    ack_ids: tuple[int, ...] = ()  # new acknowledgements, by id (`acks.acknowledgements_after` reads them)
    resync: bool = False  # the watch reconnected: reload all balances, not only these


def watch_store(
    engine: Engine, *, after: Seen | None = None, poll_interval: float = 0.25, reconnect_delay: float = 1.0
) -> AsyncIterator[StoreChange]:
    """Changes from now on, or after `after` if given; runs until the caller stops iterating."""
    if engine.dialect.name == "postgresql":
        return _listen(engine, after, reconnect_delay)
    return _poll(engine, after, poll_interval)


def _change(ids: tuple[tuple[int, ...], ...], *, resync: bool = False) -> StoreChange:
    return StoreChange(ids[0], ids[1], resync)


async def _poll(engine: Engine, after: Seen | None, interval: float) -> AsyncIterator[StoreChange]:
    committed = _Commits(await asyncio.to_thread(engine.raw_connection))
    try:
        committed()  # asked before the first read: whatever commits after it shows at the next poll
        last = _as_list(after) if after is not None else await asyncio.to_thread(_max_ids, engine)
        look = after is not None  # what came after `after`, before the watch began
        while True:
            if look:
                ids = await asyncio.to_thread(_ids_after, engine, last)
                if any(ids):
                    last = [max((seen, *new)) for seen, new in zip(last, ids, strict=True)]
                    yield _change(ids)
            await asyncio.sleep(interval)
            look = committed()
    finally:
        committed.close()


class _Commits:
    """Whether another connection committed to the SQLite file since the last call: `PRAGMA data_version` on
    a connection kept for it (SQLite moves that number for commits by any connection but the one asking).
    A few microseconds, so it runs on the event loop, and it never waits there: with busy_timeout 0 a locked
    file counts as a commit, and the query that follows waits in a thread as every read does."""

    def __init__(self, connection: PoolProxiedConnection) -> None:
        connection.detach()  # the watch's own for as long as it runs: never handed back to the pool
        self._connection = connection
        self._sqlite = connection.dbapi_connection
        self._sqlite.execute("PRAGMA busy_timeout = 0")
        self._version: int | None = None

    def __call__(self) -> bool:
        try:
            (version,) = self._sqlite.execute("PRAGMA data_version").fetchone()
        except sqlite3.OperationalError:
            return True
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        self._connection.close()


async def _listen(engine: Engine, after: Seen | None, reconnect_delay: float) -> AsyncIterator[StoreChange]:
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    last, reconnected = (None if after is None else _as_list(after)), False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, application_name=APPLICATION_NAME, **postgresql_connect_args(engine.url)
            ) as connection:
                channels = await _channels(connection)
                for channel in channels:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                # Listening first, then catching up: a commit in between is seen twice, never missed.
                if last is None:
                    last = await asyncio.to_thread(_max_ids, engine)
                else:
                    ids = await asyncio.to_thread(_ids_after, engine, last)
                    last = [max((seen, *new)) for seen, new in zip(last, ids, strict=True)]
                    if any(ids) or reconnected:
                        yield _change(ids, resync=reconnected)
                async for notification in connection.notifies():
                    which, row_id = channels.index(notification.channel), int(notification.payload)
                    last[which] = max(last[which], row_id)
                    yield _change(tuple((row_id,) if i == which else () for i in range(len(WATCHED))))
        except psycopg.OperationalError as exc:
            log.warning("store watch: connection lost (%s); reconnecting in %.1f s", exc, reconnect_delay)
            reconnected = True
            await asyncio.sleep(reconnect_delay)


async def _channels(connection: psycopg.AsyncConnection) -> list[str]:
    """The channels of the schema the watched tables resolve to, as the notify triggers name them."""
    cursor = await connection.execute(
        "SELECT left(%s || n.nspname, 63), left(%s || n.nspname, 63) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'balance_adjustments'::regclass",
        CHANNEL_PREFIXES,
    )
    row = await cursor.fetchone()
    assert row is not None
    return list(row)


def _as_list(seen: Seen) -> list[int]:
    return [seen.adjustment_id, seen.ack_id]


def _max_ids(engine: Engine) -> list[int]:
    with reading(engine) as db:
        return [db.exec(select(func.coalesce(func.max(table.id), 0))).one() for table in WATCHED]  # type: ignore[attr-defined]


def _ids_after(engine: Engine, last: list[int]) -> tuple[tuple[int, ...], ...]:
    with reading(engine) as db:
        found = []
        for table, after_id in zip(WATCHED, last, strict=True):
            key = col(table.id)  # type: ignore[attr-defined]
            found.append(
                tuple(i for i in db.exec(select(key).where(key > after_id).order_by(key)).all() if i is not None)
            )
    return tuple(found)
