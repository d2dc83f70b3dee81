"""The console in a real terminal: `balance-tui` in a 160x45 pseudo-terminal against the simulator, measured
from outside the process.

A `balance_tui.sim.Simulator` runs in a child process (pinned to CPU 0) with no activity of its own; this
script drives it at a paced rate of scripted deposits spread round-robin over N assets (the listed ones,
then the dormant D00001, ... of the many-assets fault). Every MARK_INTERVAL_S one of those updates is a
*marker*: a deposit of 1.00000001 ADA, so ADA's total takes a value never seen before; the simulator
process notes the CLOCK_MONOTONIC time after it queued the frame. ADA sorts first by name, so its row is
always on screen. The console (`python -m balance_tui`, pinned to CPU 1) is pointed at the simulator as at
Kraken (`[exchange] name = "kraken"`, its URLs, KRAKEN_API_KEY/SECRET) and everything it writes to the pty
is read here with the time it arrived. A marker's latency is the time from its frame leaving the simulator
to the first pty read that contains its total, or a later marker's (the table repaints at `ui.refresh_hz`,
so a value superseded before the next repaint is never drawn; "drawn" counts those that were).

Measured per phase, from /proc: CPU of the console process (utime + stime), bytes it wrote to the terminal
per second, RSS (VmRSS) at the end; per launch: the time from start to the first bytes drawn and to the
first live balances (the name "ADA" in the output). Phases run in one console, in order: idle (0 updates:
heartbeats only), then each rate; each phase lasts --seconds, after a settle of SETTLE_S (IDLE_SETTLE_S before idle).

    .venv/bin/python benchmarks/console.py                       # 3 x 3 launches, 6 s a phase: about 7 minutes
    .venv/bin/python benchmarks/console.py --seconds 20 --repeat 1
    .venv/bin/python benchmarks/console.py --soak 10 --assets 200   # RSS over 10 minutes at 1,000/s

Nothing is asserted; the last lines are the figures beside the goals of issue 10.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import multiprocessing
import os
import tempfile
import time
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from pty_console import PtyConsole
from stream_ingest import CLIENT_CPU, CLOCK_TICKS, SENDER_CPU, _busy_ticks, _process_ticks, pin, spread

from balance_tui.tui.formatting import amount

SEED = 7
SIZE = (160, 45)
MARKER_ASSET = "ADA"
MARK_STEP = Decimal("1.00000001")
MARK_INTERVAL_S = 0.1
SETTLE_S = 1.5
IDLE_MAX_S = 30.0  # the idle phase of a --soak run
IDLE_SETTLE_S = 3.0  # start-up work (REST holds, the store, the ticker) is over by then
START_TIMEOUT_S = 60.0
RATES = (100, 500, 1000, 5000)
ASSET_COUNTS = (10, 50, 200)
GOALS = "p50 <= 100 ms, p99 <= 250 ms at 1,000/s x 200; CPU <= 25% at 1,000/s; idle <= 1%; <= 60 KiB/s at 500/s"


# -- the simulator, in its own process -------------------------------------------------------------------


def sim_main(assets: int, control: Pipe) -> None:
    pin(SENDER_CPU)
    asyncio.run(_serve(assets, control))


async def _serve(assets: int, control: Pipe) -> None:
    from balance_tui.sim import Faults, Simulator
    from balance_tui.sim.assets import ASSETS

    sim = Simulator(seed=SEED, updates_per_second=0, faults=Faults(many_assets=max(assets - len(ASSETS), 0)))
    await sim.start()
    names = sorted(sim.account.assets)
    others = [name for name in names if name != MARKER_ASSET][: assets - 1]
    steps = [Decimal(1).scaleb(-min(sim.account.assets[name].decimals, 2)) for name in others]
    control.send(
        {"rest": sim.rest_url, "private": sim.ws_private_url, "public": sim.ws_public_url}
        | {"key": sim.api_key, "secret": sim.api_secret, "assets": [MARKER_ASSET, *others]}
    )
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, control.recv)) is not None:
        rate, seconds = command
        subscribes = sim.requests["subscribe"]
        sent_before = sim.updates_sent
        markers = await _drive(sim, others, steps, rate, seconds)
        control.send(
            {
                "markers": markers,
                "updates": sim.updates_sent - sent_before,
                "resubscribes": sim.requests["subscribe"] - subscribes,
            }
        )
    await sim.stop()


async def _drive(sim: Any, others: list[str], steps: list[Decimal], rate: float, seconds: float) -> list:
    """`rate` deposits a second for `seconds`, caught up every millisecond; one every MARK_INTERVAL_S a marker."""
    markers: list[tuple[float, str]] = []
    start = time.monotonic()
    total, done, turn = int(rate * seconds), 0, 0
    next_marker = start
    while (now := time.monotonic()) < start + seconds:
        for _ in range(min(int((now - start) * rate) + 1, total) - done):
            if now >= next_marker:
                [entry] = await sim.deposit(MARKER_ASSET, MARK_STEP)
                markers.append((time.monotonic(), str(entry.balance)))
                next_marker += MARK_INTERVAL_S
            else:
                await sim.deposit(others[turn % len(others)], steps[turn % len(others)])
                turn += 1
            done += 1
        await asyncio.sleep(0.001)
    return markers


# -- the console, in a pseudo-terminal -------------------------------------------------------------------


class Terminal(PtyConsole):
    """The console in a pty, pinned to the client's CPU; every read of it is kept with when it returned."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        super().__init__("--config", str(config), size=SIZE, env=env)
        if hasattr(os, "sched_setaffinity") and CLIENT_CPU in os.sched_getaffinity(0):
            os.sched_setaffinity(self.process.pid, {CLIENT_CPU})

    def first(self, text: bytes, timeout: float = START_TIMEOUT_S) -> float:
        """Seconds from start to the read that completed the first `text` in the output."""
        deadline = time.monotonic() + timeout
        while (at := self.output.find(text)) < 0:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"no {text!r} from the console; it wrote: {bytes(self.output[-2000:])!r}")
            time.sleep(0.01)
        return self.times[bisect.bisect_left(self.ends, at + len(text))] - self.started

    def offset_at(self, moment: float) -> int:
        """How much had been read before `moment`."""
        index = bisect.bisect_left(self.times, moment)
        return self.ends[index - 1] if index else 0

    def seen_at(self, text: bytes, offset: int) -> float | None:
        """When `text` was first read at or after `offset`, or None."""
        at = self.output.find(text, offset)
        if at < 0:
            return None
        return self.times[bisect.bisect_left(self.ends, at + len(text))]

    def cpu_ticks(self) -> int:
        return _process_ticks(self.process.pid)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    def close(self) -> None:
        super().close(quit_with="q")


def marker_text(balance: str) -> bytes:
    """How the table shows a total: grouped, every digit the wire carried (trailing zeros may be dropped)."""
    text = amount(Decimal(balance))
    return (text.rstrip("0").rstrip(".") if "." in text else text).encode()


def latencies(terminal: Terminal, markers: list[tuple[float, str]]) -> tuple[list[float], int]:
    """Per marker: seconds until it or a later marker was visible; and how many were drawn themselves."""
    seen: list[float | None] = [terminal.seen_at(marker_text(b), terminal.offset_at(t)) for t, b in markers]
    drawn = sum(s is not None for s in seen)
    result: list[float] = []
    earliest: float | None = None
    for (sent, _), shown in zip(reversed(markers), reversed(seen), strict=True):
        if shown is not None:
            earliest = shown if earliest is None else min(earliest, shown)
        if earliest is not None:
            result.append(earliest - sent)
    return result, drawn


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


# -- one launch ------------------------------------------------------------------------------------------


def launch(assets: int, rates: list[float], seconds: float, workdir: Path) -> dict[str, Any]:
    """One simulator and one console: start-up, then an idle phase and one phase per rate."""
    context = multiprocessing.get_context("spawn")
    control, child_end = context.Pipe()
    sim = context.Process(target=sim_main, args=(assets, child_end), daemon=True)
    sim.start()
    info = control.recv()
    config = workdir / f"console-{assets}.toml"
    database = workdir / f"console-{assets}-{time.monotonic_ns()}.db"
    config.write_text(
        f'[exchange]\nname = "kraken"\nrest_url = "{info["rest"]}"\n'
        f'ws_private_url = "{info["private"]}"\nws_public_url = "{info["public"]}"\n'
        f'[store]\ndatabase_url = "sqlite:///{database}"\n'
    )
    terminal = Terminal(config, {"KRAKEN_API_KEY": info["key"], "KRAKEN_API_SECRET": info["secret"]})
    result: dict[str, Any] = {"assets": assets, "phases": {}}
    try:
        result["first_frame"] = terminal.first(b"\x1b")
        result["first_balances"] = terminal.first(MARKER_ASSET.encode())
        result["rss_start_kib"] = terminal.rss_kib()
        for rate in [0, *rates]:
            time.sleep(IDLE_SETTLE_S if rate == 0 else SETTLE_S)
            result["phases"][rate] = phase(
                terminal, control, sim.pid, rate, min(seconds, IDLE_MAX_S) if rate == 0 else seconds
            )
        result["rss_kib"] = terminal.rss_kib()
        result["updates"] = sum(p["updates"] for p in result["phases"].values())
        result["exit"] = terminal.process.poll()
    finally:
        terminal.close()
        control.send(None)
        sim.join(timeout=10)
        if sim.is_alive():
            sim.kill()
        database.unlink(missing_ok=True)
    return result


def phase(terminal: Terminal, control: Pipe, sim_pid: int, rate: float, seconds: float) -> dict[str, Any]:
    busy0, _ = _busy_ticks()
    ticks0, sim0, parent0 = terminal.cpu_ticks(), _process_ticks(sim_pid), _process_ticks("self")
    bytes0, start = len(terminal.output), time.monotonic()
    control.send((rate, seconds))
    done = control.recv()
    wall = time.monotonic() - start
    ticks = terminal.cpu_ticks() - ticks0
    sim_ticks, parent_ticks = _process_ticks(sim_pid) - sim0, _process_ticks("self") - parent0
    written = len(terminal.output) - bytes0
    busy1, _ = _busy_ticks()
    time.sleep(1.0)  # let the last markers reach the screen before looking for them
    lat, drawn = latencies(terminal, done["markers"])
    return {
        "cpu": ticks / CLOCK_TICKS / wall,
        "kib_s": written / 1024 / wall,
        "rate": done["updates"] / wall,
        "updates": done["updates"],
        "sim_cpu": sim_ticks / CLOCK_TICKS / wall,
        "others": max(busy1 - busy0 - ticks - sim_ticks - parent_ticks, 0) / CLOCK_TICKS / wall,
        "p50": percentile(lat, 0.5) if lat else None,
        "p99": percentile(lat, 0.99) if lat else None,
        "markers": len(done["markers"]),
        "shown": len(lat),
        "drawn": drawn,
        "resubscribes": done["resubscribes"],
    }


# -- reporting -------------------------------------------------------------------------------------------


def ms(values: list[float | None]) -> str:
    known = [v * 1000 for v in values if v is not None]
    return spread(known, ",.0f") if known else "-"


def report(runs: list[dict[str, Any]], rates: list[float]) -> None:
    print(f"\nconsole in a {SIZE[0]}x{SIZE[1]} pty; median [min .. max] over {len(runs)} launches in all")
    print("first frame s:", spread([r["first_frame"] for r in runs], ".2f"), "  goal <= 1.0")
    print("first balances s:", spread([r["first_balances"] for r in runs], ".2f"), "  goal <= 1.5")
    print(
        "\n| assets | updates/s (achieved) | console CPU | to terminal KiB/s | latency p50 ms | p99 ms "
        "| markers shown / drawn / sent | subscribe requests | simulator CPU | others (cores) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for assets in sorted({r["assets"] for r in runs}):
        mine = [r for r in runs if r["assets"] == assets]
        for rate in [0, *rates]:
            ps = [r["phases"][rate] for r in mine]
            lat = (ms([p["p50"] for p in ps]), ms([p["p99"] for p in ps])) if rate else ("-", "-")
            counts = f"{sum(p['shown'] for p in ps)} / {sum(p['drawn'] for p in ps)} / {sum(p['markers'] for p in ps)}"
            print(
                f"| {assets} | {rate:,.0f} ({spread([p['rate'] for p in ps])}) "
                f"| {spread([p['cpu'] * 100 for p in ps], '.1f')}% | {spread([p['kib_s'] for p in ps], ',.1f')} "
                f"| {lat[0]} | {lat[1]} | {counts} | {sum(p['resubscribes'] for p in ps)} "
                f"| {spread([p['sim_cpu'] * 100 for p in ps], '.0f')}% | {spread([p['others'] for p in ps], '.2f')} |"
            )
        rss = [r["rss_kib"] / 1024 for r in mine]
        rss0 = [r["rss_start_kib"] / 1024 for r in mine]
        print(
            f"| {assets} | RSS at the first balances {spread(rss0, '.0f')} MiB, after the run "
            f"({mine[0]['updates']:,} updates) {spread(rss, '.0f')} MiB |"
        )
    print("goals:", GOALS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=",".join(map(str, ASSET_COUNTS)), help="asset counts (default 10,50,200)")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="updates/s (default 100,500,1000,5000)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per phase (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="launches per asset count (default 3)")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="one phase at 1,000/s this long, instead")
    args = parser.parse_args()
    counts = [int(n) for n in args.assets.split(",")]
    rates = [float(n) for n in args.rates.split(",")]
    seconds, repeat = args.seconds, args.repeat
    if args.soak:
        rates, seconds, repeat = [1000.0], args.soak * 60, 1
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs")
    began = time.monotonic()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as workdir:
        for repetition in range(repeat):
            order = counts if repetition % 2 == 0 else counts[::-1]
            for assets in order:
                run = launch(assets, rates, seconds, Path(workdir))
                runs.append(run)
                rss, load = run["rss_kib"] / 1024, os.getloadavg()[0]
                print(
                    f"rep {repetition + 1} assets {assets}: first frame {run['first_frame']:.2f} s, balances "
                    f"{run['first_balances']:.2f} s, RSS {rss:.0f} MiB, load {load:.1f}",
                    flush=True,
                )
    report(runs, rates)
    print(f"\n{time.monotonic() - began:.0f} s in all; load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
