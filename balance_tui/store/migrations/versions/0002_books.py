"""the bot's books: balances, adjustments, positions, history, ledger, acknowledgements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Append-only tables get triggers that refuse UPDATE and DELETE. A later migration that recreates one of
them with `batch_alter_table` on SQLite must create its triggers again: a table copy does not keep them.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from balance_tui.store.types import Money, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("balance_adjustments", "validation_acks")

# Kraken's AssetInfo.decimals for the assets the console starts with; `books.register_assets` adds more.
KRAKEN_DECIMALS = {
    "ADA": 8,
    "BTC": 10,
    "DOGE": 8,
    "DOT": 10,
    "ETH": 10,
    "EUR": 4,
    "GBP": 4,
    "LTC": 10,
    "SOL": 10,
    "USD": 4,
    "USDC": 8,
    "USDT": 8,
    "XRP": 8,
}


def upgrade() -> None:
    with op.batch_alter_table("trading_sessions") as batch:
        batch.add_column(
            sa.Column("base_currency", sqlmodel.AutoString(length=16), nullable=False, server_default="USD")
        )
        batch.add_column(sa.Column("owner_host", sqlmodel.AutoString(length=255), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("continues_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resumable", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.create_foreign_key("fk_trading_sessions_continues_id", "trading_sessions", ["continues_id"], ["id"])
    op.create_index(
        "uq_trading_sessions_one_active",
        "trading_sessions",
        ["exchange"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    assets = op.create_table(
        "assets",
        sa.Column("asset", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.CheckConstraint("decimals BETWEEN 0 AND 18", name="ck_assets_decimals"),
        sa.PrimaryKeyConstraint("asset"),
    )
    op.bulk_insert(assets, [{"asset": name, "decimals": places} for name, places in KRAKEN_DECIMALS.items()])

    op.create_table(
        "account_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("asset", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("opening", Money(), nullable=False),
        sa.Column("total", Money(), nullable=False),
        sa.Column("reserved", Money(), nullable=False),
        sa.Column("available", Money(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("update_reason", sqlmodel.AutoString(length=600), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["trading_sessions.id"]),
        sa.ForeignKeyConstraint(["asset"], ["assets.asset"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "asset", name="uq_account_balances_session_asset"),
    )

    op.create_table(
        "balance_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("balance_id", sa.Integer(), nullable=False),
        sa.Column("asset", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=8), nullable=False),
        sa.Column("before", Money(), nullable=False),
        sa.Column("after", Money(), nullable=False),
        sa.Column("delta", Money(), nullable=False),
        sa.Column("reason", sqlmodel.AutoString(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        *_audit_columns(),
        sa.ForeignKeyConstraint(["balance_id"], ["account_balances.id"]),
        sa.ForeignKeyConstraint(["reverses_id"], ["balance_adjustments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("reverses_id"),
    )
    op.create_index("ix_balance_adjustments_balance_id", "balance_adjustments", ["balance_id"])

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("side", sqlmodel.AutoString(length=8), nullable=False),
        sa.Column("size", Money(), nullable=False),
        sa.Column("entry_price", Money(), nullable=False),
        sa.Column("cost", Money(), nullable=False),
        sa.Column("stop_loss", Money(), nullable=True),
        sa.Column("take_profit", Money(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("exit_price", Money(), nullable=True),
        sa.Column("realized_pnl", Money(), nullable=True),
        sa.Column("status", sqlmodel.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["trading_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_positions_session_status", "positions", ["session_id", "status"])

    op.create_table(
        "balance_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("total", Money(), nullable=False),
        sa.Column("held", Money(), nullable=False),
        sa.Column("source", sqlmodel.AutoString(length=8), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_balance_samples_asset_observed", "balance_samples", ["asset", "observed_at", "id"])
    op.create_index("ix_balance_samples_observed", "balance_samples", ["observed_at"])

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_id", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("ref_id", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("type", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("subtype", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("category", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("asset", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("wallet_type", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("wallet_id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("balance", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ledger_id"),
    )
    op.create_index("ix_ledger_entries_occurred", "ledger_entries", ["occurred_at"])

    op.create_table(
        "validation_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("reason", sqlmodel.AutoString(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_validation_acks_issue", "validation_acks", ["issue"])

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    for table in ("validation_acks", "ledger_entries", "balance_samples", "positions", "balance_adjustments"):
        op.drop_table(table)
    op.drop_table("account_balances")
    op.drop_table("assets")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION balance_tui_append_only()")
        op.execute("DROP FUNCTION balance_tui_notify_adjustment()")
    op.drop_index("uq_trading_sessions_one_active", table_name="trading_sessions")
    with op.batch_alter_table("trading_sessions") as batch:
        batch.drop_constraint("fk_trading_sessions_continues_id", type_="foreignkey")
        for column in ("resumable", "continues_id", "heartbeat_at", "owner_pid", "owner_host", "base_currency"):
            batch.drop_column(column)


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("operator", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("sudo_user", sqlmodel.AutoString(length=64), nullable=True),
        sa.Column("ssh_origin", sqlmodel.AutoString(length=64), nullable=True),
        sa.Column("tty", sqlmodel.AutoString(length=64), nullable=True),
    ]


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: record a reversing entry instead'); END"
            )


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION balance_tui_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only: record a reversing entry instead', TG_TABLE_NAME; END $$"
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION balance_tui_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION balance_tui_append_only()"
        )
    # Other consoles learn of an adjustment at commit (never for a rollback); the payload is the id only,
    # since every database user can listen. The channel names the schema so stores sharing a database
    # do not hear each other (`watch.channel`).
    op.execute(
        "CREATE FUNCTION balance_tui_notify_adjustment() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_notify(left('balance_tui_adjustments:' || TG_TABLE_SCHEMA, 63), NEW.id::text); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER balance_adjustments_notify AFTER INSERT ON balance_adjustments "
        "FOR EACH ROW EXECUTE FUNCTION balance_tui_notify_adjustment()"
    )
