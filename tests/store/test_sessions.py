import multiprocessing
import os
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from balance_tui.store import books, positions, sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.errors import InvalidInput, SessionError
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import AdjustmentKind, PositionSide, SessionStatus, TradingSession
from tests.store.support import ALICE, T0, row_counts

D = Decimal
FORK = multiprocessing.get_context("fork")


def test_first_start_opens_a_session(migrated: Engine) -> None:
    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    assert not opened.resumed and opened.owned and opened.continued_from is None
    assert (opened.session.exchange, opened.session.mode, opened.session.status) == (
        "sim",
        "paper",
        SessionStatus.ACTIVE,
    )
    assert opened.session.started_at == T0
    assert (opened.session.owner_pid, opened.session.heartbeat_at) == (os.getpid(), T0)


def test_a_restart_resumes_the_active_session(migrated: Engine) -> None:
    first = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    again = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(hours=1))
    assert again.resumed and again.owned
    assert again.session.id == first.session.id
    assert again.session.started_at == T0


def test_a_clean_exit_closes_it_and_the_next_start_opens_a_new_one(migrated: Engine) -> None:
    first = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    sessions.close(migrated, first.session, now=T0 + timedelta(minutes=5))
    with Session(migrated) as db:
        row = db.exec(select(TradingSession)).one()
    assert row.status == SessionStatus.CLOSED
    assert row.ended_at == T0 + timedelta(minutes=5)
    second = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(minutes=6))
    assert not second.resumed and second.session.id != first.session.id


def test_sessions_are_per_exchange(migrated: Engine) -> None:
    sim = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    live = sessions.resume_or_start(migrated, exchange="kraken", mode="live", now=T0)
    assert sim.session.id != live.session.id and not live.resumed


def test_naive_times_are_refused(migrated: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=datetime(2026, 1, 1))


def books_with_a_position(engine: Engine, session_id: int) -> None:
    books.adjust(
        engine, session_id=session_id, asset="BTC", amount=D("0.25"), kind=AdjustmentKind.DELTA,
        reason="deposit", operator=ALICE, idempotency_key=f"dep-{session_id}", now=T0,
    )  # fmt: skip
    positions.open_position(
        engine, session_id=session_id, symbol="ETH/USD", side=PositionSide.SHORT, size=D("0.1"),
        entry_price=D("3000.25"), now=T0, by="bot", stop_loss=D("3100"), take_profit=D("2800"),
    )  # fmt: skip


def test_after_a_clean_restart_balances_and_open_positions_are_recovered(migrated: Engine, session_id: int) -> None:
    books_with_a_position(migrated, session_id)
    first = sessions.active(migrated, "sim")
    assert first is not None
    sessions.close(migrated, first, now=T0 + timedelta(hours=1))

    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(hours=2))
    assert opened.continued_from is not None and opened.continued_from.id == session_id
    assert not opened.resumed and opened.session.continues_id == session_id
    carried = {b.asset: (b.opening, b.total, b.reserved, b.available) for b in opened.balances}
    assert carried == {
        "BTC": (D("2.25"), D("2.25"), D(0), D("2.25")),
        "USD": (D(1000), D(1000), D("300.025"), D("699.975")),
    }
    [position] = opened.positions
    assert (position.symbol, position.side, position.size) == ("ETH/USD", "short", D("0.1"))
    assert (position.stop_loss, position.take_profit, position.session_id) == (D(3100), D(2800), opened.session.id)
    assert "continues session" in opened.describe() and "short 0.1 ETH/USD @ 3000.25" in opened.describe()

    closed = positions.close_position(migrated, position_id=position.id, exit_price=D("2900"), now=T0, by="bot")
    assert closed.realized_pnl == D("10.025")  # short: (3000.25 - 2900) x 0.1
    usd = books.read_balance(migrated, opened.session.id, "USD")
    assert (usd.total, usd.reserved) == (D("1010.025"), D(0))
    assert verify(migrated).ok


def open_books_and_die(url: str, ready) -> None:  # type: ignore[no-untyped-def]
    """In a child: own a session, write to its books, say so, then wait to be killed."""
    engine = create_store_engine(url)
    opened = sessions.resume_or_start(
        engine, exchange="sim", mode="paper", now=T0, opening_balances={"USD": D(1000), "BTC": D(2)}
    )
    assert opened.session.id is not None
    books_with_a_position(engine, opened.session.id)
    ready.send(opened.session.id)
    signal.pause()


def crash_a_console(engine: Engine) -> tuple[int, multiprocessing.process.BaseProcess]:
    engine.dispose()  # no pooled connection crosses the fork
    receive, send = FORK.Pipe(duplex=False)
    child = FORK.Process(target=open_books_and_die, args=(engine.url.render_as_string(hide_password=False), send))
    child.start()
    assert receive.poll(60), "the child never opened its session"
    session_id = receive.recv()
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    return session_id, child


def test_after_a_crash_the_session_reads_interrupted_and_the_next_start_recovers_it(migrated: Engine) -> None:
    crashed, child = crash_a_console(migrated)
    child.join()
    assert sessions.active(migrated, "sim") is not None  # nobody has looked yet: the row still says active

    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(minutes=1))
    assert opened.interrupted == (crashed,)
    old = sessions.latest(migrated, "sim")[1]
    assert (old.id, old.status, old.ended_at) == (crashed, SessionStatus.INTERRUPTED, T0)  # at its last heartbeat
    assert opened.continued_from is not None and opened.continued_from.id == crashed
    assert {b.asset: b.total for b in opened.balances} == {"BTC": D("2.25"), "USD": D(1000)}
    assert [p.symbol for p in opened.positions] == ["ETH/USD"]
    assert "marked interrupted (owner died): " + str(crashed) in opened.describe()
    assert verify(migrated).ok


def test_a_killed_owner_not_yet_reaped_counts_as_dead(migrated: Engine) -> None:
    crashed, child = crash_a_console(migrated)
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, left a zombie: not reaped
        assert sessions.sweep(migrated, now=T0) == [crashed]
    finally:
        child.join()


def pretend_owner_is(engine: Engine, *, host: str, heartbeat_at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(TradingSession).values(owner_host=host, owner_pid=1, heartbeat_at=heartbeat_at))


def test_an_owner_on_another_host_is_alive_while_its_heartbeat_is_within_the_lease(migrated: Engine) -> None:
    first = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    pretend_owner_is(migrated, host="elsewhere.example", heartbeat_at=T0)
    lease = timedelta(seconds=30)

    attached = sessions.resume_or_start(
        migrated, exchange="sim", mode="paper", now=T0 + timedelta(seconds=29), rules=sessions.SessionRules(lease=lease)
    )
    assert attached.resumed and not attached.owned and attached.session.id == first.session.id
    assert "owned by pid 1 on elsewhere.example" in attached.describe()
    sessions.close(migrated, attached.session, now=T0)  # not ours to close
    assert not sessions.heartbeat(migrated, attached.session, now=T0)  # nor to keep alive
    assert sessions.active(migrated, "sim") is not None

    assert sessions.sweep(migrated, now=T0 + timedelta(seconds=30), lease=lease) == [first.session.id]
    assert sessions.latest(migrated)[0].status == SessionStatus.INTERRUPTED


def test_the_owner_s_heartbeat_keeps_the_lease_and_reports_a_lost_session(migrated: Engine) -> None:
    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    assert sessions.heartbeat(migrated, opened.session, now=T0 + timedelta(seconds=10))
    assert sessions.latest(migrated)[0].heartbeat_at == T0 + timedelta(seconds=10)
    with migrated.begin() as conn:  # another console decided we were gone
        conn.execute(update(TradingSession).values(status=SessionStatus.INTERRUPTED))
    assert not sessions.heartbeat(migrated, opened.session, now=T0 + timedelta(seconds=20))


def test_only_a_recent_session_is_continued(migrated: Engine, session_id: int) -> None:
    first = sessions.active(migrated, "sim")
    assert first is not None
    sessions.close(migrated, first, now=T0)
    late = sessions.resume_or_start(
        migrated,
        exchange="sim",
        mode="paper",
        now=T0 + timedelta(hours=25),
        rules=sessions.SessionRules(resume_window=timedelta(hours=24)),
    )
    assert late.continued_from is None and late.balances == ()


def test_resume_from_last_balance_off_starts_empty(migrated: Engine, session_id: int) -> None:
    first = sessions.active(migrated, "sim")
    assert first is not None
    sessions.close(migrated, first, now=T0)
    opened = sessions.resume_or_start(
        migrated,
        exchange="sim",
        mode="paper",
        now=T0,
        rules=sessions.SessionRules(resume_window=None),
        opening_balances={"USD": D(5)},
    )
    assert opened.continued_from is None and [(b.asset, b.total) for b in opened.balances] == [("USD", D(5))]


def test_a_fresh_start_closes_the_session_and_stops_the_chain(migrated: Engine, session_id: int) -> None:
    assert sessions.retire_for_fresh_start(migrated, exchange="sim", now=T0) == [session_id]
    assert sessions.latest(migrated)[0].status == SessionStatus.CLOSED
    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(minutes=1))
    assert opened.continued_from is None and opened.balances == () and not opened.resumed


def test_a_fresh_start_is_refused_while_another_console_owns_the_session(migrated: Engine, session_id: int) -> None:
    pretend_owner_is(migrated, host="elsewhere.example", heartbeat_at=T0)
    with pytest.raises(SessionError, match=r"session \d+ on sim is in use by pid 1 on elsewhere.example"):
        sessions.retire_for_fresh_start(migrated, exchange="sim", now=T0 + timedelta(seconds=1))
    assert sessions.active(migrated, "sim") is not None


def test_the_database_allows_one_active_session_per_exchange(migrated: Engine, session_id: int) -> None:
    with pytest.raises(IntegrityError), Session(migrated) as db:
        db.add(TradingSession(mode="paper", exchange="sim", started_at=datetime.now(UTC)))
        db.commit()


@pytest.mark.parametrize(
    ("opening", "error"),
    [
        ({"FOO": D(1)}, "opening balance of unknown asset 'FOO'"),
        ({"USD": D("0.00001")}, "expected a Decimal >= 0 with at most 4 places"),
        ({"USD": D(-1)}, "expected a Decimal >= 0"),
    ],
)
def test_bad_opening_balances_are_refused_before_anything_is_written(
    migrated: Engine, opening: dict[str, Decimal], error: str
) -> None:
    before = row_counts(migrated)
    with pytest.raises(InvalidInput, match=error):
        sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0, opening_balances=opening)
    assert row_counts(migrated) == before


@pytest.mark.parametrize(("resume", "window"), [(True, timedelta(hours=6)), (False, None)])
def test_the_console_and_the_adjust_command_open_by_the_store_section(
    make_config: Any, resume: bool, window: timedelta | None
) -> None:
    """One reading of `[store]` for both: off, `resume_from_last_balance` leaves no window to continue in."""
    section = {"resume_window_hours": 6, "resume_from_last_balance": resume, "session_lease_s": 12}
    store = make_config(store={**section, "base_currency": "EUR"}).store
    assert sessions.SessionRules.of(store) == sessions.SessionRules("EUR", window, timedelta(seconds=12))
