"""Many writers, and writers killed mid-stream: no adjustment is lost, nothing acknowledged disappears.

Each workload runs on SQLite and, when reachable, PostgreSQL, through the production code path. The
negative control runs the same eight racing processes through a deliberately naive read-modify-write, to
show the race test would catch a lost update; 100 adjustments each are plenty for it to lose some.
Last, an adjustment races a restarting console that continues the session it adjusts (issue 14).
"""

import multiprocessing
import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, text, update
from sqlmodel import col

from balance_tui.store import books, sessions
from balance_tui.store.engine import create_store_engine, writing
from balance_tui.store.errors import SessionError
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import AccountBalance, AdjustmentKind, SessionStatus, TradingSession
from tests.store.support import ALICE, T0

FORK = multiprocessing.get_context("fork")  # the children inherit the imports: starting eight takes milliseconds
PROCESSES, ADJUSTMENTS, CONTROL_ADJUSTMENTS = 8, 500, 100
STEP = Decimal("0.01")
# SIGKILLs per run: 50 on SQLite, whose file must survive them; 20 on PostgreSQL, where only the client dies
# and the server rolls back its transaction (each round costs a fork and a connection, on two cores).
KILLS = {"sqlite": 50, "postgresql": 20}


def production_path(url: str, session_id: int, worker: int, start) -> None:  # type: ignore[no-untyped-def]
    engine = create_store_engine(url)
    start.wait()
    for i in range(ADJUSTMENTS):
        books.adjust(
            engine, session_id=session_id, asset="USD", amount=STEP, kind=AdjustmentKind.DELTA,
            reason="race", operator=ALICE, idempotency_key=f"w{worker}-{i}", now=T0,
        )  # fmt: skip


def naive_path(url: str, session_id: int, worker: int, start) -> None:  # type: ignore[no-untyped-def]
    """Read the balance in one transaction, write back read + delta in another: the classic lost update."""
    engine = create_store_engine(url)
    start.wait()
    for _ in range(CONTROL_ADJUSTMENTS):
        total = books.read_balance(engine, session_id, "USD").total
        with writing(engine) as db:
            db.exec(
                update(AccountBalance)
                .where(AccountBalance.session_id == session_id, AccountBalance.asset == "USD")
                .values(total=total + STEP)
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


def test_eight_processes_adjusting_one_balance_lose_nothing(migrated: Engine, session_id: int) -> None:
    final = race(migrated, session_id, production_path)
    assert final == Decimal(1000) + PROCESSES * ADJUSTMENTS * STEP
    assert len(books.adjustments(migrated)) == PROCESSES * ADJUSTMENTS
    report = verify(migrated)
    assert report.ok, report.problems


def test_negative_control_a_naive_read_modify_write_loses_updates(migrated: Engine, session_id: int) -> None:
    final = race(migrated, session_id, naive_path)
    lost = (Decimal(1000) + PROCESSES * CONTROL_ADJUSTMENTS * STEP - final) / STEP
    assert lost > 0, "the naive path lost nothing: the race test could not tell a broken store from a sound one"


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
    assert balance == Decimal(1000) + len(keys) * STEP
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


def test_an_adjustment_racing_a_continuation_lands_before_the_carry_over_or_is_refused(
    migrated: Engine, session_id: int
) -> None:
    """A console restarts and continues the interrupted session while an operator adjusts it, many times.

    Either the adjustment commits first and is carried over, or it finds the session ended and is refused:
    never committed into the old session after its balances went to the new one.
    """
    rng = random.Random(14)
    outcomes: Counter[str] = Counter()

    def restart(start: threading.Barrier, delay: float) -> sessions.OpenedSession:
        start.wait()
        time.sleep(delay)
        return sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(minutes=1))

    def adjust(start: threading.Barrier, old: int, delay: float) -> str:
        start.wait()
        time.sleep(delay)
        try:
            books.adjust(
                migrated, session_id=old, asset="USD", amount=Decimal(1), kind=AdjustmentKind.DELTA,
                reason="race", operator=ALICE, idempotency_key=f"c{old}", now=T0,
            )  # fmt: skip
        except SessionError:
            return "refused"
        return "applied"

    old = session_id
    with ThreadPoolExecutor(2) as pool:
        for _ in range(CONTINUATION_ROUNDS):
            owner_gone(migrated)
            start = threading.Barrier(2)
            opening = pool.submit(restart, start, rng.uniform(0, 0.004))
            outcome = pool.submit(adjust, start, old, rng.uniform(0, 0.004)).result()
            new = opening.result().session.id
            assert new is not None and opening.result().continued_from.id == old  # type: ignore[union-attr]
            final, carried = (books.read_balance(migrated, s, "USD").total for s in (old, new))
            assert carried == final, f"{outcome}: session {old} ended at USD {final}, {new} opened at {carried}"
            outcomes[outcome] += 1
            old = new
    report = verify(migrated)
    assert report.ok, report.problems
    assert len(books.adjustments(migrated)) == outcomes["applied"]  # a refused adjustment wrote nothing
