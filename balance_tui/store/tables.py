"""The store's tables. Schema changes go through a migration in `migrations/versions/`, never `create_all`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from balance_tui.store.types import UTCDateTime


class SessionStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    INTERRUPTED = "interrupted"


class TradingSession(SQLModel, table=True):
    """One run of the bot's books against an exchange; resumed across restarts until closed."""

    __tablename__ = "trading_sessions"
    __table_args__ = (Index("ix_trading_sessions_exchange_status", "exchange", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    mode: str = Field(max_length=16)  # paper (simulator) or live (real exchange)
    exchange: str = Field(max_length=32)
    strategy: str = Field(default="", max_length=64)
    symbol: str = Field(default="", max_length=32)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    status: str = Field(default=SessionStatus.ACTIVE, max_length=16)
