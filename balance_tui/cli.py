"""`balance-tui` and its subcommands. Config and credentials are checked here, before anything starts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import platformdirs

from balance_tui import __version__
from balance_tui.config import APP_NAME, Config, ConfigError, load_config, load_credentials
from balance_tui.kraken.credentials import Credentials

EXIT_CONFIG = 78  # EX_CONFIG: nothing started


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`status --json | head`): not an error, and no traceback on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sim":
        return _interruptible(_run_simulator(args))
    try:
        config = load_config(getattr(args, "config", None)).config
        credentials = load_credentials(config) if config.exchange.name == "kraken" else None
    except ConfigError as exc:
        print(f"balance-tui: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "status":
        from balance_tui.headless import status_once

        _log_to_stderr()
        timeout = args.timeout or config.feed.snapshot_timeout_s
        return asyncio.run(status_once(config, credentials, timeout=timeout, as_json=args.json))
    if args.command == "watch":
        from balance_tui.headless import watch_jsonl

        _log_to_stderr()
        return _interruptible(watch_jsonl(config, credentials))
    return _run_tui(config, credentials, mouse=not args.no_mouse)


def _run_tui(config: Config, credentials: Credentials | None, *, mouse: bool) -> int:
    from balance_tui.tui.app import BalanceApp
    from balance_tui.tui.themes import ThemeError

    log_file = Path(platformdirs.user_log_dir(APP_NAME)) / "balance-tui.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _quiet_libraries()
    try:
        app = BalanceApp(config, credentials)
    except (ConfigError, ThemeError) as exc:
        print(f"balance-tui: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app.run(mouse=mouse)
    return app.return_code or 0


async def _run_simulator(args: argparse.Namespace) -> int:
    from balance_tui.sim import Simulator

    sim = Simulator(
        seed=args.seed,
        port=args.port,
        api_key=args.key,
        api_secret=args.secret,
        updates_per_second=args.updates_per_second,
    )
    await sim.start()
    try:
        print(
            f"Simulated Kraken exchange (seed {args.seed}) on {sim.rest_url}\n"
            f"  REST base:        {sim.rest_url}\n"
            f"  WebSocket v2:     {sim.ws_private_url}\n"
            "Demo credentials (they work only here):\n"
            f"  export KRAKEN_API_KEY='{sim.api_key}'\n"
            f"  export KRAKEN_API_SECRET='{sim.api_secret}'\n"
            'Point a console at it with [exchange] name = "kraken", rest_url and ws_private_url as above.\n'
            "Ctrl+C stops it.",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await sim.stop()
    return 0


def _interruptible(main: Coroutine[Any, Any, int]) -> int:
    """Ctrl+C is the normal way to end a long-running command: clean up, exit 0."""
    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
        return 0


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.WARNING, format="balance-tui: %(levelname)s %(name)s: %(message)s")
    _quiet_libraries()


def _quiet_libraries() -> None:
    # httpx logs every request at INFO, websockets every frame at DEBUG: neither belongs in an operator's log.
    for name in ("httpx", "httpcore", "websockets", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    # SUPPRESS: a subcommand's copy of --config must not reset one given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file laid over the shipped defaults",
    )
    parser = argparse.ArgumentParser(
        prog="balance-tui",
        parents=[common],
        description="Operator console for a trading bot's Kraken balances. With no command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse (less traffic over SSH)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser("status", parents=[common], help="print balances and feed health, then exit")
    status.add_argument("--once", action="store_true", required=True, help="take one snapshot and exit (required)")
    status.add_argument("--json", action="store_true", help="machine-readable output; amounts as exact decimal strings")
    status.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="seconds to wait for the first snapshot (default: [feed] snapshot_timeout_s)",
    )

    watch = commands.add_parser(
        "watch", parents=[common], help="print one JSON line per balance change until interrupted"
    )
    watch.add_argument("--jsonl", action="store_true", required=True, help="JSON lines on stdout (required)")

    sim = commands.add_parser("sim", help="run the simulated Kraken exchange on its own")
    sim.add_argument("--port", type=int, default=8765, help="loopback port (default 8765; 0 picks a free one)")
    sim.add_argument("--seed", type=int, default=7, help="same seed, same account and activity (default 7)")
    sim.add_argument("--key", help="demo API key to accept (default: generated)")
    sim.add_argument("--secret", help="demo API secret, base64 (default: generated)")
    sim.add_argument(
        "--updates-per-second", type=float, default=2.0, metavar="R", help="ledger activity rate (default 2)"
    )
    return parser
