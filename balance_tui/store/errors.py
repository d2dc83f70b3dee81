"""What the store refuses, and why: every message names what was wrong, and nothing was written."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from balance_tui.store.books import BalanceView


class StoreError(Exception):
    """Base of the store's refusals; the message is meant for the operator as it stands."""


class ReadOnlyStoreError(StoreError):
    """This console was opened read-only: it watches, it never writes."""


class InvalidInput(StoreError):
    """Bad input (amount, precision, reason, asset, key): rejected before anything was written."""


class AdjustmentConflict(StoreError):
    """The balance changed after the operator read it; nothing was written until they re-confirm. `current` is
    the balance as it is now, for a console to say it in its own number format (`books.conflict_message`)."""

    def __init__(
        self, message: str, *, asset: str, expected_version: int, current_version: int, current: BalanceView
    ) -> None:
        super().__init__(message)
        self.asset = asset
        self.expected_version = expected_version
        self.current_version = current_version
        self.current = current


class IdempotencyMismatch(StoreError):
    """An idempotency key was reused for a different adjustment."""


class SessionError(StoreError):
    """No session to write to, or one that cannot be used the way asked."""


class DatabaseURLError(StoreError):
    """A database URL this console cannot use: not a URL, or a database or driver it does not speak."""


class StoreUnavailable(StoreError):
    """The database the URL names cannot be opened: not a database file, a directory, a server that does not
    answer or refuses the login. Nothing was written."""


class SchemaError(StoreError):
    """The database schema is not the one this version of the console expects."""


class PositionError(StoreError):
    """A position that cannot be opened or closed as asked; nothing was written."""
