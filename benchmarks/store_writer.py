"""How many history samples per second the batch writer sustains on SQLite (WAL, synchronous=FULL).

A producer thread offers core `Balance` updates (exact Decimals, 12 assets) to `HistoryWriter` as fast as
it can, the way the feed would; the writer thread flushes them in batches, one transaction each. A refused
offer (queue full) is retried after a short pause, so every row is written: the figure is rows on disk
per second, from the first offer until `close()` returned.

    .venv/bin/python benchmarks/store_writer.py            # 300,000 samples

The last line is the figure: `N rows/s`. Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from balance_tui.core.events import HoldAmounts, Source
from balance_tui.core.model import Balance
from balance_tui.store.history import HistoryWriter
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import BalanceSample

ASSETS = ["BTC", "ETH", "USD", "EUR", "USDT", "USDC", "SOL", "DOT", "XRP", "LTC", "DOGE", "ADA"]
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def updates(n: int) -> list[Balance]:
    """Prepared before timing: the benchmark measures the store, not building Decimals."""
    return [
        Balance(
            ASSETS[i % len(ASSETS)],
            Decimal(f"{1000 + i}.{i % 10_000_000_000:010d}"),
            (),
            Source.WS,
            T0 + timedelta(milliseconds=i),
            HoldAmounts(hold_trade=Decimal(f"0.{i % 1000:03d}")),
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300_000)
    args = parser.parse_args()

    batch = updates(args.samples)
    with tempfile.TemporaryDirectory() as directory:
        engine = open_store(f"sqlite:///{Path(directory) / 'bench.db'}")
        writer = HistoryWriter(engine, retention=timedelta(days=3650), clock=lambda: T0)
        writer.start()
        refused = 0
        start = time.perf_counter()
        for balance in batch:
            while not writer.record_balance(balance):
                refused += 1
                time.sleep(0.001)
        writer.close(timeout=600)
        elapsed = time.perf_counter() - start
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(BalanceSample)).scalar_one()
        engine.dispose()
    assert stored == args.samples, f"{stored} rows stored of {args.samples}"
    print(
        f"{args.samples:,} samples in {elapsed:.2f} s: {writer.flushes} flushes, {refused:,} offers refused (retried)"
    )
    print(f"{args.samples / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
