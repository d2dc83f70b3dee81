"""Writers killed with SIGKILL at random moments: nothing acknowledged is lost, nothing is half-written.

Per database (SQLite, and PostgreSQL when BALANCE_TUI_TEST_PG_URL names one), with a seeded random:
- consoles (tests/reliability/crash_console.py: the composition root owning the session, heartbeating it,
  its history writer recording the simulator's feed) are killed at a random moment, some before their
  session is open; the next console must continue the killed one's session, marked interrupted at its
  last heartbeat;
- every other round, a console is killed the moment its history writer says it began a flush (after a
  random number of flushes): the store then holds every sample of the flushes it finished and all or none
  of the one in flight, never part of it;
- `balance-tui adjust ... --key K` processes, each with a fresh key recorded before launch, are killed
  after a random delay around the time a run takes, while a console runs (the adjustment goes to its
  session) and while none runs (the CLI opens, adjusts and closes a session in one transaction);
after every kill `db verify` (store.maintenance.verify) passes; an adjustment whose command exited 0 is
in the store exactly once, a killed one at most once, and resubmitting a killed one's key through the CLI
answers applied or already applied and leaves it there exactly once; no `active` session is left when no
console runs. At the end the books' USD equals the sum of every adjustment recorded (carried from session
to session), and the counts are printed (run with -s to see them).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from select import select as wait_readable

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col
from sqlmodel import select as sql_select

from balance_tui import cli
from balance_tui.store import books, sessions
from balance_tui.store.engine import reading
from balance_tui.store.maintenance import verify
from balance_tui.store.tables import BalanceAdjustment, BalanceSample, SessionStatus, TradingSession
from tests.conftest import write_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SEED = 11
CONSOLE_ROUNDS = 14  # console kills per database, besides those during a flush
FLUSH_ROUND_EVERY = 2  # after every 2nd console round, one killed while its history writer flushes
MAX_ADJUSTS_PER_CONSOLE = 6  # adjust runs against a console before it is killed
ADJUST_KILLS_WITHOUT_CONSOLE = 20
MIN_KILLS = 50  # per database; the last console round adds one
READY_TIMEOUT_S = 30.0


@dataclass
class Counts:
    console_kills: int = 0
    console_kills_before_open: int = 0
    flush_kills: int = 0  # consoles killed once their history writer began a transaction
    flush_rolled_back: int = 0  # ... of which the store holds none of the batch in flight
    flush_committed: int = 0  # ... all of it (the commit won the race with the signal)
    resumed_interrupted: int = 0
    adjust_runs: int = 0
    adjust_kills: int = 0
    exits_0: int = 0
    found_once: int = 0
    killed_found: int = 0
    resubmitted_applied: int = 0
    resubmitted_already: int = 0
    verify_ok: int = 0
    samples: int = 0
    killed_keys: list[tuple[str, Decimal, str]] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return self.console_kills + self.adjust_kills


class Crash:
    def __init__(self, url: str, engine: Engine, home: Path, rng: random.Random) -> None:
        self.engine, self.rng, self.home = engine, rng, home
        self.config = write_config(
            home / "config.toml",
            {"sim": {"updates_per_second": 20.0}, "store": {"database_url": url, "session_lease_s": 3.0}},
        )
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.env.update(
            PYTHONPATH=str(REPO),
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_STATE_HOME=str(home / "state"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CACHE_HOME=str(home / "cache"),
        )
        self.counts = Counts()
        self.serial = 0
        self.console_pids: set[int] = set()
        self.console_sessions: list[int] = []  # opened by consoles, all killed
        self.adjust_s = 0.8  # how long an adjust run takes; measured as the test goes

    # --- checks after every kill -------------------------------------------------------------------------
    def verified(self) -> None:
        report = verify(self.engine)
        assert report.ok, report.problems
        self.counts.verify_ok += 1

    def stored(self, key: str) -> int:
        with reading(self.engine) as db:
            return db.exec(
                sql_select(func.count()).select_from(BalanceAdjustment).where(BalanceAdjustment.idempotency_key == key)
            ).one()

    # --- adjust ------------------------------------------------------------------------------------------
    def adjust(self, *, console_running: bool) -> None:
        self.serial += 1
        key = f"crash-{self.rng.getrandbits(48):012x}-{self.serial}"  # recorded before launch
        amount = Decimal(self.rng.randint(1, 5000)) / 100
        reason = f"crash test {self.serial}"
        argv = ["adjust", "USD", f"{amount}", "--reason", reason, "--key", key, "--config", str(self.config)]
        delay = self.rng.uniform(0.6, 1.25) * self.adjust_s
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "balance_tui", *argv],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate()
        self.counts.adjust_runs += 1
        if proc.returncode == 0:
            self.adjust_s = 0.8 * self.adjust_s + 0.2 * (time.monotonic() - started)
            assert out.startswith("applied: "), out
            self.counts.exits_0 += 1
            assert self.stored(key) == 1, f"{key} exited 0 but is stored {self.stored(key)} times"
            self.counts.found_once += 1
        else:
            assert proc.returncode == -signal.SIGKILL, f"adjust exited {proc.returncode}: {err}"
            self.counts.adjust_kills += 1
            self.adjust_s *= 1.04  # a busier machine: the delays follow how long a run takes, killing about half
            found = self.stored(key)
            assert found <= 1
            self.counts.killed_found += found
            self.counts.killed_keys.append((key, amount, reason))
        self.verified()
        left = sessions.active(self.engine, "sim")  # a killed console's, until someone sweeps it; never an adjust's
        assert left is None or left.owner_pid != proc.pid, f"adjust (pid {proc.pid}) left session {left} active"
        if not console_running and left is not None:
            assert left.owner_pid in self.console_pids

    def resubmit_killed(self) -> None:
        """Each killed adjustment again, with its key, through the CLI's entry point (in this process)."""
        root = logging.getLogger()
        handlers = list(root.handlers)
        for key, amount, reason in self.counts.killed_keys:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = cli.main(
                    ["adjust", "USD", f"{amount}", "--reason", reason, "--key", key, "--config", str(self.config)]
                )
            root.handlers[:] = handlers
            assert code == 0, out.getvalue()
            text = out.getvalue()
            if text.startswith("already applied: "):
                self.counts.resubmitted_already += 1
            else:
                assert text.startswith("applied: "), text
                self.counts.resubmitted_applied += 1
            assert self.stored(key) == 1

    # --- console -----------------------------------------------------------------------------------------
    def start_console(self, *flags: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash_console", str(self.config), *flags],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=(self.home / "console.log").open("a"),
            text=True,
        )
        self.console_pids.add(proc.pid)
        return proc

    def latest_session(self) -> TradingSession | None:
        previous = sessions.latest(self.engine, "sim", limit=1)
        return previous[0] if previous else None

    def stored_samples(self) -> int:
        with reading(self.engine) as db:
            return db.exec(sql_select(func.count()).select_from(BalanceSample)).one()

    def console_round(self, *, with_adjusts: bool) -> None:
        before = self.latest_session()
        proc = self.start_console()
        try:
            if not with_adjusts:  # a kill at a random moment of the start
                time.sleep(self.rng.uniform(0.1, 1.2))
                opened = _line(proc, timeout=0)
            else:
                opened = _line(proc, timeout=READY_TIMEOUT_S)
                assert opened is not None, "the console did not open its session"
            if opened is not None:
                self.check_opened(before, opened)
                self.console_sessions.append(opened["session"])
                if self.rng.random() < 0.5:  # killed at a random moment while adjustments run against its session
                    timer = threading.Timer(self.rng.uniform(0.0, 2.5), proc.send_signal, (signal.SIGKILL,))
                    timer.start()
                    for _ in range(MAX_ADJUSTS_PER_CONSOLE if with_adjusts else 0):
                        if proc.poll() is not None:
                            break
                        self.adjust(console_running=True)
                    timer.join()
                else:  # or after them, with no adjustment in flight: the next console is the one to find it dead
                    for _ in range(self.rng.randint(1, 3) if with_adjusts else 0):
                        self.adjust(console_running=True)
                    time.sleep(self.rng.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.counts.console_kills += 1
        self.counts.console_kills_before_open += opened is None
        self.verified()

    def flush_round(self) -> None:
        """A console killed as soon as its history writer begins a flush with samples in it."""
        before, stored_before = self.latest_session(), self.stored_samples()
        proc = self.start_console("--report-flushes")
        try:
            opened = _line(proc, timeout=READY_TIMEOUT_S)
            assert opened is not None, "the console did not open its session"
            self.check_opened(before, opened)
            self.console_sessions.append(opened["session"])
            let_pass, finished = self.rng.randint(0, 3), 0
            while True:
                line = _line(proc, timeout=READY_TIMEOUT_S)
                assert line is not None, "the console's history writer reported no flush"
                if "flushed" in line:
                    finished += line["flushed"]
                elif line["flushing"] and not let_pass:
                    proc.send_signal(signal.SIGKILL)
                    in_flight = line["flushing"]
                    break
                elif line["flushing"]:
                    let_pass -= 1
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stored = self.stored_samples() - stored_before
        assert stored in (finished, finished + in_flight), (
            f"killed during a flush of {in_flight} samples after {finished} flushed: {stored} stored"
        )
        self.counts.console_kills += 1
        self.counts.flush_kills += 1
        self.counts.flush_rolled_back += stored == finished
        self.counts.flush_committed += stored == finished + in_flight
        self.verified()

    def check_opened(self, before: TradingSession | None, opened: dict) -> None:
        """The console continues the latest session; a killed console's one it finds interrupted."""
        assert not opened["resumed"]
        if before is None:
            assert opened["continued_from"] is None
            return
        assert opened["continued_from"] == before.id, (before, opened)
        if before.status == SessionStatus.ACTIVE:  # its owner was the console killed last
            assert opened["interrupted"] == [before.id]
            with reading(self.engine) as db:
                dead = db.get_one(TradingSession, before.id)
            assert dead.status == SessionStatus.INTERRUPTED and dead.ended_at == dead.heartbeat_at
            self.counts.resumed_interrupted += 1
        else:
            assert opened["interrupted"] == []

    def final_books(self) -> None:
        latest = sessions.latest(self.engine, "sim", limit=1)[0]
        assert latest.id is not None
        with reading(self.engine) as db:
            total = sum(db.exec(sql_select(BalanceAdjustment.delta).where(col(BalanceAdjustment.asset) == "USD")).all())
        self.counts.samples = self.stored_samples()
        assert books.read_balance(self.engine, latest.id, "USD").total == total
        # Every killed console's session was found dead (by the next console or an adjust) and marked
        # interrupted at its last heartbeat; the last one is still waiting for the next start.
        sessions.sweep(self.engine, now=datetime.now(UTC))
        with reading(self.engine) as db:
            for session_id in self.console_sessions:
                dead = db.get_one(TradingSession, session_id)
                assert dead.status == SessionStatus.INTERRUPTED and dead.ended_at == dead.heartbeat_at, dead


def _line(proc: subprocess.Popen, *, timeout: float) -> dict | None:
    assert proc.stdout is not None
    ready, _, _ = wait_readable([proc.stdout], [], [], timeout)
    if not ready:
        return None
    line = proc.stdout.readline()
    return json.loads(line) if line else None


def test_writers_killed_at_random_lose_nothing_acknowledged(
    store_url: str,
    migrated: Engine,
    tmp_path: Path,
) -> None:
    crash = Crash(store_url, migrated, tmp_path, random.Random(SEED))
    started = time.monotonic()
    for round_ in range(CONSOLE_ROUNDS):
        crash.console_round(with_adjusts=round_ % 4 != 3)
        if round_ % FLUSH_ROUND_EVERY == 0:
            crash.flush_round()
    # No console: the CLI opens, adjusts and closes a session by itself (after marking the last console's
    # session interrupted), killed at random too.
    with_console = crash.counts.adjust_kills
    while crash.counts.adjust_kills - with_console < ADJUST_KILLS_WITHOUT_CONSOLE or crash.counts.kills < MIN_KILLS - 1:
        crash.adjust(console_running=False)
    # The console started again continues the last session (a closed CLI one, or the killed console's).
    crash.console_round(with_adjusts=True)
    crash.resubmit_killed()
    crash.final_books()
    crash.verified()
    c = crash.counts
    backend = migrated.url.get_backend_name()
    print(
        f"\ncrash test on {backend}: {c.kills} SIGKILLs ({c.console_kills} consoles, {c.console_kills_before_open} "
        f"of them before their session opened, {c.flush_kills} as their history writer flushed: the batch in flight "
        f"{c.flush_rolled_back} times rolled back, {c.flush_committed} times committed whole; "
        f"{c.adjust_kills} adjust runs of {c.adjust_runs}); "
        f"{c.exits_0} adjust exits 0, {c.found_once} of them found exactly once; {c.killed_found} killed ones "
        f"had committed; resubmitted {len(c.killed_keys)} killed keys: {c.resubmitted_applied} applied, "
        f"{c.resubmitted_already} already applied; {c.resumed_interrupted} consoles resumed an interrupted "
        f"session; verify ok {c.verify_ok} times; {c.samples} history samples; {time.monotonic() - started:.0f} s"
    )
    assert c.kills >= MIN_KILLS
    assert c.found_once == c.exits_0 and c.resubmitted_already == c.killed_found
