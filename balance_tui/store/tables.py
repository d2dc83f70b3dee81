"""The store's tables. Schema changes go through a migration in `migrations/versions/`, never `create_all`.

Money columns are `Money` (exact on every backend) and times `UTCDateTime`. `balance_adjustments` and
`validation_acks` are append-only, enforced by triggers in the database as well (migration 0002).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from balance_tui.store.types import Money, UTCDateTime


class SessionStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    INTERRUPTED = "interrupted"  # its owner died without closing it (see `sessions`)


class AdjustmentKind(StrEnum):
    SET = "set"  # the balance was set to `after`
    DELTA = "delta"  # `delta` was added
    UNDO = "undo"  # reverses `reverses_id` by adding minus its delta


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Asset(SQLModel, table=True):
    """Assets the books may hold, with Kraken's record-keeping precision (`AssetInfo.decimals`)."""

    __tablename__ = "assets"
    __table_args__ = (CheckConstraint("decimals BETWEEN 0 AND 18", name="ck_assets_decimals"),)

    asset: str = Field(primary_key=True, max_length=16)
    decimals: int


class TradingSession(SQLModel, table=True):
    """One run of the bot's books against an exchange.

    The owner (host and pid of the process that opened it, plus a heartbeat) lets the next start tell a
    live session from one whose process died: see `sessions` for the rule.
    """

    __tablename__ = "trading_sessions"
    __table_args__ = (
        Index("ix_trading_sessions_exchange_status", "exchange", "status"),
        # At most one active session per exchange, even when two consoles start at the same moment.
        Index(
            "uq_trading_sessions_one_active",
            "exchange",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    mode: str = Field(max_length=16)  # paper (simulator) or live (real exchange)
    exchange: str = Field(max_length=32)
    strategy: str = Field(default="", max_length=64)
    symbol: str = Field(default="", max_length=32)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    status: str = Field(default=SessionStatus.ACTIVE, max_length=16)
    base_currency: str = Field(default="USD", max_length=16)  # trade P&L and position cost are booked in it
    owner_host: str | None = Field(default=None, max_length=255)
    owner_pid: int | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    continues_id: int | None = Field(default=None, foreign_key="trading_sessions.id")
    resumable: bool = True  # False once an operator asked for a fresh start: the next start won't continue it


_BALANCE_VERSION = Column("version", Integer, nullable=False)


class AccountBalance(SQLModel, table=True):
    """The bot-tracked balance of one asset in one session; the session's base currency row is "the" balance.

    total = opening + adjustments + realised trade P&L (checked by `maintenance.verify`);
    available = total - reserved, where reserved is what open positions tie up.
    `version` counts changes (SQLAlchemy's version counter): an adjustment confirmed against an older
    version is refused with a conflict naming the change in between.
    """

    __tablename__ = "account_balances"
    __table_args__ = (UniqueConstraint("session_id", "asset", name="uq_account_balances_session_asset"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="trading_sessions.id")
    asset: str = Field(max_length=16, foreign_key="assets.asset")
    opening: Decimal = Field(sa_column=Column(Money(), nullable=False))
    total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    reserved: Decimal = Field(sa_column=Column(Money(), nullable=False))
    available: Decimal = Field(sa_column=Column(Money(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=64)
    update_reason: str = Field(max_length=600)
    version: int = Field(default=None, sa_column=_BALANCE_VERSION)

    # The Column object itself: SQLModel's FieldInfo or the string "version" do not work here.
    __mapper_args__ = {"version_id_col": _BALANCE_VERSION}


class AuditFields(SQLModel):
    """Who did it, as `identity.Operator` attests it."""

    operator: str = Field(max_length=64)
    sudo_user: str | None = Field(default=None, max_length=64)
    ssh_origin: str | None = Field(default=None, max_length=64)
    tty: str | None = Field(default=None, max_length=64)


class BalanceAdjustment(AuditFields, table=True):
    """An operator's change to a balance. Append-only: an undo is a new row pointing at the one it reverses."""

    __tablename__ = "balance_adjustments"
    __table_args__ = (Index("ix_balance_adjustments_balance_id", "balance_id"),)

    id: int | None = Field(default=None, primary_key=True)
    balance_id: int = Field(foreign_key="account_balances.id")
    asset: str = Field(max_length=16)
    kind: str = Field(max_length=8)
    before: Decimal = Field(sa_column=Column(Money(), nullable=False))
    after: Decimal = Field(sa_column=Column(Money(), nullable=False))
    delta: Decimal = Field(sa_column=Column(Money(), nullable=False))
    reason: str = Field(max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    idempotency_key: str = Field(max_length=64, unique=True)
    reverses_id: int | None = Field(default=None, foreign_key="balance_adjustments.id", unique=True)


class Position(SQLModel, table=True):
    """A position the bot holds; opening reserves its cost in the base currency, closing books the P&L."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_session_status", "session_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="trading_sessions.id")  # moves to the session that continues it
    symbol: str = Field(max_length=32)  # BASE/QUOTE, the quote being the session's base currency
    side: str = Field(max_length=8)
    size: Decimal = Field(sa_column=Column(Money(), nullable=False))
    entry_price: Decimal = Field(sa_column=Column(Money(), nullable=False))
    cost: Decimal = Field(sa_column=Column(Money(), nullable=False))  # reserved while open
    stop_loss: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    take_profit: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    exit_price: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    realized_pnl: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    status: str = Field(default=PositionStatus.OPEN, max_length=8)


class BalanceSample(SQLModel, table=True):
    """An observed exchange balance at a moment: the history sparklines are drawn from."""

    __tablename__ = "balance_samples"
    __table_args__ = (
        # (asset, time, id): the sparkline query seeks the last sample before each bucket end.
        Index("ix_balance_samples_asset_observed", "asset", "observed_at", "id"),
        Index("ix_balance_samples_observed", "observed_at"),  # retention pruning
    )

    id: int | None = Field(default=None, primary_key=True)
    asset: str = Field(max_length=16)
    total: Decimal = Field(sa_column=Column(Money(), nullable=False))
    held: Decimal = Field(sa_column=Column(Money(), nullable=False))
    source: str = Field(max_length=8)
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LedgerEntryRecord(SQLModel, table=True):
    """A Kraken ledger entry from the feed, once: `ledger_id` is unique, so replays are no-ops."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_occurred", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ledger_id: str = Field(max_length=64, unique=True)
    ref_id: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    type: str = Field(max_length=32)
    subtype: str = Field(max_length=32)
    category: str = Field(max_length=32)
    asset: str = Field(max_length=16)
    wallet_type: str = Field(max_length=16)
    wallet_id: str = Field(max_length=32)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    fee: Decimal = Field(sa_column=Column(Money(), nullable=False))
    balance: Decimal = Field(sa_column=Column(Money(), nullable=False))


class ValidationAck(AuditFields, table=True):
    """An operator acknowledged a validation issue, with a reason. Append-only; the latest per issue counts."""

    __tablename__ = "validation_acks"
    __table_args__ = (Index("ix_validation_acks_issue", "issue"),)

    id: int | None = Field(default=None, primary_key=True)
    issue: str = Field(max_length=128)
    reason: str = Field(max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
