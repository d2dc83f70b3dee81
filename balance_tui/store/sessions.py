"""Trading sessions: resume or continue on start, close on a clean exit, and tell a crash from a live owner.

Crash detection. A session records its owner: host name, pid and a heartbeat time. On the owner's own
host the owner is alive exactly while its pid is (a zombie counts as dead); that answer is immediate, so a
restart right after a crash sees the crash. From another host a pid means nothing, so there the owner
counts as alive while its heartbeat is younger than the lease; the owner calls `heartbeat` every
lease / HEARTBEATS_PER_LEASE. An active session whose owner is dead is marked `interrupted`, ended at its
last heartbeat, by the next `resume_or_start` (or `sweep`). Known limit: if the pid is reused by another
process on the same host before anyone looks, the session still looks alive until that process exits.

On start (`resume_or_start`):
1. this process's own active session goes on as it is (resumed, owned);
2. an active session whose owner is alive elsewhere is attached (resumed, not owned): shown here, but only
   its owner heartbeats and closes it;
3. otherwise, with `resume_from_last_balance`, the latest ended session (closed or interrupted) that ended
   within `resume_window` and was not retired by a fresh start is continued: a new session opens with its
   last balances as opening balances, and its open positions move over;
4. otherwise a new session opens, with `opening_balances` if given.
What was recovered is returned and logged. `retire_for_fresh_start` makes the next start take step 4.

Without a console (`adjust_latest`, for `balance-tui adjust`): steps 3-4 run, the adjustment is applied and
the session closed again, all in one transaction; the next console continues that closed session.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from balance_tui.store import books
from balance_tui.store.books import BalanceView, asset_decimals, new_balance, unknown_asset
from balance_tui.store.engine import reading, writing
from balance_tui.store.errors import InvalidInput, SessionError
from balance_tui.store.identity import Operator
from balance_tui.store.money import canonical, places
from balance_tui.store.tables import (
    AccountBalance,
    AdjustmentKind,
    BalanceAdjustment,
    Position,
    PositionStatus,
    SessionStatus,
    TradingSession,
)

log = logging.getLogger(__name__)

HEARTBEATS_PER_LEASE = 3
DEFAULT_LEASE = timedelta(seconds=30)
DEFAULT_RESUME_WINDOW = timedelta(hours=24)
SYSTEM = "balance-tui"  # `updated_by` for changes the console makes itself

T = TypeVar("T")


class StoreSettings(Protocol):
    """The `[store]` settings a session opens by (config.StoreConfig; the store does not import config)."""

    base_currency: str
    resume_window_hours: float
    resume_from_last_balance: bool
    session_lease_s: float


@dataclass(frozen=True, slots=True)
class SessionRules:
    """How a session opens, the same for a console's start (`resume_or_start`) and `adjust_latest`."""

    base_currency: str = "USD"
    resume_window: timedelta | None = DEFAULT_RESUME_WINDOW  # None: never continue an ended session (step 3)
    lease: timedelta = DEFAULT_LEASE

    @classmethod
    def of(cls, store: StoreSettings) -> SessionRules:
        window = timedelta(hours=store.resume_window_hours) if store.resume_from_last_balance else None
        return cls(store.base_currency, window, timedelta(seconds=store.session_lease_s))


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session: TradingSession
    resumed: bool  # the same session goes on (steps 1 and 2)
    owned: bool  # this process owns it: heartbeating and closing it are this process's job
    continued_from: TradingSession | None  # step 3: the session this one carries on from
    interrupted: tuple[int, ...]  # sessions found with a dead owner and marked interrupted just now
    balances: tuple[BalanceView, ...]  # the session's balances as recovered
    positions: tuple[Position, ...]  # its open positions

    def describe(self) -> str:
        session = self.session
        if self.resumed:
            how = f"resumed session {session.id}" + ("" if self.owned else f" (owned by {_owner(session)})")
        elif self.continued_from is not None:
            how = f"session {session.id} continues session {self.continued_from.id} ({self.continued_from.status})"
        else:
            how = f"started session {session.id}"
        balances = ", ".join(
            f"{b.asset} {canonical(b.total)}" + (f" (reserved {canonical(b.reserved)})" if b.reserved else "")
            for b in self.balances
        )
        positions = "; ".join(
            f"{p.side} {canonical(p.size)} {p.symbol} @ {canonical(p.entry_price)}" for p in self.positions
        )
        parts = [
            f"{how} on {session.exchange} ({session.mode})",
            f"balances: {balances or 'none'}",
            f"open positions: {positions or 'none'}",
        ]
        if self.interrupted:
            parts.append(f"marked interrupted (owner died): {', '.join(map(str, self.interrupted))}")
        return "; ".join(parts)


def resume_or_start(
    engine: Engine,
    *,
    exchange: str,
    mode: str,
    now: datetime,
    rules: SessionRules = SessionRules(),
    opening_balances: Mapping[str, Decimal] | None = None,
) -> OpenedSession:
    """Open this process's trading session for `exchange` as the module docstring describes."""
    _check_opening(engine, opening_balances or {})
    opened = _retried(engine, lambda db: _open(db, exchange, mode, now, rules, opening_balances or {}))
    log.info("trading session: %s", opened.describe())
    return opened


def heartbeat(engine: Engine, session: TradingSession, *, now: datetime) -> bool:
    """Refresh the owner's lease; False if this process no longer owns the session (then stop using it)."""
    with writing(engine) as db:
        return _mine(db, session, heartbeat_at=now) == 1


def close(
    engine: Engine, session: TradingSession, *, now: datetime, status: SessionStatus = SessionStatus.CLOSED
) -> None:
    """The owner's exit: `closed` when the operator quit, `interrupted` when the terminal was lost (SIGHUP).
    Only the owner closes its session; for anyone else this does nothing."""
    with writing(engine) as db:
        _mine(db, session, status=status, ended_at=now)


def sweep(engine: Engine, *, now: datetime, lease: timedelta = DEFAULT_LEASE) -> list[int]:
    """Mark active sessions whose owner died as interrupted; return their ids."""
    with writing(engine) as db:
        return _sweep(db, None, now, lease)


def active(engine: Engine, exchange: str) -> TradingSession | None:
    with reading(engine) as db:
        return _active(db, exchange)


def latest(engine: Engine, exchange: str | None = None, limit: int = 20) -> list[TradingSession]:
    query = select(TradingSession).order_by(col(TradingSession.id).desc()).limit(limit)
    if exchange is not None:
        query = query.where(TradingSession.exchange == exchange)
    with reading(engine) as db:
        return list(db.exec(query).all())


@dataclass(frozen=True, slots=True)
class SessionOverview:
    """A past or running session as the sessions screen lists it."""

    session: TradingSession
    balances: tuple[BalanceView, ...]  # opening and last (closing, once ended) figure per asset
    adjustments: int


def overview(engine: Engine, exchange: str | None = None, limit: int = 50) -> list[SessionOverview]:
    """The latest sessions, newest first, with their balances and how many adjustments each had."""
    with reading(engine) as db:
        query = select(TradingSession).order_by(col(TradingSession.id).desc()).limit(limit)
        if exchange is not None:
            query = query.where(TradingSession.exchange == exchange)
        found = list(db.exec(query).all())
        ids = [s.id for s in found]
        balances: dict[int, list[BalanceView]] = {i: [] for i in ids if i is not None}
        rows = db.exec(
            select(AccountBalance).where(col(AccountBalance.session_id).in_(ids)).order_by(col(AccountBalance.asset))
        )
        for row in rows:
            balances[row.session_id].append(BalanceView.of(row))
        counts = dict(
            db.exec(
                select(AccountBalance.session_id, func.count(col(BalanceAdjustment.id)))
                .select_from(BalanceAdjustment)
                .join(AccountBalance)
                .where(col(AccountBalance.session_id).in_(ids))
                .group_by(col(AccountBalance.session_id))
            ).all()
        )
    return [SessionOverview(s, tuple(balances.get(s.id, ())), counts.get(s.id, 0)) for s in found]


def retire_for_fresh_start(
    engine: Engine, *, exchange: str, now: datetime, lease: timedelta = DEFAULT_LEASE
) -> list[int]:
    """Make the next start open a new session instead of continuing one (`--fresh`); return retired ids.

    Refused while a live console owns the active session: it would go on writing to it.
    """
    with writing(engine) as db:
        _sweep(db, exchange, now, lease)
        current = _active(db, exchange)
        if current is not None and not _is_mine(current):
            raise SessionError(
                f"session {current.id} on {exchange} is in use by {_owner(current)}: quit that console first"
            )
        if current is not None:
            current.status, current.ended_at = SessionStatus.CLOSED, now
        ids = list(
            db.exec(
                select(TradingSession.id).where(TradingSession.exchange == exchange, col(TradingSession.resumable))
            ).all()
        )
        db.exec(update(TradingSession).where(col(TradingSession.id).in_(ids)).values(resumable=False))
    return [i for i in ids if i is not None]


@dataclass(frozen=True, slots=True)
class LatestAdjustment:
    """What `adjust_latest` did: the adjustment and the session it went to, and how that session was found."""

    result: books.AdjustmentResult
    session: TradingSession
    where: str  # for the operator: which session, and whether it was opened (and closed) for this adjustment


def adjust_latest(
    engine: Engine,
    request: books.AdjustmentRequest,
    *,
    exchange: str,
    mode: str,
    now: datetime,
    operator: Operator,
    rules: SessionRules = SessionRules(),
) -> LatestAdjustment:
    """An adjustment from outside a console (`balance-tui adjust`) to the latest trading session, in one
    transaction, so that it is all done or nothing is (a kill at any moment leaves no session behind):

    1. a key applied before answers "already applied" with the original, wherever it went; nothing opens;
    2. an active session whose owner is alive (a console runs) takes it, as an operator's at that console would;
    3. otherwise the session is opened by `resume_or_start`'s rules (it continues the latest session that
       ended within `resume_window`, else a new one opens), the adjustment is applied, and the session is
       closed again at once: a closed session with this one adjustment, which the next console continues,
       so it starts from the adjusted balance. Nothing is left `active` for a dead pid.
    Refused (`SessionError`, nothing written) when the rules continue no session (`resume_from_last_balance`
    off): the next console would start from its opening balances and never show the adjustment.
    """
    return _retried(engine, lambda db: _adjust_latest(db, request, exchange, mode, now, operator, rules))


def _retried(engine: Engine, work: Callable[[Session], T]) -> T:
    """`work` in one write transaction, run once more if it lost a race to open the exchange's session.

    Two processes opening a session at once on PostgreSQL can both find no active one; the unique index on
    (exchange) among active sessions stops the second insert, and its retry attaches to the first.
    """
    for attempt in (1, 2):
        try:
            with writing(engine) as db:
                return work(db)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _adjust_latest(
    db: Session,
    request: books.AdjustmentRequest,
    exchange: str,
    mode: str,
    now: datetime,
    operator: Operator,
    rules: SessionRules,
) -> LatestAdjustment:
    def apply(session: TradingSession) -> books.AdjustmentResult:
        assert session.id is not None
        expected = None
        if request.kind is AdjustmentKind.SET:  # set against the figure there now: no think time passes in between
            row = books.locked_balance(db, session.id, request.asset)
            expected = row.version if row is not None else 0
        adjustment, balance, already = books.adjust_in(
            db, session.id, request, operator=operator, now=now, expected_version=expected
        )
        return books.AdjustmentResult(adjustment, BalanceView.of(balance), already)

    interrupted = _sweep(db, exchange, now, rules.lease)
    if (applied_in := books.key_session(db, request.key)) is not None:
        earlier = db.get_one(TradingSession, applied_in)
        return LatestAdjustment(apply(earlier), earlier, f"session {applied_in} ({earlier.status})")
    current = _active(db, exchange)
    if current is not None:
        where = f"session {current.id}, run by the console {_owner(current)}"
        return LatestAdjustment(apply(current), current, where)
    if rules.resume_window is None:
        raise SessionError(
            f"no console is running on {exchange}, and with [store] resume_from_last_balance = false the next "
            "console starts from its opening balances, so it would never show this adjustment: start the console "
            "and adjust there (or run this command while it runs)"
        )
    opened = _open(db, exchange, mode, now, rules, {})
    session = opened.session
    result = apply(session)
    session.status, session.ended_at, session.heartbeat_at = SessionStatus.CLOSED, now, now
    db.flush()
    if opened.continued_from is not None:
        previous = opened.continued_from
        how = f"continuing session {previous.id} ({previous.status}"
        if previous.id in interrupted:
            how += ": its console had died; marked interrupted just now"
        how += ")"
    else:
        how = "a new one: " + _nothing_to_continue(db, exchange, now, rules.resume_window)
    where = (
        f"session {session.id}, opened for this adjustment as no console is running on {exchange} ({how}) "
        "and closed again; the next console continues it"
    )
    return LatestAdjustment(result, session, where)


def _nothing_to_continue(db: Session, exchange: str, now: datetime, window: timedelta) -> str:
    last = db.exec(
        select(TradingSession)
        .where(TradingSession.exchange == exchange, TradingSession.status != SessionStatus.ACTIVE)
        .order_by(col(TradingSession.id).desc())
        .offset(1)  # the first is the one just opened
        .limit(1)
    ).first()
    if last is None:
        return "no earlier session, balances start at zero"
    if not last.resumable:
        return f"session {last.id} was retired by a fresh start, balances start at zero"
    hours = window.total_seconds() / 3600
    return f"session {last.id} ended over {hours:g} h ago (resume window), balances start at zero"


def _open(
    db: Session,
    exchange: str,
    mode: str,
    now: datetime,
    rules: SessionRules,
    opening_balances: Mapping[str, Decimal],
) -> OpenedSession:
    interrupted = tuple(_sweep(db, exchange, now, rules.lease))
    current = _active(db, exchange)
    previous: TradingSession | None = None
    resumed = current is not None
    if current is not None:
        owned = _is_mine(current)
        if owned:
            current.heartbeat_at = now
    else:
        owned = True
        previous = _continuable(db, exchange, now, rules.resume_window)
        current = TradingSession(
            mode=mode,
            exchange=exchange,
            started_at=now,
            base_currency=rules.base_currency,
            owner_host=socket.gethostname(),
            owner_pid=os.getpid(),
            heartbeat_at=now,
            continues_id=previous.id if previous else None,
        )
        db.add(current)
        db.flush()
        assert current.id is not None
        if previous is not None:
            _carry_over(db, previous, current, now)
        else:
            for asset, amount in sorted(opening_balances.items()):
                reason = f"opening balance of session {current.id}"
                db.add(
                    new_balance(current.id, asset, total=amount, reserved=Decimal(0), now=now, by=SYSTEM, reason=reason)
                )
        db.flush()
    assert current.id is not None
    balances = db.exec(
        select(AccountBalance).where(AccountBalance.session_id == current.id).order_by(col(AccountBalance.asset))
    ).all()
    positions = db.exec(
        select(Position)
        .where(Position.session_id == current.id, Position.status == PositionStatus.OPEN)
        .order_by(col(Position.id))
    ).all()
    return OpenedSession(
        session=current,
        resumed=resumed,
        owned=owned,
        continued_from=previous,
        interrupted=interrupted,
        balances=tuple(BalanceView.of(b) for b in balances),
        positions=tuple(positions),
    )


def _check_opening(engine: Engine, opening: Mapping[str, Decimal]) -> None:
    if not opening:
        return
    known = asset_decimals(engine)
    for asset, amount in opening.items():
        if asset not in known:
            raise unknown_asset(asset, known, "opening balance of unknown asset")
        if not (isinstance(amount, Decimal) and amount.is_finite() and amount >= 0 and places(amount) <= known[asset]):
            raise InvalidInput(
                f"opening balance {amount!r} of {asset}: expected a Decimal >= 0 with at most {known[asset]} places"
            )


def _carry_over(db: Session, previous: TradingSession, current: TradingSession, now: datetime) -> None:
    assert current.id is not None and previous.id is not None
    for old in db.exec(select(AccountBalance).where(AccountBalance.session_id == previous.id)).all():
        reason = f"carried over from session {previous.id}"
        db.add(
            new_balance(
                current.id, old.asset, total=old.total, reserved=old.reserved, now=now, by=SYSTEM, reason=reason
            )
        )
    db.exec(
        update(Position)
        .where(col(Position.session_id) == previous.id, col(Position.status) == PositionStatus.OPEN)
        .values(session_id=current.id)
    )


def _continuable(db: Session, exchange: str, now: datetime, window: timedelta | None) -> TradingSession | None:
    if window is None:
        return None
    # Locked (FOR UPDATE) before its balances are read for the carry-over, so no adjustment that saw it
    # active (books.locked_session_status share-locks it) is still in flight. Whatever ended it waited for
    # those already; the lock keeps the carry-over safe however the session was ended.
    # A session that a CLI adjustment (`adjust_latest`) opened and closed while this waited for the lock is
    # newer than the one locked (PostgreSQL READ COMMITTED re-reads only the locked row): look again until
    # the newest ended session is the one held.
    last: TradingSession | None = None
    while True:
        newest = db.exec(
            select(TradingSession)
            .where(TradingSession.exchange == exchange, TradingSession.status != SessionStatus.ACTIVE)
            .order_by(col(TradingSession.id).desc())
            .limit(1)
            .with_for_update()
        ).first()
        if newest is None or (last is not None and newest.id == last.id):
            last = newest
            break
        last = newest
    if last is None or not last.resumable or last.ended_at is None or last.ended_at < now - window:
        return None
    return last


def _active(db: Session, exchange: str) -> TradingSession | None:
    return db.exec(
        select(TradingSession).where(TradingSession.exchange == exchange, TradingSession.status == SessionStatus.ACTIVE)
    ).first()


def _sweep(db: Session, exchange: str | None, now: datetime, lease: timedelta) -> list[int]:
    query = select(TradingSession).where(TradingSession.status == SessionStatus.ACTIVE).with_for_update()
    if exchange is not None:
        query = query.where(TradingSession.exchange == exchange)
    dead = [s for s in db.exec(query).all() if not _owner_alive(s, now, lease)]
    for session in dead:
        session.status = SessionStatus.INTERRUPTED
        session.ended_at = session.heartbeat_at or session.started_at
        log.warning("trading session %s: owner %s is gone; marked interrupted", session.id, _owner(session))
    return [s.id for s in dead if s.id is not None]


def _owner_alive(session: TradingSession, now: datetime, lease: timedelta) -> bool:
    if session.owner_host == socket.gethostname():
        return session.owner_pid is not None and _pid_alive(session.owner_pid)
    return session.heartbeat_at is not None and now - session.heartbeat_at < lease


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:  # killed but not yet reaped by its parent: dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def _is_mine(session: TradingSession) -> bool:
    return session.owner_host == socket.gethostname() and session.owner_pid == os.getpid()


def _mine(db: Session, session: TradingSession, **values: object) -> int:
    result = db.exec(
        update(TradingSession)
        .where(
            col(TradingSession.id) == session.id,
            col(TradingSession.status) == SessionStatus.ACTIVE,
            col(TradingSession.owner_host) == socket.gethostname(),
            col(TradingSession.owner_pid) == os.getpid(),
        )
        .values(**values)
    )
    return result.rowcount


def _owner(session: TradingSession) -> str:
    return f"pid {session.owner_pid} on {session.owner_host}"
