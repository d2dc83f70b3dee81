"""Many writers, and writers killed mid-stream: no adjustment is lost, nothing acknowledged disappears.

Each workload runs on SQLite and, when reachable, PostgreSQL, through the production code path. The
negative control runs the same eight racing processes through a deliberately naive read-modify-write, to
show the race test would catch a lost update; 100 adjustments each are plenty for it to lose some.
"""

import multiprocessing
import os
import random
import signal
import time
from decimal import Decimal

from sqlalchemy import Engine, text, update

from balance_tui.store import books
from balance_tui.store.engine import create_store_engine, writing
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import AccountBalance, AdjustmentKind
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
