"""`balance-tui db verify` and `db backup`: is the store sound, and a consistent copy of it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import col, select

from balance_tui.core.exact import EXACT
from balance_tui.store.engine import reading
from balance_tui.store.errors import StoreError
from balance_tui.store.migrate import current_revision, head_revision
from balance_tui.store.money import canonical
from balance_tui.store.tables import (
    AccountBalance,
    AdjustmentKind,
    BalanceAdjustment,
    Position,
    PositionStatus,
    TradingSession,
)

ZERO = Decimal(0)


@dataclass
class VerifyReport:
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine) -> VerifyReport:
    """Check the database file (SQLite), the schema revision, and the books' arithmetic.

    For every balance: total = opening + its adjustments' deltas + the P&L of positions closed against it;
    available = total - reserved; each adjustment's after = before + delta; an undo reverses exactly the
    delta of the adjustment it names. Open positions' cost equals the base balance's reserve in every
    session they still belong to. A session that continues another opens each asset at the total the
    other ended with (an asset missing on either side counts as zero).
    """
    report = VerifyReport()
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            result = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check").all()]
            orphans = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if result != ["ok"]:
            report.problems.extend(f"integrity_check: {line}" for line in result)
        report.problems.extend(
            f"foreign_key_check: {row[0]} row {row[1]} points at a missing {row[2]}" for row in orphans
        )
    if (revision := current_revision(engine)) != head_revision():
        report.problems.append(f"schema is at revision {revision or 'none'}, expected {head_revision()}")
        return report
    with reading(engine) as db:
        sessions = {s.id: s for s in db.exec(select(TradingSession)).all()}
        balances = db.exec(select(AccountBalance).order_by(col(AccountBalance.id))).all()
        adjustments = db.exec(select(BalanceAdjustment).order_by(col(BalanceAdjustment.id))).all()
        positions = db.exec(select(Position)).all()
    report.checked = {
        "sessions": len(sessions),
        "balances": len(balances),
        "adjustments": len(adjustments),
        "positions": len(positions),
    }
    report.problems.extend(_adjustment_problems(adjustments))
    report.problems.extend(_balance_problems(sessions, balances, adjustments, positions))
    report.problems.extend(_continuation_problems(sessions, balances))
    return report


def _adjustment_problems(adjustments: list[BalanceAdjustment]) -> list[str]:
    problems = []
    by_id = {a.id: a for a in adjustments}
    for a in adjustments:
        if EXACT.add(a.before, a.delta) != a.after:
            problems.append(f"adjustment #{a.id}: {a.before} + {a.delta} is not {a.after}")
        if a.kind == AdjustmentKind.UNDO:
            original = by_id.get(a.reverses_id)
            if original is None or original.delta != -a.delta:
                problems.append(f"adjustment #{a.id} undoes #{a.reverses_id} but does not reverse its delta")
    return problems


def _balance_problems(
    sessions: dict[int | None, TradingSession],
    balances: list[AccountBalance],
    adjustments: list[BalanceAdjustment],
    positions: list[Position],
) -> list[str]:
    deltas: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    for a in adjustments:
        deltas[a.balance_id] = EXACT.add(deltas[a.balance_id], a.delta)
    pnl: dict[int, Decimal] = defaultdict(lambda: ZERO)
    open_cost: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for p in positions:
        if p.status == PositionStatus.CLOSED and p.realized_pnl is not None:
            pnl[p.session_id] = EXACT.add(pnl[p.session_id], p.realized_pnl)
        elif p.status == PositionStatus.OPEN:
            open_cost[p.session_id] = EXACT.add(open_cost[p.session_id], p.cost)
    continued = {s.continues_id for s in sessions.values()}
    problems = []
    for b in balances:
        base = sessions[b.session_id].base_currency == b.asset
        expected = EXACT.add(EXACT.add(b.opening, deltas[b.id]), pnl[b.session_id] if base else ZERO)
        name = f"session {b.session_id} {b.asset}"
        if b.total != expected:
            problems.append(
                f"{name}: total {canonical(b.total)} but opening {canonical(b.opening)} + adjustments "
                f"{canonical(deltas[b.id])}"
                + (f" + P&L {canonical(pnl[b.session_id])}" if base else "")
                + f" = {canonical(expected)}"
            )
        if b.available != EXACT.subtract(b.total, b.reserved):
            problems.append(f"{name}: available {b.available} is not total {b.total} - reserved {b.reserved}")
        reserve = open_cost[b.session_id] if base else ZERO
        if b.session_id not in continued and b.reserved != reserve:
            problems.append(f"{name}: reserved {b.reserved} but open positions cost {reserve}")
    return problems


def _continuation_problems(sessions: dict[int | None, TradingSession], balances: list[AccountBalance]) -> list[str]:
    """A continuing session's opening balances against the totals its previous session ended with."""
    by_session: dict[int | None, dict[str, AccountBalance]] = defaultdict(dict)
    for b in balances:
        by_session[b.session_id][b.asset] = b
    problems = []
    for s in sorted(sessions.values(), key=lambda s: s.id or 0):
        if s.continues_id is None:
            continue
        opened, ended = by_session[s.id], by_session[s.continues_id]
        for asset in sorted(opened.keys() | ended.keys()):
            opening = opened[asset].opening if asset in opened else ZERO
            final = ended[asset].total if asset in ended else ZERO
            if opening != final:
                problems.append(
                    f"session {s.id} {asset}: opens at {canonical(opening)} but session {s.continues_id}, "
                    f"which it continues, ended at {canonical(final)}"
                )
    return problems


def backup(engine: Engine, destination: Path) -> Path:
    """A consistent copy while consoles keep running: SQLite's online backup, or pg_dump for PostgreSQL."""
    if destination.exists():
        raise StoreError(f"{destination} exists; choose a new file for the backup")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        return _sqlite_backup(engine, destination)
    return _pg_dump(engine, destination)


def _sqlite_backup(engine: Engine, destination: Path) -> Path:
    source = engine.raw_connection()
    try:
        with sqlite3.connect(destination) as copy:
            source.driver_connection.backup(copy)
            check = copy.execute("PRAGMA integrity_check").fetchone()
        if check != ("ok",):
            raise StoreError(f"the backup in {destination} fails its integrity check: {check}")
    finally:
        source.close()
    return destination


def _pg_dump(engine: Engine, destination: Path) -> Path:
    program = shutil.which("pg_dump")
    if program is None:
        raise StoreError("backing up PostgreSQL needs pg_dump on PATH (the postgresql-client package)")
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.set(drivername="postgresql", password=None)
    env = {**os.environ, **({"PGPASSWORD": engine.url.password} if engine.url.password else {})}
    command = [program, "--format=custom", f"--schema={schema}", f"--file={destination}", url.render_as_string()]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        destination.unlink(missing_ok=True)
        raise StoreError(f"pg_dump failed: {done.stderr.strip()}")
    return destination
