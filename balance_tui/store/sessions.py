"""Trading sessions: resume the active one on start, close it on a clean exit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from balance_tui.store.tables import SessionStatus, TradingSession


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session: TradingSession
    resumed: bool


def resume_or_start(engine: Engine, *, exchange: str, mode: str, now: datetime) -> OpenedSession:
    # expire_on_commit=False: the row is handed out after the transaction, so keep its loaded values.
    with Session(engine, expire_on_commit=False) as db, db.begin():
        active = db.exec(
            select(TradingSession)
            .where(TradingSession.exchange == exchange, TradingSession.status == SessionStatus.ACTIVE)
            .order_by(TradingSession.started_at.desc())  # type: ignore[union-attr]
        ).first()
        if active is not None:
            return OpenedSession(active, resumed=True)
        started = TradingSession(mode=mode, exchange=exchange, started_at=now)
        db.add(started)
        db.flush()
        return OpenedSession(started, resumed=False)


def close(engine: Engine, session: TradingSession, *, now: datetime) -> None:
    with Session(engine) as db, db.begin():
        row = db.get(TradingSession, session.id)
        if row is not None and row.status == SessionStatus.ACTIVE:
            row.status, row.ended_at = SessionStatus.CLOSED, now
