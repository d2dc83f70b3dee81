"""How long an adjustment takes to reach N consoles watching one PostgreSQL store (LISTEN/NOTIFY fan-out).

Each watcher is its own process running the console's own watch (`store.watch.watch_adjustments`: a LISTEN
connection of its own, as every console has). The writer commits adjustments through the production path
(`books.adjust`; migration 0002's trigger sends the NOTIFY inside that transaction), one every `--gap`
seconds, and every watcher notes when each id reaches it. Latency is from just before the writer's
`books.adjust` call (so it includes the write itself, whose own time is shown apart) to the watcher's
receipt; all processes read the same CLOCK_MONOTONIC. A console holds two connections (its LISTEN one and a
pooled one for reads); here each watcher's reads go unpooled, so 50 watchers and the writer fit under
PostgreSQL's default max_connections = 100.

    .venv/bin/python benchmarks/store_notify.py                       # N = 1, 10, 50; 100 adjustments each
    .venv/bin/python benchmarks/store_notify.py --watchers 1,10,50,100 --adjustments 200

It runs in a scratch schema of `--postgresql` (dropped afterwards). Nothing here is asserted; see
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import queue
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.queues import Queue

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool
from store_adjustments import OPERATOR, scratch_schema

from balance_tui.store import books, sessions
from balance_tui.store.engine import parse_database_url, postgresql_connect_args
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import AdjustmentKind
from balance_tui.store.watch import watch_adjustments

FORK = multiprocessing.get_context("fork")
DEFAULT_URL = os.environ.get("BALANCE_TUI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def watcher(url: str, received: Queue) -> None:
    """One console's watch: (pid, adjustment id, monotonic time) for every id it is told of."""

    async def watch() -> None:
        parsed = parse_database_url(url)
        engine = create_engine(parsed, poolclass=NullPool, connect_args=postgresql_connect_args(parsed))
        async for change in watch_adjustments(engine):
            at = time.monotonic()
            for adjustment_id in change.adjustment_ids:
                received.put((os.getpid(), adjustment_id, at))

    asyncio.run(watch())


def adjust(engine: Engine, session_id: int, key: str) -> int:
    result = books.adjust(
        engine, session_id=session_id, asset="USD", amount=Decimal("0.01"), kind=AdjustmentKind.DELTA,
        reason="notify benchmark", operator=OPERATOR, idempotency_key=key, now=NOW,
    )  # fmt: skip
    assert result.adjustment.id is not None
    return result.adjustment.id


def collect(received: Queue, ids: set[int], watchers: int, timeout: float) -> dict[tuple[int, int], float]:
    """Receipts of `ids` until every watcher has each, or `timeout` seconds pass."""
    got: dict[tuple[int, int], float] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(ids) * watchers and time.monotonic() < deadline:
        try:
            pid, adjustment_id, at = received.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if adjustment_id in ids:
            got[pid, adjustment_id] = at
    return got


def measure(url: str, watchers: int, adjustments: int, gap: float) -> str:
    engine = open_store(url)
    session_id = sessions.resume_or_start(engine, exchange="bench", mode="paper", now=NOW).session.id
    assert session_id is not None
    received: Queue = FORK.Queue()
    procs = [FORK.Process(target=watcher, args=(url, received), daemon=True) for _ in range(watchers)]
    try:
        for proc in procs:
            proc.start()
        ready: set[int] = set()  # watchers told of a warm-up adjustment: listening
        for attempt in range(120):
            warm = adjust(engine, session_id, f"warm-{watchers}-{attempt}")
            ready |= {pid for pid, _ in collect(received, {warm}, watchers, 0.5)}
            if len(ready) == watchers:
                break
        assert len(ready) == watchers, f"only {len(ready)} of {watchers} watchers listening after a minute"

        started: dict[int, float] = {}
        writes = []
        for i in range(adjustments):
            time.sleep(gap)
            before = time.monotonic()
            adjustment_id = adjust(engine, session_id, f"n{watchers}-{i}")
            writes.append(time.monotonic() - before)
            started[adjustment_id] = before
        got = collect(received, set(started), watchers, 30)
    finally:
        for proc in procs:
            proc.kill()
            proc.join()
        engine.dispose()
    latencies = sorted((at - started[adjustment_id]) * 1000 for (_, adjustment_id), at in got.items())
    last = sorted(  # the slowest watcher per adjustment: when the news has reached everyone
        max(at for (_, aid), at in got.items() if aid == adjustment_id) * 1000 - started[adjustment_id] * 1000
        for adjustment_id in started
        if any(aid == adjustment_id for _, aid in got)
    )
    missing = adjustments * watchers - len(got)
    return (
        f"{watchers:>3} watchers: {len(got):,} receipts ({missing} missing); latency ms p50 {pct(latencies, 50):.2f} "
        f"p90 {pct(latencies, 90):.2f} p99 {pct(latencies, 99):.2f} max {latencies[-1]:.2f}; "
        f"last watcher p50 {pct(last, 50):.2f} p99 {pct(last, 99):.2f}; the write itself p50 "
        f"{statistics.median(writes) * 1000:.2f} ms"
    )


def pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", metavar="URL", default=DEFAULT_URL)
    parser.add_argument("--watchers", default="1,10,50", help="comma-separated watcher counts")
    parser.add_argument("--adjustments", type=int, default=100, help="adjustments per watcher count")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between adjustments")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    for watchers in (int(n) for n in args.watchers.split(",")):
        with scratch_schema(args.postgresql) as url:
            print(measure(url, watchers, args.adjustments, args.gap), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
