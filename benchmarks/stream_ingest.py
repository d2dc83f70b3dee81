"""Stream ingest over loopback: simulator frames into the engine, as a ratio to bare websockets receive-and-decode.

A sender process (a websockets server pinned to one CPU) streams pre-encoded Kraken WS v2 frames, built by
the simulator's own balances channel from a seeded `DemoAccount` (status, subscribe ack, snapshot, then one
`balances` update per ledger entry, sequence +1, amounts as JSON numbers at full precision), as fast as the
client takes them. Pre-encoded, so the demo account's own cost (~200 us a step here) cannot bound the rate.
Each client run is a fresh process pinned to the other CPU, with a fresh connection:

    bare   `recv()` + `json.loads(raw, parse_float=Decimal)`, nothing else: the floor of exact-decimal ingest
    parse  `recv()` + `balance_tui.kraken.frames.parse(raw)`: the parser's share (opt-in: --variants)
    ours   the real `BalanceStream._session` loop (stale deadline, `parse`, health bookkeeping, sequence
           check, `BalanceManager.apply`) with the engine `backend.build_manager` builds from the shipped
           config, counting `ledger_entry` and `balance_update` callbacks, and the engine's supervisor task
           beside it, as `Backend.run` runs them. Only the REST client is a stand-in: one token, one `BalanceEx` reply
           (the account's holds), no network.

Variants are interleaved in each repetition (A B C, then C B A). Rates are per client CPU-second (the
client is the bottleneck, and CPU time does not count other processes' load); wall-clock rates, the
sender's CPU and the CPU other processes used during each run are printed beside them.

Compression is off on both ends by default: the figure is about our per-message work, and deflate adds
about the same (~6-7 us here) to every variant, raising the ratio without anything getting faster. The
console itself offers permessage-deflate (the websockets default) and the simulator accepts it;
`--compression deflate` measures that.

    .venv/bin/python benchmarks/stream_ingest.py        # 100,000 update frames, 5 repetitions: about 70 s
    .venv/bin/python benchmarks/stream_ingest.py --frames 200000 --variants bare,parse,ours
    .venv/bin/python benchmarks/stream_ingest.py --compression deflate

Building the frames takes most of a core for ~15 s per 100,000 (the demo account's own steps), which is
why the default is 100,000 frames rather than more; the rates do not depend on it.

The last line is the figure: `N msg/s (ratio R of bare websockets receive-and-decode)`. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from balance_tui.backend import build_manager
from balance_tui.config import DEFAULTS, load_config
from balance_tui.core import SystemClock
from balance_tui.core.breaker import CircuitBreaker
from balance_tui.core.budgets import RATE_TIERS, RestRateCounter
from balance_tui.core.events import AssetSnapshot, BalancesSnapshot, HoldAmounts, HoldsSnapshot, Source, WalletBalance
from balance_tui.kraken.frames import MAX_FRAME_BYTES, parse
from balance_tui.kraken.rest import ExtendedBalances, counts_against_breaker
from balance_tui.kraken.stream import BalanceStream
from balance_tui.sim.account import DemoAccount
from balance_tui.sim.assets import ASSETS
from balance_tui.sim.auth import TokenRegistry
from balance_tui.sim.channels import BalancesChannel
from balance_tui.sim.faults import Faults
from balance_tui.sim.wire import dumps

SENDER_CPU, CLIENT_CPU = 0, 1
VARIANTS = ("bare", "parse", "ours")
DEFAULT_VARIANTS = "bare,ours"
T0 = datetime(2026, 11, 20, tzinfo=UTC)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the frames ----------------------------------------------------------------------------------------


class _Recorder:
    """Stands in for the simulator's `ws.Connection`: keeps each frame as the text it would send."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def send(self, frame: dict[str, Any] | str, *, data: bool = False) -> bool:
        self.frames.append(frame if isinstance(frame, str) else dumps(frame))  # as Connection.send encodes
        return True


@dataclass(frozen=True)
class Feed:
    frames: list[str]  # status, subscribe ack, snapshot, then one update per ledger entry
    updates: int
    rest: ExtendedBalances  # what BalanceEx would answer at subscription time (the stream applies the holds)
    decimals: dict[str, int]  # what the Assets call would answer (the precision rule)


def build_feed(updates: int, seed: int) -> Feed:
    """The frames the simulator would send one balances subscriber while its account makes `updates`
    ledger entries. Ledger timestamps come from a stepping clock, so the bytes depend on the seed only."""
    ticks = itertools.count()
    account = DemoAccount(seed, clock=lambda: T0 + timedelta(milliseconds=250 * next(ticks)))
    wallets: dict[str, list[WalletBalance]] = {}
    for key, amount in account.wallets().items():
        wallets.setdefault(key.asset, []).append(WalletBalance(key.type, key.id, amount))
    totals = account.totals()
    rest = ExtendedBalances(
        BalancesSnapshot(tuple(AssetSnapshot(a, totals[a], tuple(w)) for a, w in wallets.items()), 0, Source.REST),
        HoldsSnapshot({asset: HoldAmounts(hold_trade=held) for asset, held in account.holds().items()}),
    )
    tokens = TokenRegistry()
    channel = BalancesChannel(account, tokens, Faults(), lambda: None)
    recorder = _Recorder()
    # What Endpoint._status sends on connect (a fixed connection id: the bytes stay reproducible).
    status = {"api_version": "v2", "connection_id": 2**63 + 12345, "system": "online", "version": "2.0.0"}
    recorder.send({"channel": "status", "type": "update", "data": [status]})
    params = {"channel": "balances", "token": tokens.issue(), "snapshot": True}
    channel.subscribe(recorder, {"method": "subscribe", "params": params, "req_id": 1}, T0)  # type: ignore[arg-type]
    header = len(recorder.frames)  # status, ack, snapshot
    while len(recorder.frames) - header < updates:
        channel.publish(account.step().ledger)
    del recorder.frames[header + updates :]
    decimals = {name: asset.decimals for name, asset in ASSETS.items()}
    return Feed(recorder.frames, updates, rest, decimals)


# -- measuring -----------------------------------------------------------------------------------------


def pin(cpu: int) -> bool:
    """Run this process on `cpu` only; False where that is not possible (then the kernel places it)."""
    if not hasattr(os, "sched_setaffinity") or cpu not in os.sched_getaffinity(0):
        return False
    os.sched_setaffinity(0, {cpu})
    return True


def _busy_ticks() -> tuple[int, int]:
    """Machine-wide (busy, steal) CPU ticks from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq, steal


def _process_ticks(pid: int | str) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Meter:
    """Wall and CPU time of this client over its timed window, plus what the sender and everyone else used."""

    def __init__(self, sender_pid: int) -> None:
        self._pids = (sender_pid, os.getppid())  # the sender, and the orchestrating parent (idle meanwhile)
        self._start = self._read()

    def _read(self) -> tuple[float, float, int, int, int, int]:
        busy, steal = _busy_ticks()
        sender, parent = (_process_ticks(pid) for pid in self._pids)
        return time.perf_counter(), time.process_time(), busy, steal, sender, parent + _process_ticks("self")

    def stop(self, messages: int) -> dict[str, float]:
        end = self._read()
        wall, cpu, busy, steal, sender, ours = (b - a for a, b in zip(self._start, end, strict=True))
        ticks = wall * CLOCK_TICKS
        return {
            "messages": messages,
            "wall": wall,
            "cpu": cpu,
            "client_share": cpu / wall,
            "sender_share": sender / ticks,
            "others": max(busy - sender - ours, 0) / ticks,  # in cores
            "steal": steal / ticks,
        }


async def _bare(url: str, compression: str | None, feed: Feed, sender_pid: int) -> dict[str, float]:
    async with connect(url, compression=compression, max_size=MAX_FRAME_BYTES) as ws:
        gc.collect()
        meter, count = Meter(sender_pid), 0
        await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "balances"}, "req_id": 1}))
        async for raw in ws:  # ends when the sender closes after its last frame
            json.loads(raw, parse_float=Decimal)
            count += 1
        return meter.stop(count)


async def _parse(url: str, compression: str | None, feed: Feed, sender_pid: int) -> dict[str, float]:
    async with connect(url, compression=compression, max_size=MAX_FRAME_BYTES) as ws:
        gc.collect()
        meter, count = Meter(sender_pid), 0
        await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "balances"}, "req_id": 1}))
        async for raw in ws:
            parse(raw)
            count += 1
        return meter.stop(count)


class _Rest:
    """What `BalanceStream._session` uses of `KrakenRest`: a token, one BalanceEx reply, the call count."""

    def __init__(self, reply: ExtendedBalances, breaker: CircuitBreaker) -> None:
        self.calls = 0
        self.breaker = breaker
        self._reply = reply

    async def websockets_token(self) -> str:
        self.calls += 1
        return "benchmark-token"

    async def fetch_balances(self) -> ExtendedBalances:
        self.calls += 1
        return self._reply


async def _ours(url: str, compression: str | None, feed: Feed, sender_pid: int) -> dict[str, float]:
    config = load_config(Path(str(DEFAULTS)), env={}).config  # the shipped defaults, whatever the cwd holds
    clock = SystemClock()
    breaker = CircuitBreaker("rest", is_failure=counts_against_breaker, clock=clock)
    rate = RestRateCounter(RATE_TIERS[config.rest.tier], clock=clock)
    rest = _Rest(feed.rest, breaker)
    manager = build_manager(config, clock, rest, breaker, rate, feed.decimals)  # type: ignore[arg-type]
    stream = BalanceStream(manager, rest, url, stale_after_s=config.feed.stale_after_s)  # type: ignore[arg-type]
    counts = {"ledger_entry": 0, "balance_update": 0}

    def counter(event: str) -> Callable[[object], None]:
        def count(_payload: object) -> None:
            counts[event] += 1

        return count

    for event in counts:
        manager.register_callback(event, counter(event))
    supervisor = asyncio.create_task(manager.run())  # as Backend.run runs it beside the feed
    async with connect(url, compression=compression, max_size=MAX_FRAME_BYTES) as ws:
        gc.collect()
        meter = Meter(sender_pid)
        with contextlib.suppress(ConnectionClosed):  # the sender closes after its last frame
            await stream._session(ws)
        result = meter.stop(manager.health.messages)
    supervisor.cancel()
    last = json.loads(feed.frames[-1])["sequence"]
    if manager.health.sequence != last or counts["ledger_entry"] != feed.updates:
        raise RuntimeError(
            f"stream stopped early: sequence {manager.health.sequence} of {last}, {counts['ledger_entry']} entries"
        )
    return result | {"observed": counts["balance_update"]}


CLIENTS: dict[str, Callable[[str, str | None, Feed, int], Any]] = {"bare": _bare, "parse": _parse, "ours": _ours}


def client_main(variant: str, url: str, compression: str | None, feed: Feed, sender_pid: int, out: Pipe) -> None:
    pinned = pin(CLIENT_CPU)
    result = asyncio.run(CLIENTS[variant](url, compression, feed, sender_pid))
    out.send(result | {"pinned": pinned})


def sender_main(frames: list[list[str]], compression: str | None, control: Pipe) -> None:
    pin(SENDER_CPU)
    asyncio.run(_send_frames(frames.pop(), compression, control))


async def _send_frames(frames: list[str], compression: str | None, control: Pipe) -> None:
    status, rest = frames[0], frames[1:]

    async def stream(ws: ServerConnection) -> None:
        await ws.send(status)  # on connect, as the simulator does
        await ws.recv()  # the subscribe request
        for text in rest:
            await ws.send(text)
        # Returning closes with 1000 after the frames already queued.

    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(control.fileno(), stop.set)
    async with serve(stream, "127.0.0.1", 0, compression=compression, max_size=MAX_FRAME_BYTES) as server:
        control.send(server.sockets[0].getsockname()[1])
        await stop.wait()


def run_client(context: Any, variant: str, url: str, compression: str | None, feed: Feed, sender_pid: int) -> dict:
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=client_main, args=(variant, url, compression, feed, sender_pid, send))
    process.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the {variant} client died (exit code {process.exitcode})") from None
    process.join()
    return result


# -- reporting -----------------------------------------------------------------------------------------


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}} .. {max(values):{fmt}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="balances update frames per run")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (each runs every variant once)")
    parser.add_argument("--seed", type=int, default=7, help="the demo account's seed")
    parser.add_argument("--compression", choices=("none", "deflate"), default="none", help="on both ends")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"comma-separated, from {VARIANTS}")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if not set(variants) <= set(VARIANTS) or "bare" not in variants:
        parser.error(f"--variants: names from {VARIANTS}, bare included (it is what the ratio divides by)")
    compression = None if args.compression == "none" else "deflate"

    started = time.perf_counter()
    feed = build_feed(args.frames, args.seed)
    update_bytes = [len(text.encode()) for text in feed.frames[3:]]
    print(
        f"frames: {len(feed.frames):,} from DemoAccount(seed={args.seed}) via the simulator's BalancesChannel "
        f"(status, ack, snapshot of {len(feed.frames[2]):,} B, {feed.updates:,} updates of "
        f"{statistics.mean(update_bytes):.0f} B mean [{min(update_bytes)} .. {max(update_bytes)}]), "
        f"built in {time.perf_counter() - started:.1f} s"
    )

    context = multiprocessing.get_context("fork")
    control, remote = context.Pipe()
    box = [feed.frames]  # emptied by the sender, so later forks (the clients) do not inherit the frames
    sender = context.Process(target=sender_main, args=(box, compression, remote))
    sender.start()
    box.clear()
    feed = Feed(feed.frames[-1:], feed.updates, feed.rest, feed.decimals)  # clients need only the last sequence
    gc.collect()
    url = f"ws://127.0.0.1:{control.recv()}"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"sender: websockets server, one send() per frame, pinned to CPU {SENDER_CPU}; clients pinned to CPU "
        f"{CLIENT_CPU}; {cpus} CPUs; permessage-deflate {'on' if compression else 'off'} on both ends"
    )

    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    try:
        for rep in range(args.repeat):
            for variant in variants if rep % 2 == 0 else variants[::-1]:
                r = run_client(context, variant, url, compression, feed, sender.pid or 0)
                results[variant].append(r)
                print(
                    f"  rep {rep + 1} {variant:5}: {r['messages'] / r['cpu']:9,.0f} msg/s per client CPU-s "
                    f"({r['messages'] / r['wall']:7,.0f} wall, {r['wall']:5.2f} s), "
                    f"{r['cpu'] / r['messages'] * 1e6:5.2f} us/msg, "
                    f"client {r['client_share']:4.0%} / sender {r['sender_share']:4.0%} of a core, "
                    f"others {r['others']:.2f} cores{'' if r['pinned'] else ' (not pinned)'}"
                    + (f", steal {r['steal']:.2f}" if r["steal"] >= 0.005 else "")
                    + (f"; {r['observed']:,} observations (conflated per asset)" if "observed" in r else ""),
                    flush=True,
                )
    finally:
        control.send("stop")
        sender.join(10)

    n = args.repeat
    print(f"\nper variant, median [min .. max], n={n}; {results['bare'][0]['messages']:,} messages per run:")
    for variant in variants:
        runs = results[variant]
        print(
            f"  {variant:5}: {spread([r['messages'] / r['cpu'] for r in runs])} msg/s per client CPU-s, "
            f"{spread([r['messages'] / r['wall'] for r in runs])} msg/s wall, "
            f"{spread([r['cpu'] / r['messages'] * 1e6 for r in runs], '.2f')} us/msg client CPU, "
            f"sender {spread([r['sender_share'] * 100 for r in runs])}% of a core"
        )
    others = [r["others"] for runs in results.values() for r in runs]
    print(f"  CPU used by other processes during the runs: {spread(others, '.2f')} cores (of {cpus})")

    ratios: dict[str, list[float]] = {}
    for variant in (v for v in variants if v != "bare"):
        cpu = [b["cpu"] / o["cpu"] for b, o in zip(results["bare"], results[variant], strict=True)]
        wall = [b["wall"] / o["wall"] for b, o in zip(results["bare"], results[variant], strict=True)]
        ratios[variant] = cpu
        print(f"  ratio {variant}/bare per repetition: {spread(cpu, '.3f')} by CPU, {spread(wall, '.3f')} by wall")
    if "ours" in variants:
        rate = statistics.median(r["messages"] / r["cpu"] for r in results["ours"])
        print(
            f"{rate:,.0f} msg/s (ratio {statistics.median(ratios['ours']):.2f} of bare websockets receive-and-decode)"
        )


if __name__ == "__main__":
    main()
