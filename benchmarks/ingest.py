"""How fast the engine ingests parsed balance updates, and how much memory it keeps.

Feeds `BalancesUpdate` events (exact Decimals, as the WS parser produces them) through
`BalanceManager.apply`: state, cache, validator, history and a callback, all as the console runs them.

    .venv/bin/python benchmarks/ingest.py            # timing on 200,000 updates, memory on 1,000,000
    .venv/bin/python benchmarks/ingest.py --assets 1000   # an account holding 1,000 assets

The last line is the figure: `N updates/s`. Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from balance_tui.core import BalanceManager
from balance_tui.core.events import AssetSnapshot, BalancesSnapshot, BalancesUpdate, LedgerEntry, WalletBalance

ASSETS = 50  # assets the account holds, by default
T0 = datetime(2026, 11, 20, tzinfo=UTC)


class StepClock:
    """Each update `step` seconds after the last, so retention and trends see a real time series."""

    def __init__(self, step: float = 1.0) -> None:
        self.at, self.ticks, self.step = T0, 0.0, step

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.ticks

    def tick(self) -> None:
        self.at += timedelta(seconds=self.step)
        self.ticks += self.step


def names(count: int) -> list[str]:
    return [f"A{i:04d}" for i in range(count)]


def updates(assets: list[str], count: int, rng: random.Random) -> Iterator[BalancesUpdate]:
    totals = {asset: Decimal(rng.randrange(1, 10**6)) / 100 for asset in assets}
    for sequence in range(2, count + 2):
        asset = rng.choice(assets)
        amount = Decimal(rng.randrange(-(10**4), 10**4)) / 10**4
        totals[asset] = max(totals[asset] + amount, Decimal(0))
        entry = LedgerEntry(
            f"L{sequence}", f"R{sequence}", T0, "trade", asset, "spot", "main", amount, Decimal(0), totals[asset]
        )
        yield BalancesUpdate((entry,), sequence)


def start(manager: BalanceManager, assets: list[str]) -> None:
    snapshot = tuple(AssetSnapshot(a, Decimal(100), (WalletBalance("spot", "main", Decimal(100)),)) for a in assets)
    manager.apply(BalancesSnapshot(snapshot, 1))


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timed", type=int, default=200_000, help="updates in the timed run")
    parser.add_argument("--memory", type=int, default=1_000_000, help="updates in the memory run")
    parser.add_argument(
        "--step", type=float, default=1.0, help="seconds between updates in the memory run; small: history is full"
    )
    parser.add_argument("--assets", type=int, default=ASSETS, help="assets the account holds (updates spread evenly)")
    args = parser.parse_args()
    assets = names(args.assets)

    # Memory: stream updates through a fresh engine and see what it keeps.
    clock = StepClock(args.step)
    manager = BalanceManager(clock)
    seen = 0

    def count(_balance: object) -> None:
        nonlocal seen
        seen += 1

    manager.register_callback("balance_update", count)
    start(manager, assets)
    gc.collect()
    before = rss_mib()
    for event in updates(assets, args.memory, random.Random(1)):
        clock.tick()
        manager.apply(event)
    gc.collect()
    grown = rss_mib() - before
    kept = sum(len(manager.history.get_asset_history(asset)) for asset in assets)
    print(
        f"memory: {args.memory:,} updates over {len(assets)} assets, {args.step:g} s apart, "
        f"grew RSS by {grown:.1f} MiB ({kept:,} history entries kept)"
    )

    # Speed: the same work on pre-built events, so only the engine is timed.
    clock = StepClock()
    manager = BalanceManager(clock)
    manager.register_callback("balance_update", count)
    start(manager, assets)
    events = list(updates(assets, args.timed, random.Random(2)))
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for event in events:
        clock.tick()
        manager.apply(event)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # CPU time is the figure: the target is per core, and it does not count other processes' load.
    print(
        f"speed: {args.timed:,} updates in {cpu:.2f} s of CPU ({wall:.2f} s wall), {cpu / args.timed * 1e6:.1f} us each"
    )
    print(f"{args.timed / cpu:,.0f} updates/s")


if __name__ == "__main__":
    main()
