"""trading sessions

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from balance_tui.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trading_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("exchange", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("strategy", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("symbol", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trading_sessions_exchange_status", "trading_sessions", ["exchange", "status"])


def downgrade() -> None:
    op.drop_index("ix_trading_sessions_exchange_status", table_name="trading_sessions")
    op.drop_table("trading_sessions")
