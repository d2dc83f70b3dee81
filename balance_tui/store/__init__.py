"""The SQL store: the bot's books, kept across restarts (SQLite by default, PostgreSQL when shared).

- `migrate.open_store(url, read_only=...)` opens it (migrating, or checking the schema when read-only);
  `engine.database_url` says which URL wins ($DATABASE_URL over `[store] database_url`).
- `sessions`: resume, continue or start a trading session; heartbeat; close; crash detection.
- `books`: balances and operators' adjustments (set, delta, undo), idempotent and conflict-checked.
- `positions`: open and close positions; their cost is reserved and their P&L booked.
- `history`: the batch writer for samples and ledger entries, and sparkline queries.
- `watch`: an async iterator of adjustments made by other consoles.
- `acks`, `maintenance` (verify, backup), `export`; `identity` (who), `money` (exact amounts).

Read-only watchers on PostgreSQL connect as a role that can only read, so a watcher cannot write even by
going around the console (`default_transaction_read_only` alone does not do it: a session can turn it
off). Run as the role that migrates the store (here `balance_owner`):

    CREATE ROLE balance_watcher LOGIN PASSWORD '...';
    GRANT USAGE ON SCHEMA public TO balance_watcher;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO balance_watcher;
    ALTER DEFAULT PRIVILEGES FOR ROLE balance_owner IN SCHEMA public GRANT SELECT ON TABLES TO balance_watcher;

and give the watcher's console `[store] read_only = true` (it then refuses writes itself, never migrates,
and still receives other consoles' adjustments: LISTEN needs no privilege).
"""
