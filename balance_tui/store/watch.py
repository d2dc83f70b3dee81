"""Tell a console that another one adjusted a balance: `async for change in watch_adjustments(engine)`.

PostgreSQL: LISTEN on the store's channel; migration 0002's trigger sends the new adjustment's id there
inside the inserting transaction, so it arrives at commit and never for a rollback. Notifications are not
stored: after a (re)connect a catch-up query fetches the ids committed while nobody listened, and that
change says `resync` (reload everything, to be safe about anything the id order cannot show).
SQLite: no notifications; every `poll_interval` (0.25 s, well inside the 1 s target) a query on the
primary key fetches ids above the last seen. One writer at a time means ids grow in commit order there,
so the poll misses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlmodel import col, select

from balance_tui.store import books
from balance_tui.store.engine import postgresql_connect_args, reading
from balance_tui.store.tables import BalanceAdjustment

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "balance_tui_adjustments:"  # + schema, cut to 63 bytes: as the trigger in migration 0002
APPLICATION_NAME = "balance-tui watch"


@dataclass(frozen=True, slots=True)
class StoreChange:
    adjustment_ids: tuple[int, ...]  # new adjustments, by id (`books.adjustments(after_id=...)` reads them)
    resync: bool = False  # the watch reconnected: reload all balances, not only these


def watch_adjustments(
    engine: Engine, *, after_id: int | None = None, poll_interval: float = 0.25, reconnect_delay: float = 1.0
) -> AsyncIterator[StoreChange]:
    """Changes from now on, or from `after_id` (exclusive) if given; runs until the caller stops iterating."""
    if engine.dialect.name == "postgresql":
        return _listen(engine, after_id, reconnect_delay)
    return _poll(engine, after_id, poll_interval)


async def _poll(engine: Engine, after_id: int | None, interval: float) -> AsyncIterator[StoreChange]:
    last = after_id if after_id is not None else await asyncio.to_thread(books.last_adjustment_id, engine)
    while True:
        ids = await asyncio.to_thread(_ids_after, engine, last)
        if ids:
            last = ids[-1]
            yield StoreChange(ids)
        await asyncio.sleep(interval)


async def _listen(engine: Engine, after_id: int | None, reconnect_delay: float) -> AsyncIterator[StoreChange]:
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    last, reconnected = after_id, False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, application_name=APPLICATION_NAME, **postgresql_connect_args(engine.url)
            ) as connection:
                channel = await _channel(connection)
                await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                # Listening first, then catching up: a commit in between is seen twice, never missed.
                if last is None:
                    last = await asyncio.to_thread(books.last_adjustment_id, engine)
                else:
                    ids = await asyncio.to_thread(_ids_after, engine, last)
                    last = max((last, *ids))
                    if ids or reconnected:
                        yield StoreChange(ids, resync=reconnected)
                async for notification in connection.notifies():
                    adjustment_id = int(notification.payload)
                    last = max(last, adjustment_id)
                    yield StoreChange((adjustment_id,))
        except psycopg.OperationalError as exc:
            log.warning("store watch: connection lost (%s); reconnecting in %.1f s", exc, reconnect_delay)
            reconnected = True
            await asyncio.sleep(reconnect_delay)


async def _channel(connection: psycopg.AsyncConnection) -> str:
    """The channel of the schema `balance_adjustments` resolves to, as the notify trigger names it."""
    cursor = await connection.execute(
        "SELECT left(%s || n.nspname, 63) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = 'balance_adjustments'::regclass",
        (CHANNEL_PREFIX,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return row[0]


def _ids_after(engine: Engine, after_id: int) -> tuple[int, ...]:
    with reading(engine) as db:
        ids = db.exec(
            select(BalanceAdjustment.id).where(col(BalanceAdjustment.id) > after_id).order_by(col(BalanceAdjustment.id))
        ).all()
    return tuple(i for i in ids if i is not None)
