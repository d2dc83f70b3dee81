"""Positions the bot holds, and the trade P&L they book into the session's base-currency balance.

Opening reserves the position's cost (size x entry price, rounded half-even to the base currency's places)
out of the base balance; closing releases exactly that reserve and adds the realised P&L, rounded the same
way. Both happen in the position's transaction, under the balance lock `books` uses, and bump the balance
version, so an operator confirming against an older version gets a conflict naming the trade.

Neither lands in a session after a restarting console carried its positions over: both share-lock the
session row before checking it is active (`books.locked_session_status`), as adjustments do, and the
carry-over locks it for update before it moves the open positions. Locks are taken in the carry-over's
order, session before position, so the two wait for each other instead of deadlocking on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from balance_tui.core.exact import EXACT
from balance_tui.store.books import change, locked_balance, locked_session_status
from balance_tui.store.engine import reading, writing
from balance_tui.store.errors import PositionError
from balance_tui.store.money import canonical, quantize_to
from balance_tui.store.tables import Asset, Position, PositionSide, PositionStatus, SessionStatus, TradingSession


def open_position(
    engine: Engine,
    *,
    session_id: int,
    symbol: str,
    side: PositionSide,
    size: Decimal,
    entry_price: Decimal,
    now: datetime,
    by: str,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
) -> Position:
    _check_amounts(size=size, entry_price=entry_price)
    if size <= 0 or entry_price <= 0:
        raise PositionError(f"size and entry price must be positive, got {size} @ {entry_price}")
    with writing(engine) as db:
        session, decimals = _active(db, session_id, locked_session_status(db, session_id))
        base, _, quote = symbol.partition("/")
        if not base or quote != session.base_currency:
            raise PositionError(f"symbol {symbol!r}: expected BASE/{session.base_currency} (P&L is booked in it)")
        cost = quantize_to(EXACT.multiply(size, entry_price), decimals)
        balance = locked_balance(db, session_id, session.base_currency)
        if balance is None or balance.available < cost:
            have = canonical(balance.available) if balance else "0"
            raise PositionError(f"{symbol} costs {canonical(cost)} {quote}; only {have} is available")
        position = Position(
            session_id=session_id,
            symbol=symbol,
            side=side,
            size=size,
            entry_price=entry_price,
            cost=cost,
            stop_loss=stop_loss,
            take_profit=take_profit,
            opened_at=now,
        )
        db.add(position)
        db.flush()
        change(
            balance,
            total=balance.total,
            reserved=EXACT.add(balance.reserved, cost),
            now=now,
            by=by,
            reason=f"position {position.id} opened: {side} {canonical(size)} {symbol} @ {canonical(entry_price)}",
        )
        return position


def close_position(engine: Engine, *, position_id: int, exit_price: Decimal, now: datetime, by: str) -> Position:
    _check_amounts(exit_price=exit_price)
    if exit_price <= 0:
        raise PositionError(f"exit price must be positive, got {exit_price}")
    with writing(engine) as db:
        # Which session to lock is read unlocked; the lock on the position comes after the session's.
        session_id = db.exec(select(Position.session_id).where(Position.id == position_id)).first()
        if session_id is None:
            raise PositionError(f"position {position_id} is unknown")
        status = locked_session_status(db, session_id)
        position = db.get_one(Position, position_id, with_for_update=True)
        if position.status != PositionStatus.OPEN:
            raise PositionError(f"position {position_id} is closed already")
        if position.session_id != session_id:  # a carry-over committed in between: the session has ended
            raise PositionError(
                f"position {position_id} moved from trading session {session_id} to {position.session_id} "
                "(a restarted console continued it) while it was being closed; nothing was written"
            )
        session, decimals = _active(db, session_id, status)
        move = EXACT.subtract(exit_price, position.entry_price)
        pnl = quantize_to(EXACT.multiply(move, position.size), decimals)
        if position.side == PositionSide.SHORT:
            pnl = -pnl
        balance = locked_balance(db, position.session_id, session.base_currency)
        assert balance is not None, "an open position reserves from a balance row"
        position.status, position.closed_at = PositionStatus.CLOSED, now
        position.exit_price, position.realized_pnl = exit_price, pnl
        change(
            balance,
            total=EXACT.add(balance.total, pnl),
            reserved=EXACT.subtract(balance.reserved, position.cost),
            now=now,
            by=by,
            reason=f"position {position_id} closed @ {canonical(exit_price)}: P&L {canonical(pnl)}",
        )
        return position


def _check_amounts(**amounts: Decimal) -> None:
    """Refuse a figure the store cannot hold before any arithmetic on it: sums and products of what it holds
    are exact, and the error names the figure, not the column it would have failed in."""
    for name, value in amounts.items():
        try:
            canonical(value)
        except ValueError as exc:
            raise PositionError(f"{name.replace('_', ' ')} {value}: {exc}") from None


def open_positions(engine: Engine, session_id: int) -> list[Position]:
    with reading(engine) as db:
        return list(
            db.exec(
                select(Position)
                .where(Position.session_id == session_id, Position.status == PositionStatus.OPEN)
                .order_by(col(Position.id))
            ).all()
        )


def session_positions(engine: Engine, session_id: int) -> list[Position]:
    """Every position of the session, open and closed, in the order they were opened."""
    with reading(engine) as db:
        return list(db.exec(select(Position).where(Position.session_id == session_id).order_by(col(Position.id))).all())


def _active(db: Session, session_id: int, status: str | None) -> tuple[TradingSession, int]:
    """The session and its base currency's places, given its status as `locked_session_status` read it."""
    if status != SessionStatus.ACTIVE:
        state = "does not exist" if status is None else f"is {status}"
        raise PositionError(f"trading session {session_id} {state}: positions change in the active session")
    session = db.get_one(TradingSession, session_id)
    asset = db.get(Asset, session.base_currency)
    if asset is None:
        raise PositionError(f"base currency {session.base_currency!r} is not a known asset")
    return session, asset.decimals
