"""The console and its books: what the owning console writes to the store, and what it never writes."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine, select

from balance_tui import cli
from balance_tui.backend import open_backend
from balance_tui.sim.assets import ASSETS
from balance_tui.store import books
from balance_tui.store.history import history, ledger_entries
from balance_tui.store.tables import SessionStatus, TradingSession
from tests.integration.conftest import eventually, running


async def test_the_owning_console_writes_history_and_ledger_entries_in_batches(make_config) -> None:
    async with running(make_config(sim={"seed": 4})) as backend:
        sim, manager = backend.simulator, backend.manager
        assert sim is not None and backend.history_writer is not None
        await asyncio.wait_for(manager.wait_for_snapshot(), 10)
        entries = []
        for _ in range(40):
            entries += await sim.step()
        await eventually(lambda: manager.health.sequence == 1 + sim.updates_sent, what="the updates")
        now = manager.clock.now()
    # The context has closed: the writer flushed its last batch before the store was let go.
    engine = create_engine(backend.config.database_url)
    stored = ledger_entries(engine, since=now - timedelta(hours=1), limit=10_000)
    assert {e.ledger_id for e in stored} == {e.ledger_id for e in entries}
    btc = history(engine, "BTC", since=now - timedelta(hours=1), until=now + timedelta(seconds=1), points=500).points
    assert btc and btc[-1].total == sim.account.totals()["BTC"]
    assert backend.history_writer.lost == 0


async def test_a_restart_continues_the_session_and_says_what_it_recovered(make_config) -> None:
    config = make_config()
    async with open_backend(config) as first:
        assert first.opened is not None and first.opened.owned and not first.opened.resumed
        first_id = first.session.id
    async with open_backend(config) as second:
        assert second.opened is not None
        assert second.opened.continued_from is not None and second.opened.continued_from.id == first_id
        assert f"continues session {first_id}" in second.opened.describe()
    with Session(create_engine(config.database_url)) as db:
        statuses = [row.status for row in db.exec(select(TradingSession).order_by(TradingSession.id)).all()]
    assert statuses == [SessionStatus.CLOSED, SessionStatus.CLOSED]


async def test_a_read_only_console_opens_no_session_and_writes_nothing(make_config) -> None:
    config = make_config()
    async with open_backend(config):
        pass  # creates and migrates the store, as a first console would
    read_only = make_config(store={"read_only": True})
    async with running(read_only) as backend:
        assert backend.read_only and backend.opened is None and backend.history_writer is None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
    with Session(create_engine(config.database_url)) as db:
        assert len(db.exec(select(TradingSession)).all()) == 1  # only the first console's


async def test_the_books_know_every_asset_the_exchange_lists_so_adjust_does_too(make_config, tmp_path, capsys) -> None:
    # Issue 13 item 2: LINK is listed (and shown once traded) but was not in the books' seed list, so
    # `adjust LINK` was refused. The owning console now keeps the exchange's Assets list in the store.
    config = make_config()  # written to tmp_path / "config.toml"

    async def adjust(*argv: str) -> tuple[int, str, str]:
        argv = ("adjust", *argv, "--reason", "test", "--config", str(tmp_path / "config.toml"))
        code = await asyncio.to_thread(cli.main, list(argv))
        return code, *capsys.readouterr()

    async with running(config) as backend:
        known = await asyncio.to_thread(books.asset_decimals, backend.store)
        assert {name: known.get(name) for name in ASSETS} == {name: a.decimals for name, a in ASSETS.items()}
        code, out, err = await adjust("LINK", "1.5")
        assert code == 0 and "LINK 0 -> 1.5" in out, err
        code, out, err = await adjust("xbt", "0.1")
        assert code == 0 and "BTC 0 -> 0.1" in out, err
        code, out, err = await adjust("NOPE", "1")
        assert code == 1 and err.startswith("balance-tui: unknown asset 'NOPE': the books know ADA, BTC")


async def test_a_quit_while_the_session_opens_still_closes_it(make_config) -> None:
    # QA: `q` about a second after launch left the session `active` with no end time, for the next console to
    # mark `interrupted (owner died)`: the start was cancelled while its thread committed the session.
    config = make_config()
    loop = asyncio.get_running_loop()
    cancelled, committed = threading.Event(), threading.Event()
    inserting: list[int] = []  # the thread inserting the session, once it does

    def cancel_the_start(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO trading_sessions") and not inserting:
            inserting.append(threading.get_ident())
            loop.call_soon_threadsafe(start.cancel)
            loop.call_soon_threadsafe(cancelled.set)  # runs after the cancel: the thread goes on once it has
            cancelled.wait()

    def note_commit(conn) -> None:
        if inserting == [threading.get_ident()]:
            committed.set()

    async def start_console() -> None:
        async with open_backend(config):
            raise AssertionError("the start was to be cancelled")

    event.listen(Engine, "before_cursor_execute", cancel_the_start)
    event.listen(Engine, "commit", note_commit)
    try:
        start = asyncio.create_task(start_console())
        await asyncio.gather(start, return_exceptions=True)
        assert start.cancelled()
        assert await asyncio.to_thread(committed.wait, 10), "the session was never committed"
    finally:
        event.remove(Engine, "before_cursor_execute", cancel_the_start)
        event.remove(Engine, "commit", note_commit)
    with Session(create_engine(config.database_url)) as db:
        (session,) = db.exec(select(TradingSession)).all()
    assert session.status == SessionStatus.CLOSED and session.ended_at is not None
