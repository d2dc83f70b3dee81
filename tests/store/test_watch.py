"""Several consoles: an adjustment or an acknowledgement made in one reaches the others (NOTIFY on PostgreSQL,
a poll on SQLite)."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Engine, event, insert, text

from balance_tui.store import acks, books
from balance_tui.store.engine import PG_CONNECT_TIMEOUT_S, create_store_engine
from balance_tui.store.tables import AdjustmentKind, BalanceAdjustment
from balance_tui.store.watch import APPLICATION_NAME, Seen, StoreChange, watch_store
from tests.store.support import BOB, T0

WAIT = 10.0  # a hang detector, not a latency target: the poll runs every 50 ms here, NOTIFY arrives at commit


@pytest.fixture
def other_console(store_url: str, migrated: Engine) -> Iterator[Engine]:
    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


def adjust(engine: Engine, session_id: int, key: str) -> int:
    result = books.adjust(
        engine, session_id=session_id, asset="USD", amount=Decimal("1"), kind=AdjustmentKind.DELTA,
        reason="from the other console", operator=BOB, idempotency_key=key, now=T0,
    )  # fmt: skip
    assert result.adjustment.id is not None
    return result.adjustment.id


def acknowledge(engine: Engine, issue: str) -> int:
    ack = acks.acknowledge(engine, issue=issue, reason="seen from the other console", operator=BOB, now=T0)
    assert ack.id is not None
    return ack.id


async def next_change(changes: AsyncIterator[StoreChange]) -> StoreChange:
    async with asyncio.timeout(WAIT):
        return await anext(changes)


async def test_an_adjustment_in_one_console_reaches_the_others(
    migrated: Engine, other_console: Engine, session_id: int
) -> None:
    changes = watch_store(migrated, after=Seen(), poll_interval=0.05)
    try:
        first = await asyncio.to_thread(adjust, other_console, session_id, "one")
        assert await next_change(changes) == StoreChange((first,))
        # Now listening for certain (LISTEN comes before the catch-up): the next one is a notification.
        second = await asyncio.to_thread(adjust, other_console, session_id, "two")
        assert await next_change(changes) == StoreChange((second,))
        [read] = books.adjustments(migrated, after_id=first)
        assert (read.id, read.operator, read.delta) == (second, "bob", Decimal(1))
    finally:
        await changes.aclose()


async def test_an_acknowledgement_in_one_console_reaches_the_others(
    migrated: Engine, other_console: Engine, session_id: int
) -> None:
    changes = watch_store(migrated, after=Seen(), poll_interval=0.05)
    try:
        first = await asyncio.to_thread(acknowledge, other_console, "USDT:low_balance")
        assert await next_change(changes) == StoreChange((), (first,))
        adjusted = await asyncio.to_thread(adjust, other_console, session_id, "one")
        assert await next_change(changes) == StoreChange((adjusted,))
        second = await asyncio.to_thread(acknowledge, other_console, "BTC:held_mismatch")
        assert await next_change(changes) == StoreChange((), (second,))
        [read] = acks.acknowledgements_after(migrated, first)
        assert (read.id, read.issue, read.operator) == (second, "BTC:held_mismatch", "bob")
    finally:
        await changes.aclose()


async def test_the_watch_starts_after_what_the_console_has_read(
    migrated: Engine, other_console: Engine, session_id: int
) -> None:
    seen = Seen(adjust(other_console, session_id, "read"), acknowledge(other_console, "USDT:low_balance"))
    missed = acknowledge(other_console, "BTC:held_mismatch")  # after the console read, before it watched
    changes = watch_store(migrated, after=seen, poll_interval=0.05)
    try:
        assert await next_change(changes) == StoreChange((), (missed,))
    finally:
        await changes.aclose()


async def test_a_quiet_store_is_not_queried(migrated: Engine, other_console: Engine, session_id: int) -> None:
    """At rest the watch runs no statement: SQLite's poll asks `PRAGMA data_version` on its own connection
    first, PostgreSQL waits for a notification."""
    statements: list[str] = []
    event.listen(migrated, "before_cursor_execute", lambda *args: statements.append(args[2]))
    changes = watch_store(migrated, after=Seen(), poll_interval=0.01)
    try:
        first = await asyncio.to_thread(adjust, other_console, session_id, "one")
        assert await next_change(changes) == StoreChange((first,))
        statements.clear()
        waiting = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0.3)  # thirty polls, each free to query
        assert statements == [] and not waiting.done()
        second = await asyncio.to_thread(adjust, other_console, session_id, "two")
        async with asyncio.timeout(WAIT):
            assert await waiting == StoreChange((second,))
    finally:
        await changes.aclose()


def insert_then_roll_back(engine: Engine, balance_id: int) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(
            insert(BalanceAdjustment).values(
                balance_id=balance_id, asset="USD", kind="delta", before=Decimal(1), after=Decimal(2),
                delta=Decimal(1), reason="never", created_at=T0, idempotency_key="rolled-back", operator="x",
            )
        )  # fmt: skip
        raise RuntimeError("abandon the transaction")


async def test_a_rolled_back_adjustment_is_never_announced(
    migrated: Engine, other_console: Engine, session_id: int
) -> None:
    changes = watch_store(migrated, after=Seen(), poll_interval=0.05)
    try:
        first = await asyncio.to_thread(adjust, other_console, session_id, "one")
        assert await next_change(changes) == StoreChange((first,))
        balance_id = books.adjustments(migrated)[0].balance_id
        await asyncio.to_thread(insert_then_roll_back, other_console, balance_id)
        committed = await asyncio.to_thread(adjust, other_console, session_id, "two")
        assert await next_change(changes) == StoreChange((committed,))
        assert [a.idempotency_key for a in books.adjustments(migrated)] == ["one", "two"]
    finally:
        await changes.aclose()


def postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite consoles poll")


def test_the_notification_carries_the_id_only(migrated: Engine, other_console: Engine, session_id: int) -> None:
    postgresql_only(migrated)
    conninfo = migrated.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        schema = listener.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        listener.execute(f'LISTEN "balance_tui_adjustments:{schema[0]}"')
        listener.execute(f'LISTEN "balance_tui_acks:{schema[0]}"')
        adjustment_id = adjust(other_console, session_id, "one")
        ack_id = acknowledge(other_console, "USDT:low_balance")
        notifications = list(listener.notifies(timeout=WAIT, stop_after=2))
    assert [(n.channel.split(":")[0], n.payload) for n in notifications] == [
        ("balance_tui_adjustments", str(adjustment_id)),
        ("balance_tui_acks", str(ack_id)),
    ]


async def test_after_a_lost_connection_the_watch_catches_up_and_asks_for_a_resync(
    migrated: Engine, other_console: Engine, session_id: int, pg_admin: Engine
) -> None:
    postgresql_only(migrated)
    changes = watch_store(migrated, after=Seen(), reconnect_delay=1.0)
    try:
        first = await asyncio.to_thread(adjust, other_console, session_id, "one")
        assert await next_change(changes) == StoreChange((first,))
        with other_console.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        with pg_admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND query LIKE :listen"
                ),
                {"name": APPLICATION_NAME, "listen": f'LISTEN "balance_tui_acks:{schema}"'},  # its last
            ).all()
        assert killed == [(True,)]
        missed = [await asyncio.to_thread(adjust, other_console, session_id, f"missed-{n}") for n in range(3)]
        missed_ack = await asyncio.to_thread(acknowledge, other_console, "USDT:low_balance")
        assert await next_change(changes) == StoreChange(tuple(missed), (missed_ack,), resync=True)
        after = await asyncio.to_thread(adjust, other_console, session_id, "after")
        assert await next_change(changes) == StoreChange((after,))
    finally:
        await changes.aclose()


async def test_the_watch_gives_up_on_a_silent_server_after_the_connect_timeout(
    silent_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_store_engine(f"postgresql+psycopg://u@127.0.0.1:{silent_port}/test")
    changes = watch_store(engine, reconnect_delay=60.0)
    waiting = asyncio.ensure_future(anext(changes))
    try:
        async with asyncio.timeout(PG_CONNECT_TIMEOUT_S + 15):  # psycopg's own default is 130 s
            while "connection lost (connection timeout expired)" not in caplog.text:
                await asyncio.sleep(0.1)
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        engine.dispose()
