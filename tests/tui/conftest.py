"""Helpers the TUI tests share."""

from __future__ import annotations

from textual.notifications import Notification, Notify


class Notices:
    """Every notification the app raises: `app.run_test(message_hook=notices.hook, notifications=True)`."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []

    def hook(self, message: object) -> None:
        if isinstance(message, Notify):
            self.seen.append(message.notification)

    def titled(self, prefix: str) -> list[Notification]:
        return [n for n in self.seen if n.title.startswith(prefix)]
