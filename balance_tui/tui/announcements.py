"""What happened between two ticks, announced once rather than drawn: a resync found changes made while the
feed was down; another console took the session over. `announcements(previous, view)` gives the messages."""

from __future__ import annotations

from textual.message import Message

from balance_tui.core.health import BlindChange
from balance_tui.view import View


class FeedResynced(Message):
    """The feed came back, and its resync snapshot found balances that moved while it could not see them."""

    def __init__(self, changes: tuple[BlindChange, ...]) -> None:
        super().__init__()
        self.changes = changes


class SessionLost(Message):
    """Another console took this console's trading session over: this one no longer writes to it."""


def announcements(previous: View | None, view: View) -> list[Message]:
    """What happened since `previous`, once each. Blind changes compare by identity: each resync makes a
    new tuple, so a second resync that finds the same changes is announced again."""
    found: list[Message] = []
    if view.store.session_lost and (previous is None or not previous.store.session_lost):
        found.append(SessionLost())
    changes = view.feed.blind_changes
    if changes and (previous is None or changes is not previous.feed.blind_changes):
        found.append(FeedResynced(changes))
    return found
