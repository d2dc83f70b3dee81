"""Headless commands on the same wiring as the TUI: `status --once`, `watch --jsonl` and `record`.

The first two print the feed's health as the console's feed panel reads it (`FeedView.read`): state, ping round
trip, message rates over 1 s and 1 min, reconnects and why, the reconnect budget left, the token's age, channels.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from balance_tui.backend import Backend, open_backend
from balance_tui.config import Config
from balance_tui.core import Balance
from balance_tui.core.health import FeedState
from balance_tui.kraken.credentials import Credentials
from balance_tui.view import FeedView

EXIT_OK, EXIT_UNHEALTHY = 0, 2


def balance_record(balance: Balance) -> dict[str, Any]:
    """A balance as JSON: amounts as exact decimal strings, times in RFC 3339 UTC."""
    return {
        "asset": balance.asset,
        "total": f"{balance.total:f}",  # fixed-point: str() would write a zero as 0E-8
        "held": f"{balance.held:f}",
        "free": f"{balance.free:f}",
        "source": balance.source.value,
        "time": balance.updated_at.isoformat(),
    }


def feed_record(backend: Backend) -> dict[str, Any]:
    """The feed's health now, as JSON: times in RFC 3339 UTC, durations in seconds or milliseconds."""
    clock = backend.manager.clock
    now = clock.now()
    feed = FeedView.read(backend, now, clock.monotonic())
    return {
        "state": feed.state.value,
        "system": feed.system or None,
        "sequence": feed.sequence,
        "messages": feed.messages,
        "rate_1s": feed.rate_1s,
        "rate_1m": None if feed.rate_1m is None else round(feed.rate_1m, 2),
        "ping_rtt_ms": None if feed.ping_rtt is None else round(feed.ping_rtt * 1000, 1),
        "reconnects": feed.reconnects,
        "reconnect_reason": feed.reconnect_reason or None,
        "budget_left": None if feed.budget_left is None else int(feed.budget_left),
        "budget_capacity": feed.budget_capacity,
        "gaps": feed.gaps,
        "token_age_s": _age(now, feed.token_at),
        "channels": list(feed.channels),
        "last_message_at": _time(feed.last_message_at),
        "holds_source": None if feed.holds_source is None else feed.holds_source.value,
        "error": feed.error or None,
    }


async def status_once(
    config: Config, credentials: Credentials | None, *, timeout: float, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """Wait for the first complete snapshot, print balances and feed health; 0 if healthy, else 2."""
    async with open_backend(config, credentials, own_session=False) as backend:
        feed = asyncio.create_task(backend.stream.run())
        snapshot = asyncio.create_task(backend.manager.wait_for_snapshot())
        try:
            await asyncio.wait({feed, snapshot}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            healthy = backend.manager.has_snapshot
            reason = "" if healthy else _no_snapshot_reason(backend, timeout)
            report = _report(backend, healthy, reason)  # before stopping the feed, so it shows the feed as it ran
        finally:
            for task in (feed, snapshot):
                task.cancel()
            await asyncio.gather(feed, snapshot, return_exceptions=True)
    if as_json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        _print_report(report, out)
    if not healthy:
        print(f"balance-tui: unhealthy: {reason}", file=sys.stderr)
    return EXIT_OK if healthy else EXIT_UNHEALTHY


@contextmanager
def stop_signals() -> Iterator[asyncio.Future[int]]:
    """The first SIGINT or SIGTERM while in the block, as a future: a long-running command stops on either
    cleanly, and `stopped_code` gives its exit status."""
    loop = asyncio.get_running_loop()
    stopped_by: asyncio.Future[int] = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda sig=sig: stopped_by.done() or stopped_by.set_result(sig))
    try:
        yield stopped_by
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def stopped_code(sig: int) -> int:
    """0 after SIGTERM (a service stopped), 130 after Ctrl+C (128 + SIGINT, the shell's convention)."""
    return EXIT_OK if sig == signal.SIGTERM else 128 + signal.SIGINT


async def watch_jsonl(config: Config, credentials: Credentials | None, out: TextIO = sys.stdout) -> int:
    """One JSON line per balance change until SIGTERM (0) or Ctrl+C (130); 2 if the feed stops for good."""
    reader_gone = asyncio.Event()

    def emit(balance: Balance) -> None:
        if reader_gone.is_set():
            return
        try:
            out.write(json.dumps({**balance_record(balance), "feed": feed_record(backend)}) + "\n")
            out.flush()
        except BrokenPipeError:
            reader_gone.set()

    async with open_backend(config, credentials, own_session=False) as backend:
        backend.manager.register_callback("balance_update", emit)  # `emit` reads `backend` from here on
        feed = asyncio.create_task(backend.run())
        gone = asyncio.create_task(reader_gone.wait())
        try:
            with stop_signals() as stopped_by:
                await asyncio.wait({feed, gone, stopped_by}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (feed, gone):
                task.cancel()
            await asyncio.gather(feed, gone, return_exceptions=True)
        health = backend.manager.health
    if stopped_by.done():
        return stopped_code(stopped_by.result())
    if reader_gone.is_set():
        raise BrokenPipeError  # the reader went away, as with `| head`: the CLI ends quietly
    print(f"balance-tui: feed {health.state.value}: {health.error}", file=sys.stderr)
    return EXIT_UNHEALTHY


async def record(
    config: Config,
    credentials: Credentials | None,
    path: Path,
    *,
    keep_hours: float,
    max_mb: float,
    out: TextIO = sys.stdout,
) -> int:
    """What the console would show, into `path`, until SIGTERM (0) or Ctrl+C (130). An observer, as `watch`
    is: it never opens, owns or ends the trading session."""
    from balance_tui.recording import Recorder

    async def engine(backend: Backend) -> None:
        await backend.run()
        # The feed stopped for good and says why; as in the console, the engine carries on over REST.
        await backend.manager.run()

    async with (
        open_backend(config, credentials, own_session=False) as backend,
        Recorder(backend, path, keep_hours=keep_hours, max_mb=max_mb) as recorder,
    ):
        running = asyncio.create_task(engine(backend))
        recording = asyncio.create_task(recorder.run())
        try:
            with stop_signals() as stopped_by:  # before the line that says they stop it
                out.write(
                    f"balance-tui: recording {backend.exchange_label} to {path} (keeping {keep_hours:g} h, at most "
                    f"{max_mb:g} MB); SIGTERM or Ctrl+C stops it\n"
                )
                out.flush()
                await asyncio.wait({running, recording, stopped_by}, return_when=asyncio.FIRST_COMPLETED)
                recorder.tick()  # the view as it stopped is the last frame
        finally:
            for task in (running, recording):
                task.cancel()
            await asyncio.gather(running, recording, return_exceptions=True)
    for task in (recording, running):  # ended before a signal: what went wrong goes up
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    return stopped_code(stopped_by.result())


def _no_snapshot_reason(backend: Backend, timeout: float) -> str:
    health = backend.manager.health
    if health.state is FeedState.FAILED:
        return health.error
    return f"no balances snapshot within {timeout:g} s" + (f" ({health.error})" if health.error else "")


def _report(backend: Backend, healthy: bool, reason: str) -> dict[str, Any]:
    return {
        "healthy": healthy,
        "reason": reason or None,
        "exchange": backend.exchange_label,
        "feed": feed_record(backend),
        "balances": [balance_record(b) for _, b in sorted(backend.manager.shown_balances().items())],
    }


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _age(now: datetime, since: datetime | None) -> float | None:
    return None if since is None else round((now - since).total_seconds(), 1)


def _print_report(report: dict[str, Any], out: TextIO) -> None:
    feed = report["feed"]
    out.write(
        f"{report['exchange']}  feed {feed['state']}  system {feed['system'] or '-'}  "
        f"seq {feed['sequence'] if feed['sequence'] is not None else '-'}  holds {feed['holds_source'] or '-'}\n"
    )
    out.write(f"{_health_line(feed)}\n")
    out.write(f"{'ASSET':<8} {'TOTAL':>24} {'HELD':>20} {'FREE':>24} SOURCE\n")
    for b in report["balances"]:
        out.write(f"{b['asset']:<8} {b['total']:>24} {b['held']:>20} {b['free']:>24} {b['source']}\n")
    with suppress(BrokenPipeError):
        out.flush()


def _health_line(feed: dict[str, Any]) -> str:
    """The feed panel's figures on one line: `-` for what is not known yet."""
    ping = "-" if feed["ping_rtt_ms"] is None else f"{feed['ping_rtt_ms']:g} ms"
    minute = "-" if feed["rate_1m"] is None else f"{feed['rate_1m']:g}/s"
    budget = "-" if feed["budget_left"] is None else f"{feed['budget_left']}/{feed['budget_capacity']} left"
    token = "-" if feed["token_age_s"] is None else f"{feed['token_age_s']:g} s old"
    why = f" (last: {feed['reconnect_reason']})" if feed["reconnect_reason"] else ""
    return (
        f"ping {ping}  rate {feed['rate_1s']}/s, {minute} over 1 min  reconnects {feed['reconnects']}{why}  "
        f"budget {budget}  token {token}  channels {', '.join(feed['channels']) or '-'}"
    )
