"""Many writers, and writers killed mid-stream: no adjustment is lost, nothing acknowledged disappears.

Each workload runs on SQLite and, when reachable, PostgreSQL, through the production code path: eight
processes adjust one balance 500 times each, every process by its own delta, and the balance must end at
the opening plus every delta, with all 4,000 adjustments recorded once. The negative control runs the same
workload through a deliberately naive read-modify-write, to show the race test would catch a lost update.
Last, an adjustment, a position opening and a position closing each race a restarting console that continues
the session they write to (issue 14).
"""

import multiprocessing
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import TypeVar

import pytest
from sqlalchemy import Engine, text, update
from sqlmodel import col, select

from balance_tui.store import books, positions, sessions
from balance_tui.store.engine import create_store_engine, reading, writing
from balance_tui.store.errors import PositionError, SessionError
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import (
    AccountBalance,
    AdjustmentKind,
    Position,
    PositionSide,
    PositionStatus,
    SessionStatus,
    TradingSession,
)
from tests.store.support import ALICE, T0

FORK = multiprocessing.get_context("fork")  # the children inherit the imports: starting eight takes milliseconds
PROCESSES, ADJUSTMENTS = 8, 500
STEP = Decimal("0.01")  # the soak's delta; in the race, worker w adds (w + 1) * STEP each time
OPENING = Decimal(1000)  # USD, as the session_id fixture opens it
EVERY_DELTA = sum(ADJUSTMENTS * (w + 1) * STEP for w in range(PROCESSES))  # 180.00
# SIGKILLs per run: 50 on SQLite, whose file must survive them; 20 on PostgreSQL, where only the client dies
# and the server rolls back its transaction (each round costs a fork and a connection, on two cores).
KILLS = {"sqlite": 50, "postgresql": 20}
T = TypeVar("T")


def production_path(url: str, session_id: int, worker: int, start) -> None:  # type: ignore[no-untyped-def]
    engine = create_store_engine(url)
    start.wait()
    for i in range(ADJUSTMENTS):
        books.adjust(
            engine, session_id=session_id, asset="USD", amount=(worker + 1) * STEP, kind=AdjustmentKind.DELTA,
            reason="race", operator=ALICE, idempotency_key=f"w{worker}-{i}", now=T0,
        )  # fmt: skip


def naive_path(url: str, session_id: int, worker: int, start) -> None:  # type: ignore[no-untyped-def]
    """Read the balance in one transaction, write back read + delta in another, without the lock or the version
    check `books.adjust` takes: the classic lost update."""
    engine = create_store_engine(url)
    start.wait()
    for _ in range(ADJUSTMENTS):
        total = books.read_balance(engine, session_id, "USD").total
        with writing(engine) as db:
            db.exec(
                update(AccountBalance)
                .where(AccountBalance.session_id == session_id, AccountBalance.asset == "USD")
                .values(total=total + (worker + 1) * STEP)
            )


def race(engine: Engine, session_id: int, path) -> Decimal:  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no pooled connection crosses the fork
    start = FORK.Barrier(PROCESSES)
    workers = [FORK.Process(target=path, args=(url, session_id, w, start)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=100)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    return books.read_balance(engine, session_id, "USD").total


@pytest.mark.slow  # 12-38 s on SQLite and 29-55 s on PostgreSQL on two busy cores
def test_eight_processes_adjusting_one_balance_lose_nothing(migrated: Engine, session_id: int) -> None:
    final = race(migrated, session_id, production_path)
    assert final == OPENING + EVERY_DELTA
    keys = [a.idempotency_key for a in books.adjustments(migrated)]
    assert sorted(keys) == sorted(f"w{w}-{i}" for w in range(PROCESSES) for i in range(ADJUSTMENTS))  # 4,000, once
    report = verify(migrated)
    assert report.ok, report.problems


@pytest.mark.slow  # 6-20 s each, and meaningless without the race; it lost 152 of the 180.00 USD on both
def test_negative_control_a_naive_read_modify_write_loses_updates(migrated: Engine, session_id: int) -> None:
    final = race(migrated, session_id, naive_path)
    assert final < OPENING + EVERY_DELTA, (
        "the naive path lost nothing: the race test could not tell a broken store from a sound one"
    )


def hammer(url: str, session_id: int, round_: int, acks) -> None:  # type: ignore[no-untyped-def]
    """Adjust until killed; a key is acknowledged (sent) only after its commit returned."""
    engine = create_store_engine(url)
    for i in range(10_000):
        books.adjust(
            engine, session_id=session_id, asset="USD", amount=STEP, kind=AdjustmentKind.DELTA,
            reason="soak", operator=ALICE, idempotency_key=f"r{round_}-{i}", now=T0,
        )  # fmt: skip
        acks.send(i)


def test_killing_the_writer_repeatedly_loses_no_acknowledged_adjustment(migrated: Engine, session_id: int) -> None:
    url = migrated.url.render_as_string(hide_password=False)
    rng = random.Random(7)
    acknowledged: list[str] = []
    for round_ in range(KILLS[migrated.dialect.name]):
        migrated.dispose()
        receive, send = FORK.Pipe(duplex=False)
        child = FORK.Process(target=hammer, args=(url, session_id, round_, send))
        child.start()
        send.close()
        wanted = rng.randint(1, 12)
        for _ in range(wanted):
            assert receive.poll(60), "the writer stopped acknowledging"
            acknowledged.append(f"r{round_}-{receive.recv()}")
        time.sleep(rng.uniform(0, 0.005))  # land the kill anywhere in the next adjustment, commit included
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
        receive.close()
        # The next key's outcome is unknown (committed, or killed before): resubmitting applies it exactly once.
        retry = books.adjust(
            migrated, session_id=session_id, asset="USD", amount=STEP, kind=AdjustmentKind.DELTA,
            reason="soak", operator=ALICE, idempotency_key=f"r{round_}-{wanted}", now=T0,
        )  # fmt: skip
        assert retry.adjustment.idempotency_key == f"r{round_}-{wanted}"

    keys = [a.idempotency_key for a in books.adjustments(migrated)]
    assert set(acknowledged) <= set(keys), "an acknowledged adjustment was lost"
    assert len(keys) == len(set(keys))
    balance = books.read_balance(migrated, session_id, "USD").total
    assert balance == OPENING + len(keys) * STEP
    report = verify(migrated)
    assert report.ok, report.problems
    if migrated.dialect.name == "sqlite":
        with migrated.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


# Each round takes under 20 ms; with both sides jittered by 0-4 ms, roughly half the adjustments win and half
# are refused. Before the session row was locked, PostgreSQL lost some 20 of the 60 rounds.
CONTINUATION_ROUNDS = 60


def owner_gone(engine: Engine) -> None:
    """The active session's owner died: another host, its heartbeat past the lease, so the next start continues it."""
    with engine.begin() as conn:
        conn.execute(
            update(TradingSession)
            .where(col(TradingSession.status) == SessionStatus.ACTIVE)
            .values(owner_host="gone.example", owner_pid=1, heartbeat_at=T0)
        )


def continuations(
    engine: Engine, seed: int, write: Callable[[int], str]
) -> Iterator[tuple[str, int, int, sessions.OpenedSession]]:
    """CONTINUATION_ROUNDS rounds: the active session's owner is gone, and a console restarts and continues it
    while `write(its id)` runs, the two released together and jittered by 0-4 ms. Yields per round write's
    outcome, the old and the new session's ids, and what the restart opened."""
    rng = random.Random(seed)
    with ThreadPoolExecutor(2) as pool:
        for _ in range(CONTINUATION_ROUNDS):
            owner_gone(engine)
            old = sessions.active(engine, "sim")
            assert old is not None and old.id is not None
            start = threading.Barrier(2)
            restart = partial(
                sessions.resume_or_start, engine, exchange="sim", mode="paper", now=T0 + timedelta(minutes=1)
            )
            opening = pool.submit(_after, start, rng.uniform(0, 0.004), restart)
            outcome = pool.submit(_after, start, rng.uniform(0, 0.004), partial(write, old.id)).result()
            opened = opening.result()
            assert opened.continued_from is not None and opened.continued_from.id == old.id
            assert opened.session.id is not None
            yield outcome, old.id, opened.session.id, opened


def _after(start: threading.Barrier, delay: float, then: Callable[[], T]) -> T:
    start.wait()
    time.sleep(delay)
    return then()


def carried(engine: Engine, old: int, opened: sessions.OpenedSession) -> None:
    """The restarted console opened each balance (total and reserve) at what the old session ended with."""
    ended = {b.asset: (b.total, b.reserved) for b in books.read_balances(engine, old)}
    opening = {b.asset: (b.total, b.reserved) for b in opened.balances}
    assert opening == ended, f"session {old} ended with {ended}, {opened.session.id} opened with {opening}"


def test_an_adjustment_racing_a_continuation_lands_before_the_carry_over_or_is_refused(
    migrated: Engine, session_id: int
) -> None:
    """A console restarts and continues the interrupted session while an operator adjusts it, many times.

    Either the adjustment commits first and is carried over, or it finds the session ended and is refused:
    never committed into the old session after its balances went to the new one.
    """
    outcomes: Counter[str] = Counter()

    def adjust(old: int) -> str:
        try:
            books.adjust(
                migrated, session_id=old, asset="USD", amount=Decimal(1), kind=AdjustmentKind.DELTA,
                reason="race", operator=ALICE, idempotency_key=f"c{old}", now=T0,
            )  # fmt: skip
        except SessionError:
            return "refused"
        return "applied"

    for outcome, old, new, _ in continuations(migrated, 14, adjust):
        final, carried_over = (books.read_balance(migrated, s, "USD").total for s in (old, new))
        assert carried_over == final, f"{outcome}: session {old} ended at USD {final}, {new} opened at {carried_over}"
        outcomes[outcome] += 1
    report = verify(migrated)
    assert report.ok, report.problems
    assert len(books.adjustments(migrated)) == outcomes["applied"]  # a refused adjustment wrote nothing


def all_open(engine: Engine) -> Counter[int]:
    """How many positions are open in each session."""
    with reading(engine) as db:
        return Counter(db.exec(select(Position.session_id).where(Position.status == PositionStatus.OPEN)).all())


def open_one(engine: Engine, session_id: int) -> Position:
    return positions.open_position(
        engine, session_id=session_id, symbol="BTC/USD", side=PositionSide.LONG, size=Decimal("0.001"),
        entry_price=Decimal(1000), now=T0, by="bot",
    )  # fmt: skip


def test_an_open_racing_a_continuation_lands_before_the_carry_over_or_is_refused(
    migrated: Engine, session_id: int
) -> None:
    """The bot opens a position in the session a restarting console continues, many times.

    Either it opens first and moves over with the others, or it finds the session ended and is refused:
    never opened into the old session after its positions went to the new one (lost from the new session).
    """
    outcomes: Counter[str] = Counter()

    def open_(old: int) -> str:
        try:
            open_one(migrated, old)
        except PositionError as refused:
            assert f"trading session {old} is" in str(refused) and "positions change in the active" in str(refused)
            return "refused"
        return "opened"

    for outcome, old, new, opened in continuations(migrated, 15, open_):
        outcomes[outcome] += 1
        where = f"{outcome}: open positions by session {dict(all_open(migrated))}, {new} is the newest"
        assert all_open(migrated) == Counter({new: outcomes["opened"]}), where
        assert len(opened.positions) == outcomes["opened"], where  # the restarted console lists them all
        carried(migrated, old, opened)
    report = verify(migrated)
    assert report.ok, report.problems


def test_a_close_racing_a_continuation_lands_before_the_carry_over_or_is_refused(
    migrated: Engine, session_id: int
) -> None:
    """The bot closes a position of the session a restarting console continues, many times.

    Either the close commits first (the position stays behind, closed, and its P&L is carried over), or it
    finds the position has moved and is refused, or it starts after the carry-over and closes the position
    in the new session, where it then is: never closed in the old session after the carry-over.
    """
    outcomes: Counter[str] = Counter()
    position = open_one(migrated, session_id).id

    def close(_session: int) -> str:
        try:
            positions.close_position(migrated, position_id=position, exit_price=Decimal(1010), now=T0, by="bot")
        except PositionError as refused:
            assert f"position {position} moved" in str(refused) and "nothing was written" in str(refused)
            return "refused"
        return "closed"

    for outcome, old, new, opened in continuations(migrated, 16, close):
        with reading(migrated) as db:
            row = db.get_one(Position, position)
        if outcome == "closed":
            outcome = "closed before" if row.session_id == old else "closed after"
        outcomes[outcome] += 1
        where = f"{outcome}: open positions by session {dict(all_open(migrated))}, {new} is the newest"
        assert all_open(migrated) == Counter({new: outcomes["refused"]}), where
        assert len(opened.positions) == outcomes["refused"] + (outcome == "closed after"), where
        assert row.session_id == (old if outcome == "closed before" else new), where
        assert row.status == (PositionStatus.OPEN if outcome == "refused" else PositionStatus.CLOSED), where
        carried(migrated, old, opened)
        position = open_one(migrated, new).id  # the next round closes it
    report = verify(migrated)
    assert report.ok, report.problems
