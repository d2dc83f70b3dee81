"""How long a sparkline query takes on 1,000,000 history rows of one asset, on SQLite and (if given) PostgreSQL.

Loads one million samples of BTC (one every 0.6 s: a week) plus 100,000 of ETH through the batch writer,
then times `history()` for 120 points over the last hour, day and week (the week covers every row), and
a one-minute range small enough to come back raw. Each figure is the median of 21 runs after a warm-up.

    .venv/bin/python benchmarks/store_sparkline.py
    .venv/bin/python benchmarks/store_sparkline.py --postgresql postgresql+psycopg://postgres@127.0.0.1:5432/test

Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from store_adjustments import scratch_schema

from balance_tui.core.events import Source
from balance_tui.core.model import Balance
from balance_tui.store.history import HistoryWriter, history
from balance_tui.store.migrate import open_store

END = datetime(2026, 11, 27, tzinfo=UTC)
STEP = timedelta(milliseconds=600)


def load(engine: Engine, rows: int) -> float:
    writer = HistoryWriter(engine, retention=timedelta(days=3650), clock=lambda: END, max_queue=100_000)
    writer.start()
    started = time.perf_counter()
    for asset, count in (("BTC", rows), ("ETH", rows // 10)):
        step = STEP * (rows // count)
        for i in range(count):
            balance = Balance(asset, Decimal(f"{i % 5000}.{i:010d}"), (), Source.WS, END - step * (count - i))
            while not writer.record_balance(balance):
                time.sleep(0.001)
    writer.close(timeout=1800)
    return time.perf_counter() - started


def median_ms(engine: Engine, span: timedelta) -> tuple[float, int]:
    points = history(engine, "BTC", since=END - span, until=END, points=120).points  # warm-up
    timings = []
    for _ in range(21):
        started = time.perf_counter()
        history(engine, "BTC", since=END - span, until=END, points=120)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, len(points)


def report(name: str, url: str, rows: int) -> None:
    engine = open_store(url)
    seconds = load(engine, rows)
    print(f"{name}: loaded {rows:,} + {rows // 10:,} rows in {seconds:.0f} s")
    for label, span in (("1 minute", timedelta(minutes=1)), ("1 hour", timedelta(hours=1)),
                        ("1 day", timedelta(days=1)), ("1 week", timedelta(days=7))):  # fmt: skip
        ms, points = median_ms(engine, span)
        print(f"{name}: {label:>8}: {points:3d} points in {ms:6.2f} ms (median of 21)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgresql", metavar="URL", help="also measure PostgreSQL at this URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        report("SQLite", f"sqlite:///{Path(directory) / 'bench.db'}", args.rows)
    if args.postgresql:
        with scratch_schema(args.postgresql) as url:
            report("PostgreSQL", url, args.rows)


if __name__ == "__main__":
    main()
