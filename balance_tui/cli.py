"""`balance-tui` and its subcommands. Config and credentials are checked here, before anything starts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import platformdirs

from balance_tui import __version__
from balance_tui.config import (
    APP_NAME,
    MAX_DURATION_HOURS,
    MAX_DURATION_S,
    MAX_UPDATES_PER_SECOND,
    Config,
    ConfigError,
    LoadedConfig,
    duration_problem,
    load_config,
    load_credentials,
    updates_per_second_problem,
)
from balance_tui.core.redaction import RedactingFormatter
from balance_tui.kraken.credentials import Credentials

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from textual.app import App

    from balance_tui.sim import Faults

EXIT_CONFIG = 78  # EX_CONFIG: a bad config value or command-line value; nothing started
# The store refused (bad input, conflict, failed check) or cannot be opened: the message says why, nothing was written.
EXIT_REFUSED = 1
EXIT_NO_INPUT = 66  # EX_NOINPUT: a file to read is missing, unreadable or not one this version reads
MAX_RECORDING_MB = 1_000_000
STOPPING = "SIGTERM stops it and exits 0 (a service stopped); Ctrl+C stops it the same way and exits 130 (128 + SIGINT)"


class BadArgument(Exception):
    """A command-line value outside what the option takes, or one argparse refuses (`_Parser`): the run ends
    with one line and EXIT_CONFIG, as a bad config value does. Raised by the option types rather than
    ArgumentTypeError, so the line names the option as typed (`history --hours 1e300: ...`)."""


class _Parser(argparse.ArgumentParser):
    """argparse's own refusals (an unknown option, a choice not offered, a required one missing) end as a bad
    value does: one line and EXIT_CONFIG, not its usage text and exit 2 (which `status` means as unhealthy)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        raise BadArgument(f"{where}{message}; see {self.prog} --help")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`status --json | head`): not an error, and no traceback on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # Ctrl+C while still starting (importing, migrating): no traceback
        return 128 + signal.SIGINT


def _main(argv: list[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except BadArgument as exc:
        return _fail(exc, EXIT_CONFIG)
    if args.command == "sim":
        return _run_simulator(args)
    try:
        loaded = load_config(getattr(args, "config", None))
        config = loaded.config
        if args.read_only:
            config = config.model_copy(update={"store": config.store.model_copy(update={"read_only": True})})
        if args.command == "replay":  # the recording is all it reads: no credentials, no store
            return _replay(config, args.file, mouse=not args.no_mouse)
        credentials = load_credentials(config) if config.exchange.name == "kraken" else None
    except ConfigError as exc:
        return _fail(exc, EXIT_CONFIG)
    from balance_tui.store.errors import StoreError, StoreUnavailable

    try:
        if args.command == "status":
            from balance_tui.headless import status_once

            _log_to_stderr()
            timeout = config.feed.snapshot_timeout_s if args.timeout is None else args.timeout
            return asyncio.run(status_once(config, credentials, timeout=timeout, as_json=args.json))
        if args.command == "watch":
            from balance_tui.headless import watch_jsonl

            _log_to_stderr()
            return asyncio.run(watch_jsonl(config, credentials))
        if args.command == "record":
            return _record(config, credentials, args)
        if args.command in STORE_COMMANDS:
            _log_to_stderr()
            return _store_command(config, args)
        if args.command == "serve":
            return _serve(loaded, config, args)
        if args.fresh and not _fresh_start(config):
            return EXIT_REFUSED
        return _run_tui(config, credentials, mouse=not args.no_mouse)
    except StoreUnavailable as exc:
        return _fail(f"{exc} ({_store_origin(loaded)})", EXIT_REFUSED)
    except StoreError as exc:
        return _fail(exc, EXIT_REFUSED)


def _fail(error: object, code: int) -> int:
    """The error on stderr, each of its lines (a config file with several problems has one per problem) prefixed."""
    for line in str(error).splitlines():
        print(f"balance-tui: {line}", file=sys.stderr)
    return code


def _record(config: Config, credentials: Credentials | None, args: argparse.Namespace) -> int:
    from balance_tui.headless import record
    from balance_tui.recording import RecordingError, default_path

    _log_to_stderr()
    try:
        return asyncio.run(
            record(config, credentials, args.out or default_path(), keep_hours=args.keep_hours, max_mb=args.max_mb)
        )
    except RecordingError as exc:
        return _fail(f"record: {exc}", EXIT_REFUSED)


def _store_origin(loaded: LoadedConfig) -> str:
    """Where the store's URL came from, for a store that cannot be opened."""
    from balance_tui.store.engine import DATABASE_URL_ENV

    if os.environ.get(DATABASE_URL_ENV):
        return f"from ${DATABASE_URL_ENV}"
    return f"from [store] database_url in {loaded.path or 'the shipped defaults'}"


STORE_COMMANDS = ("db", "adjust", "history", "export")


def _store_command(config: Config, args: argparse.Namespace) -> int:
    """The store's commands: errors print one clear line and exit 1, with nothing half-written."""
    from balance_tui.store.engine import database_url
    from balance_tui.store.errors import StoreError
    from balance_tui.store.migrate import open_store
    from balance_tui.store.money import AmountError

    # Only `db migrate` makes a new store: the others on a mistyped SQLite path would answer from an empty one.
    create = args.command == "db" and args.action == "migrate"
    engine = open_store(database_url(config.database_url), read_only=config.store.read_only, create=create)
    try:
        command = {"db": _db, "adjust": _adjust, "history": _history, "export": _export}[args.command]
        return command(engine, config, args)
    except (StoreError, AmountError) as exc:
        print(f"balance-tui: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        engine.dispose()


def _db(engine: Engine, config: Config, args: argparse.Namespace) -> int:
    from balance_tui.store import maintenance
    from balance_tui.store.migrate import current_revision

    if args.action == "migrate":  # open_store has migrated it
        print(f"schema at revision {current_revision(engine)} (newest) in {engine.url.render_as_string()}")
        return 0
    if args.action == "backup":
        name = f"balance-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        if engine.url.get_backend_name() == "sqlite":
            default = Path(engine.url.database or ".").parent / "backups" / f"{name}.db"
        else:
            default = Path(f"{name}.dump")  # pg_dump's custom format: restore with pg_restore
        print(f"backup written to {maintenance.backup(engine, args.output or default)}")
        return 0
    report = maintenance.verify(engine)
    counts = ", ".join(f"{n} {name}" for name, n in report.checked.items())
    for problem in report.problems:
        print(f"problem: {problem}")
    print(f"{'ok' if report.ok else f'{len(report.problems)} problem(s)'}: checked {counts or 'the file'}")
    return 0 if report.ok else EXIT_REFUSED


def _adjust(engine: Engine, config: Config, args: argparse.Namespace) -> int:
    """`balance-tui adjust`: to the latest trading session, with or without a console running.

    The rule (sessions.adjust_latest, one transaction, so a kill leaves either all of it or none):
    - a console runs (an active session with a live owner): the adjustment goes to its session, and the
      console shows it as one made at its own keyboard;
    - no console runs: the session is opened as a console would open it (continuing the latest session that
      ended within [store] resume_window_hours, else a new one), the adjustment is applied, and the session is
      closed at once. The sessions list shows a closed session holding this adjustment, never an `active` one
      left for a dead pid to be marked interrupted; the next console continues it and starts from the
      adjusted balances;
    - refused when [store] resume_from_last_balance is false and no console runs (the next console would not
      carry the adjustment over): the message says to adjust from the console instead.
    The output names the session written to and how it was found. `--set` on an asset the session has never
    held sets it from zero, as a delta does.
    """
    from balance_tui.kraken.assets import asset_code
    from balance_tui.store import books, sessions
    from balance_tui.store.identity import Operator
    from balance_tui.store.money import canonical, parse_amount
    from balance_tui.store.tables import AdjustmentKind

    amount, asset = parse_amount(args.amount), asset_code(args.asset)
    kind = AdjustmentKind.SET if args.set else AdjustmentKind.DELTA
    done_in = sessions.adjust_latest(
        engine,
        books.adjustment_request(kind, asset, amount, args.reason, args.key or uuid.uuid4().hex),
        exchange=config.exchange.name,
        mode="paper" if config.exchange.name == "sim" else "live",
        now=datetime.now(UTC),
        operator=Operator.current(),
        rules=sessions.SessionRules.of(config.store),
    )
    result, done = done_in.result, done_in.result.adjustment
    state = "already applied" if result.already_applied else "applied"
    print(
        f"{state}: adjustment #{done.id} {done.asset} {canonical(done.before)} -> {canonical(done.after)} "
        f"(delta {canonical(done.delta)}) by {done.operator} in session {done_in.session.id}, "
        f"key {done.idempotency_key}"
    )
    if not result.already_applied and not done_in.where.startswith(f"session {done_in.session.id}, run by"):
        print(f"wrote to {done_in.where}")
    if note := _not_held(engine, config, asset):
        print(f"balance-tui: note: {note}", file=sys.stderr)
    return 0


def _not_held(engine: Engine, config: Config, asset: str) -> str | None:
    """Why the exchange account seems not to hold `asset`, from the balances consoles recorded; None if it does.

    An asset the exchange lists is adjusted whether or not the account holds it (a deposit on its way is
    booked before it lands), but the operator is told, since it usually means a typo or the wrong asset."""
    from balance_tui.store.history import latest_sample
    from balance_tui.store.money import canonical

    last = latest_sample(engine, asset)
    if last is None:
        kept = config.store.history_retention_hours
        seen = f"no console has recorded a {asset} balance in the last {kept:g} h"
    elif last.total == 0:
        seen = f"its last recorded balance is {canonical(last.total)}, at {last.observed_at:%Y-%m-%dT%H:%M:%SZ}"
    else:
        return None
    return f"the exchange account does not hold {asset} ({seen}); the books track it anyway"


def _history(engine: Engine, config: Config, args: argparse.Namespace) -> int:
    from balance_tui.kraken.assets import asset_code
    from balance_tui.store import books
    from balance_tui.store.history import bucket_width, history, latest_sample
    from balance_tui.store.money import canonical

    asset, until = asset_code(args.asset), datetime.now(UTC)
    read = history(engine, asset, since=until - timedelta(hours=args.hours), until=until, points=args.points)
    where = f"in the last {args.hours:g} h"
    if not read.points:
        if asset not in (known := books.asset_decimals(engine)) and latest_sample(engine, asset) is None:
            raise books.unknown_asset(asset, known)  # a typo, not an asset without samples
        print(f"no samples of {asset} {where}")
        return 0
    if read.bucket is None:
        print(f"{asset}: {read.samples} sample{'s' if read.samples != 1 else ''} {where}, all shown")
    else:
        raised = f"; --points {args.points} raised to {read.budget}, one per hour" if read.budget > args.points else ""
        print(
            f"{asset}: {read.samples} samples {where} merged into {len(read.points)} points, "
            f"the last of each {bucket_width(read.bucket)} bucket{raised}"
        )
    for point in read.points:
        total, held = canonical(point.total), canonical(point.held)
        print(f"{point.observed_at:%Y-%m-%dT%H:%M:%SZ}  {total}  held {held}  {point.source}")
    return 0


def _export(engine: Engine, config: Config, args: argparse.Namespace) -> int:
    from balance_tui.store.export import export

    since = datetime.now(UTC) - timedelta(hours=args.hours) if args.hours is not None else None
    counts = export(engine, sys.stdout, fmt=args.format, since=since)
    print(f"exported {counts['adjustments']} adjustments and {counts['samples']} samples", file=sys.stderr)
    return 0


def _fresh_start(config: Config) -> bool:
    """`--fresh`: after the operator types "fresh", the next session starts without carrying anything over."""
    from balance_tui.store import sessions
    from balance_tui.store.engine import database_url
    from balance_tui.store.migrate import open_store

    exchange = config.exchange.name
    print(
        f"A fresh start opens a new trading session on {exchange}: the current one is closed and its balances "
        "and open positions are not carried over.\nType 'fresh' to confirm: ",
        end="",
        flush=True,
    )
    if sys.stdin.readline().strip() != "fresh":
        print("balance-tui: not confirmed; nothing changed", file=sys.stderr)
        return False
    engine = open_store(database_url(config.database_url))  # a StoreError is the caller's to report
    try:
        retired = sessions.retire_for_fresh_start(engine, exchange=exchange, now=datetime.now(UTC))
    finally:
        engine.dispose()
    print(f"fresh start: session(s) {', '.join(map(str, retired)) or 'none'} will not be continued")
    return True


def _run_tui(config: Config, credentials: Credentials | None, *, mouse: bool) -> int:
    from balance_tui.tui.app import BalanceApp

    return _run_app(lambda: BalanceApp(config, credentials), mouse=mouse)


def _replay(config: Config, path: Path | None, *, mouse: bool) -> int:
    """`replay [FILE]`: the console on a recording; a file it cannot replay is one line naming it."""
    from balance_tui.recording import Recording, RecordingError, default_path
    from balance_tui.tui.replay import ReplayApp

    try:
        recording = Recording.open(path or default_path())
    except RecordingError as exc:
        return _fail(exc, EXIT_NO_INPUT)
    with recording:
        return _run_app(lambda: ReplayApp(config, recording), mouse=mouse)


def _run_app(build: Callable[[], App[None]], *, mouse: bool) -> int:
    from balance_tui.tui.themes import ThemeError

    log_file = Path(platformdirs.user_log_dir(APP_NAME)) / "balance-tui.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    _log_to(logging.FileHandler(log_file), logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = build()
    except ThemeError as exc:  # a theme file that cannot be used (load_config checked the name)
        return _fail(exc, EXIT_CONFIG)
    app.run(mouse=mouse)
    return app.return_code or 0


def _serve(loaded: LoadedConfig, config: Config, args: argparse.Namespace) -> int:
    """`serve`: the console in a browser, one console process per tab (balance_tui/serve.py)."""
    from balance_tui.serve import ConsoleServer, UnknownHost, console_command, loopback_problem, serve
    from balance_tui.store.engine import database_url
    from balance_tui.store.migrate import open_store

    where = f"serve --host {args.host}"
    try:
        problem = loopback_problem(args.host)
    except UnknownHost as exc:
        return _fail(f"{where}: {exc}", EXIT_CONFIG)
    if problem is not None and not args.public:
        return _fail(
            f"{where}: {problem}, and the console has no login of its own: add --public to serve it beyond this "
            f"machine, or keep loopback and tunnel (ssh -L {args.port or 8000}:127.0.0.1:{args.port or 8000} HOST)",
            EXIT_CONFIG,
        )
    read_only = config.store.read_only or not args.allow_write
    _log_to_stderr()
    # The store once, here: one that cannot be opened stops the server before a tab shows the error, and
    # a new one is migrated (as every writable command does) so read-only consoles can open it.
    open_store(database_url(config.database_url), read_only=config.store.read_only).dispose()
    command = console_command(loaded.path, read_only=read_only)
    server = ConsoleServer(command, host=args.host, port=args.port, public=args.public)

    def started(url: str, port: int) -> None:
        if problem is not None:
            who = "can adjust balances" if not read_only else "sees the balances"
            print(
                f"balance-tui: warning: serving on {url} ({problem}) with no login and no TLS: anyone who can "
                f"reach it {who}; prefer loopback and an SSH tunnel, or a reverse proxy with both",
                file=sys.stderr,
                flush=True,
            )
        if not read_only:
            writes = "consoles that may write (--allow-write), recorded as this server's account"
        elif config.store.read_only:
            writes = "read-only consoles"
        else:
            writes = "read-only consoles (--allow-write lets them adjust)"
        lines = [
            f"Balance Console served on {url}: {writes}",
            "  Each browser tab runs its own console process on this config and store:",
            f"    {command}",
        ]
        if problem is None:
            target = f"[{args.host}]" if ":" in args.host else args.host
            lines.append(f"  From another machine: ssh -L {port}:{target}:{port} THIS-HOST, then open {url}")
        lines.append("Ctrl+C stops it and every console it started.")
        print("\n".join(lines), flush=True)

    try:
        return asyncio.run(serve(server, started=started))
    except OSError as exc:  # asyncio words it "error while attempting to bind on address ...": the errno says it
        reason = os.strerror(exc.errno) if exc.errno else exc
        return _fail(f"serve --port {args.port}: cannot listen on {args.host}: {reason}", EXIT_CONFIG)
    except KeyboardInterrupt:  # a second Ctrl+C while the consoles were stopping
        return 128 + signal.SIGINT


def _run_simulator(args: argparse.Namespace) -> int:
    from balance_tui.sim import Faults, FaultSpecError

    try:
        faults = Faults.parse(args.faults or "")
    except FaultSpecError as exc:
        print(f"balance-tui: --faults: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _log_to(logging.StreamHandler(), logging.WARNING, "balance-tui sim: %(levelname)s %(name)s: %(message)s")
    return _interruptible(_serve_simulator(args, faults))


async def _serve_simulator(args: argparse.Namespace, faults: Faults) -> int:
    from balance_tui.sim import Simulator

    sim = Simulator(
        seed=args.seed,
        port=args.port,
        api_key=args.key,
        api_secret=args.secret,
        updates_per_second=args.updates_per_second,
        faults=faults,
        nonce_window=args.nonce_window,
    )
    try:
        await sim.start()
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"balance-tui: sim --port {args.port}: cannot listen on 127.0.0.1: {reason}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        print(
            f"Simulated Kraken exchange (seed {args.seed}) on {sim.rest_url}\n"
            f"  REST base:        {sim.rest_url}\n"
            f"  WebSocket v2:     {sim.ws_private_url} (private), {sim.ws_public_url} (public)\n"
            + (f"  Faults:           {args.faults}\n" if args.faults else "")
            + "Demo credentials (they work only here):\n"
            f"  export KRAKEN_API_KEY='{sim.api_key}'\n"
            f"  export KRAKEN_API_SECRET='{sim.api_secret}'\n"
            'Point a console at it with [exchange] name = "kraken", rest_url, ws_private_url and ws_public_url'
            " as above.\n"
            "Ctrl+C stops it.",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await sim.stop()
    return 0


def _interruptible(main: Coroutine[Any, Any, int]) -> int:
    """`sim`: Ctrl+C is the way to end it, as its banner says, so it cleans up and exits 0. A stand-in
    exchange, not a service or a pipeline's stage, unlike `watch` and `record` (see STOPPING)."""
    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
        return 0


def _log_to_stderr() -> None:
    _log_to(logging.StreamHandler(), logging.WARNING, "balance-tui: %(levelname)s %(name)s: %(message)s")


def _log_to(handler: logging.Handler, level: int, layout: str) -> None:
    """One handler on the root logger, masking secrets in every line it writes (tracebacks included)."""
    handler.setFormatter(RedactingFormatter(layout))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO, websockets every frame at DEBUG: neither belongs in an operator's log.
    for name in ("httpx", "httpcore", "websockets", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _duration(option: str, unit: str, limit: int) -> Callable[[str], float]:
    """An argparse type for a duration: finite, above 0, at most 10 years (as in the config)."""

    def parse(text: str) -> float:
        try:
            value = float(text)  # a duration, not money
        except ValueError:
            value = math.nan
        if problem := duration_problem(value, unit, limit):
            raise BadArgument(f"{option} {text}: {problem}")
        return value

    return parse


def _updates_per_second(text: str) -> float:
    """`sim --updates-per-second`: the rule of `[sim] updates_per_second`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if problem := updates_per_second_problem(value):
        raise BadArgument(f"sim --updates-per-second {text}: {problem}")
    return value


def _megabytes(text: str) -> float:
    """`record --max-mb`: a size above 0, at most a terabyte."""
    try:
        value = float(text)  # a size, not money
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_RECORDING_MB):
        raise BadArgument(f"record --max-mb {text}: expected megabytes above 0 and at most {MAX_RECORDING_MB}")
    return value


def _whole_number(option: str, expected: str, low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for a whole number as TOML writes one (ASCII digits, an optional '-'; not int()'s
    '١٢', '1_000' or ' 7 '), from `low` to `high` where given."""

    def parse(text: str) -> int:
        digits = text.removeprefix("-")
        try:
            value = int(text) if digits.isascii() and digits.isdigit() else None
        except ValueError:  # more digits than int() converts
            value = None
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            raise BadArgument(f"{option} {text}: {expected}")
        return value

    return parse


def _points(text: str) -> int:
    from balance_tui.store.history import MAX_POINTS

    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_POINTS):
        raise BadArgument(f"history --points {text}: expected 1 to {MAX_POINTS} points")
    return int(text)


def _port_option(parser: argparse.ArgumentParser, command: str, default: int, what: str) -> None:
    parser.add_argument(
        "--port",
        type=_whole_number(f"{command} --port", "a port is 0-65535 (0 picks a free one)", 0, 65535),
        default=default,
        help=f"{what} (default {default}; 0 picks a free one)",
    )


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
    parser = _Parser(
        prog="balance-tui",
        parents=[common],
        description="Operator console for a trading bot's Kraken balances. With no command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse (less traffic over SSH)")
    parser.add_argument(
        "--read-only", action="store_true", help="refuse every write to the store (as [store] read_only = true)"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start a new trading session instead of continuing the last one (asks to confirm)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser("status", parents=[common], help="print balances and feed health, then exit")
    status.add_argument("--once", action="store_true", required=True, help="take one snapshot and exit (required)")
    status.add_argument("--json", action="store_true", help="machine-readable output; amounts as exact decimal strings")
    status.add_argument(
        "--timeout",
        type=_duration("status --timeout", "seconds", MAX_DURATION_S),
        metavar="S",
        help="seconds to wait for the first snapshot (default: [feed] snapshot_timeout_s)",
    )

    watch = commands.add_parser(
        "watch",
        parents=[common],
        help="print one JSON line per balance change until SIGTERM or Ctrl+C",
        epilog=STOPPING,
    )
    watch.add_argument("--jsonl", action="store_true", required=True, help="JSON lines on stdout (required)")

    record = commands.add_parser(
        "record",
        parents=[common],
        help="record what the console would show (balances, feed health and events, issues, adjustments) "
        "until SIGTERM or Ctrl+C, with no terminal; replay shows it",
        epilog=STOPPING,
    )
    record.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="recording to write, continued if it exists (default: recordings/recording.sqlite in the data dir)",
    )
    record.add_argument(
        "--keep-hours",
        type=_duration("record --keep-hours", "hours", MAX_DURATION_HOURS),
        default=168.0,
        metavar="H",
        help="drop what is older than this (default 168, a week)",
    )
    record.add_argument(
        "--max-mb",
        type=_megabytes,
        default=500.0,
        metavar="M",
        help="keep the file under this many megabytes, dropping the oldest first (default 500)",
    )

    db = commands.add_parser("db", parents=[common], help="the store: migrate, verify or back it up")
    db_actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    db_actions.add_parser("migrate", parents=[common], help="bring the schema to the newest revision")
    db_actions.add_parser(
        "verify", parents=[common], help="check the database and that every balance adds up (exit 1 if not)"
    )
    backup = db_actions.add_parser("backup", parents=[common], help="a consistent copy, safe while consoles run")
    backup.add_argument("--output", type=Path, metavar="PATH", help="file to write (default: a new timestamped one)")

    adjust = commands.add_parser(
        "adjust",
        parents=[common],
        help="change a balance of the latest trading session, with a reason (audited); with no console running, "
        "the session is continued for it and closed again",
    )
    adjust.add_argument("asset", help="asset, e.g. USD or BTC")
    adjust.add_argument("amount", help="exact decimal, e.g. 12.5 or -0.25 (with --delta)")
    adjust.add_argument("--reason", required=True, help="why; recorded with your account, SSH origin and terminal")
    how = adjust.add_mutually_exclusive_group()
    how.add_argument("--set", action="store_true", help="set the balance to AMOUNT")
    how.add_argument("--delta", action="store_true", help="add AMOUNT to the balance (the default)")
    adjust.add_argument(
        "--key", metavar="KEY", help="idempotency key: rerunning with the same key applies it at most once"
    )

    history = commands.add_parser("history", parents=[common], help="print an asset's recorded balance history")
    history.add_argument("asset")
    history.add_argument(
        "--hours",
        type=_duration("history --hours", "hours", MAX_DURATION_HOURS),
        default=24.0,
        metavar="N",
        help="how far back (default 24)",
    )
    history.add_argument(
        "--points",
        type=_points,
        default=60,
        metavar="N",
        help="at most this many points, raised to one per hour the data covers; more samples are merged (default 60)",
    )

    export = commands.add_parser(
        "export", parents=[common], help="adjustments and history samples on stdout, amounts as exact decimals"
    )
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument(
        "--hours",
        type=_duration("export --hours", "hours", MAX_DURATION_HOURS),
        metavar="N",
        help="only samples of the last N hours (default all)",
    )

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the console to a browser (textual-serve), one console per tab"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; one that is not loopback needs --public)",
    )
    _port_option(serve, "serve", 8000, "port")
    serve.add_argument(
        "--public",
        action="store_true",
        help="allow a --host that is not loopback: there is no login, so anyone who reaches it sees the console",
    )
    serve.add_argument(
        "--allow-write",
        action="store_true",
        help="let the served consoles write (adjust balances, own the trading session); read-only by default",
    )

    replay = commands.add_parser(
        "replay",
        parents=[common],
        help="open the console on a recording: play, pause, step and jump through it (read-only)",
    )
    replay.add_argument(
        "file",
        type=Path,
        nargs="?",
        metavar="FILE",
        help="a recording (default: where `record` writes without --out, recordings/recording.sqlite in the data dir)",
    )

    sim = commands.add_parser("sim", help="run the simulated Kraken exchange on its own")
    _port_option(sim, "sim", 8765, "loopback port")
    sim.add_argument(
        "--seed",
        type=_whole_number("sim --seed", "expected a whole number, e.g. 7"),
        default=7,
        help="same seed, same account and activity (default 7)",
    )
    sim.add_argument("--key", help="demo API key to accept (default: generated)")
    sim.add_argument("--secret", help="demo API secret, base64 (default: generated)")
    sim.add_argument(
        "--updates-per-second",
        type=_updates_per_second,
        default=2.0,
        metavar="R",
        help=f"ledger activity rate, 0 to {MAX_UPDATES_PER_SECOND} a second (default 2)",
    )
    sim.add_argument(
        "--faults",
        metavar="SPEC",
        help="failures to inject, e.g. 'drop-every=50,refuse=429x3,rest=503x2' (see balance_tui/sim/faults.py)",
    )
    sim.add_argument(
        "--nonce-window",
        type=_whole_number("sim --nonce-window", "expected a whole number of nonce ticks, 0 or more", 0),
        default=0,
        metavar="N",
        help="accept nonces up to N below the last (default 0)",
    )
    return parser
