"""Bring a store's schema to the newest revision with Alembic, configured in code (no alembic.ini)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from balance_tui.store.engine import create_store_engine
from balance_tui.store.errors import SchemaError, StoreUnavailable


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("balance_tui.store") / "migrations"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store ships at least one migration"
    return head


def open_store(database_url: str, *, read_only: bool = False, create: bool = True) -> Engine:
    """An engine on a store whose schema is current: migrated here, or checked when read-only (it cannot migrate).
    `create=False` refuses a SQLite file that does not exist (`create_store_engine`).

    A database that cannot be opened (not a database file, a server that does not answer or refuses the
    login) is a `StoreUnavailable` naming it and the reason in one line; the migration is one transaction,
    so a failure leaves nothing half-done.
    """
    engine = create_store_engine(database_url, read_only=read_only, create=create)
    try:
        return _checked(engine, read_only=read_only)
    except DBAPIError as exc:
        engine.dispose()
        said = str(exc.orig).strip()  # the driver's own words; psycopg adds a hint on later lines
        reason = said.splitlines()[0] if said else type(exc.orig).__name__
        raise StoreUnavailable(f"cannot open the store {_where(engine)}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise


def _where(engine: Engine) -> str:
    """The store as the operator named it, without a password: a SQLite file's path, else the URL."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _checked(engine: Engine, *, read_only: bool) -> Engine:
    """The engine, once its schema is current (migrated) or checked (read-only)."""
    found, head = current_revision(engine), head_revision()
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if found is not None and found not in known:
        raise SchemaError(
            f"the store's schema is at revision {found}, newer than this console knows ({head}): upgrade balance-tui"
        )
    if not read_only:
        upgrade(engine)
    elif found != head:
        raise SchemaError(
            f"the store's schema is at revision {found or 'none'}, this console needs {head}; "
            "a read-only console cannot migrate it: run `balance-tui db migrate` with a writable account"
        )
    return engine
