"""The store's fixtures (a fresh SQLite file, or a fresh PostgreSQL schema) for the reliability tests."""

from tests.store.conftest import engine, migrated, store_url  # noqa: F401
