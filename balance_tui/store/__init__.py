"""The SQL store: the bot's books, kept across restarts (SQLite by default, PostgreSQL when shared)."""
