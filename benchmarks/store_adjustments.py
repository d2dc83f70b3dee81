"""How many audited adjustments per second the store commits, on SQLite and (if given) PostgreSQL.

Every adjustment is the production path: idempotency check, precision check, row lock (BEGIN IMMEDIATE /
SELECT ... FOR UPDATE), version bump, append-only audit row, commit (SQLite synchronous=FULL; PostgreSQL
also sends its NOTIFY). Measured with one writer, then with 8 processes on one balance (the race test's
shape: a worst case, every writer on the same row).

    .venv/bin/python benchmarks/store_adjustments.py
    .venv/bin/python benchmarks/store_adjustments.py --postgresql postgresql+psycopg://postgres@127.0.0.1:5432/test

PostgreSQL runs in a scratch schema that is dropped afterwards. Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from balance_tui.store import books, sessions
from balance_tui.store.engine import create_store_engine
from balance_tui.store.identity import Operator
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import AdjustmentKind

NOW = datetime(2026, 11, 20, tzinfo=UTC)
OPERATOR = Operator("bench")
FORK = multiprocessing.get_context("fork")


def adjust_many(url: str, session_id: int, tag: str, n: int, start=None) -> None:  # type: ignore[no-untyped-def]
    engine = create_store_engine(url)
    if start is not None:
        start.wait()
    for i in range(n):
        books.adjust(
            engine, session_id=session_id, asset="USD", amount=Decimal("0.01"), kind=AdjustmentKind.DELTA,
            reason="benchmark", operator=OPERATOR, idempotency_key=f"{tag}-{i}", now=NOW,
        )  # fmt: skip
    engine.dispose()


def measure(url: str, single: int, processes: int, each: int) -> tuple[float, float]:
    engine = open_store(url)
    opened = sessions.resume_or_start(engine, exchange="bench", mode="paper", now=NOW)
    session_id = opened.session.id
    assert session_id is not None
    engine.dispose()

    started = time.perf_counter()
    adjust_many(url, session_id, "one", single)
    one = single / (time.perf_counter() - started)

    start = FORK.Barrier(processes + 1)
    workers = [FORK.Process(target=adjust_many, args=(url, session_id, f"w{w}", each, start)) for w in range(processes)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    many = processes * each / (time.perf_counter() - started)
    assert all(worker.exitcode == 0 for worker in workers)
    return one, many


@contextmanager
def scratch_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", metavar="URL", help="also measure PostgreSQL at this URL")
    parser.add_argument("--single", type=int, default=2_000, help="adjustments by one writer")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--each", type=int, default=250, help="adjustments per racing process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        one, many = measure(f"sqlite:///{Path(directory) / 'bench.db'}", args.single, args.processes, args.each)
    print(f"SQLite:     {one:,.0f} adjustments/s (1 writer), {many:,.0f} adjustments/s ({args.processes} processes)")
    if args.postgresql:
        with scratch_schema(args.postgresql) as url:
            one, many = measure(url, args.single, args.processes, args.each)
        print(
            f"PostgreSQL: {one:,.0f} adjustments/s (1 writer), {many:,.0f} adjustments/s ({args.processes} processes)"
        )


if __name__ == "__main__":
    main()
