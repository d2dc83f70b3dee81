"""How big a recording grows: `balance-tui record`'s recorder on the built-in simulator, on the wall clock.

Runs the backend as `record` does (an observer on the simulator, ledger activity at --rate updates a second)
with a `Recorder` for --minutes, closes the file, and reports its size scaled to an hour, with what is in
it: frames (keyframes and deltas), events, what zlib saved on the payloads it compressed, and the tables the
replay's screens read (samples, ledger entries, open orders; the books of a session opened as a console
would); then how long opening it and a seek to a random instant take (a seek decodes from the keyframe
at or before it).

    .venv/bin/python benchmarks/recording.py                  # the simulator's default rate, 2 updates/s
    .venv/bin/python benchmarks/recording.py --rate 100       # a busy account

Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
import zlib
from datetime import timedelta
from pathlib import Path

from balance_tui.backend import open_backend
from balance_tui.config import Config, load_config
from balance_tui.recording import Recorder, Recording
from balance_tui.recording.store_tables import BOOKS
from balance_tui.store import sessions

MB = 1024 * 1024
# What the replay's asset and ledger screens read, then its books and sessions screens.
SCREEN_TABLES = ("balance_samples", "ledger_entries", "orders", *(versions.name for versions in BOOKS.values()))


def config(rate: float, directory: Path) -> Config:
    shipped = load_config(None).config
    return shipped.model_copy(
        update={
            "sim": shipped.sim.model_copy(update={"updates_per_second": rate}),
            "store": shipped.store.model_copy(update={"database_url": f"sqlite:///{directory / 'store.db'}"}),
        }
    )


async def record(rate: float, seconds: float, directory: Path, path: Path | None) -> float:
    """Record to `path` for `seconds` (with no path, only run the backend); the CPU seconds the whole
    process (simulator, engine, recorder) used."""
    async with open_backend(config(rate, directory), own_session=False) as backend:
        feed = asyncio.create_task(backend.run())
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 30)
        # The session a console on the store would run: the books the recorder copies.
        await asyncio.to_thread(
            sessions.resume_or_start, backend.store, exchange="sim", mode="paper", now=backend.manager.clock.now()
        )
        recorder = asyncio.create_task(asyncio.Event().wait() if path is None else Recorder(backend, path).run())
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu
        for task in (recorder, feed):
            task.cancel()
        await asyncio.gather(recorder, feed, return_exceptions=True)
    return cpu


def contents(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        stored, raw, packed, frames, keyframes = 0, 0, 0, 0, 0
        for kind, payload in db.execute("SELECT kind, payload FROM frames"):
            frames += 1
            keyframes += kind == "keyframe"
            if isinstance(payload, bytes):
                packed += 1
                stored += len(payload)
                raw += len(zlib.decompress(payload))
            else:
                stored += len(payload.encode())
                raw += len(payload.encode())
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SCREEN_TABLES}
    return {
        "frames": frames, "keyframes": keyframes, "packed": packed, "stored": stored, "raw": raw, "events": events,
        **rows,
    }  # fmt: skip


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of pages per table, its indexes included (SQLite's dbstat)."""
    with sqlite3.connect(path) as db:
        owners = dict(db.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')"))
        sizes: dict[str, int] = {}
        for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owners.get(name, name)
            sizes[table] = sizes.get(table, 0) + size
    return sizes


def seeks(path: Path, count: int = 20) -> tuple[float, float]:
    """Mean seconds to open the file, and to seek a fresh reader to a random instant (from its keyframe)."""
    with Recording.open(path) as recording:
        start, span = recording.start, (recording.end - recording.start).total_seconds()
    rng, opening, seeking = random.Random(7), 0.0, 0.0
    for _ in range(count):
        at = start + timedelta(seconds=rng.uniform(0, span))
        began = time.perf_counter()
        with Recording.open(path) as recording:
            opened = time.perf_counter()
            recording.view_at(at)
            seeking += time.perf_counter() - opened
        opening += opened - began
    return opening / count, seeking / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0, help="simulator ledger updates a second (default 2)")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to record (default 5)")
    parser.add_argument("--baseline", action="store_true", help="no recorder: the process CPU without one")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as directory:
        path = None if args.baseline else Path(directory) / "bench.rec"
        cpu = asyncio.run(record(args.rate, seconds, Path(directory), path))
        if path is None:
            print(f"{args.rate:g} updates/s for {args.minutes:g} min, no recorder: process CPU {cpu / seconds:.1%}")
            return
        size, found, tables = path.stat().st_size, contents(path), table_bytes(path)
        opened, seek = seeks(path)
    per_hour = 3600 / seconds
    print(
        f"{args.rate:g} updates/s for {args.minutes:g} min: {found['frames']:,} frames "
        f"({found['keyframes']} keyframes), {found['events']} events; process CPU {cpu / seconds:.1%} of a core"
    )
    print(
        f"payloads {found['stored'] / MB:.2f} MiB stored, {found['raw'] / MB:.2f} MiB as JSON: zlib on "
        f"{found['packed']:,} of them saved {1 - found['stored'] / found['raw']:.0%}"
    )
    print(f"file {size / MB:.2f} MiB: {size * per_hour / MB:.1f} MiB per hour (scaled from {args.minutes:g} min)")
    print(
        "by table (with its indexes), per hour: "
        + ", ".join(f"{name} {tables.get(name, 0) * per_hour / MB:.1f} MiB" for name in ("frames", *SCREEN_TABLES))
        + f"; rows: {', '.join(f'{found[name]:,} {name}' for name in SCREEN_TABLES)}"
    )
    print(f"open {opened * 1000:.1f} ms, a seek to a random instant {seek * 1000:.1f} ms on average")


if __name__ == "__main__":
    main()
