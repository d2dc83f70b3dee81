"""tell other consoles of a new acknowledgement, as of a new adjustment

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

PostgreSQL only: an AFTER INSERT trigger on validation_acks sends the new row's id on the schema's
`balance_tui_acks:` channel (`store.watch`), at commit. SQLite consoles poll; nothing changes there.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The payload is the id only, since every database user can listen (as for adjustments, 0002).
    op.execute(
        "CREATE FUNCTION balance_tui_notify_ack() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_notify(left('balance_tui_acks:' || TG_TABLE_SCHEMA, 63), NEW.id::text); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER validation_acks_notify AFTER INSERT ON validation_acks "
        "FOR EACH ROW EXECUTE FUNCTION balance_tui_notify_ack()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER validation_acks_notify ON validation_acks")
    op.execute("DROP FUNCTION balance_tui_notify_ack()")
