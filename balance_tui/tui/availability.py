"""What the console cannot do now, and why: the one rule its keys (`check_action`), its footer, its palette
and the notice of a disabled key all follow.

A reason is a `Rule`: the actions it stops, when (a question about the backend) and in what words; a new
reason is one more entry in `RULES`. A replay has no backend: what it cannot do is in `ON_A_RECORDING`,
and what its recording lacks (`on_a_recording`). A widget whose key also waits on its own state (the issues
pane: an issue selected) `Explains` it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from balance_tui.backend import Backend

WRITES = frozenset({"adjust", "undo", "acknowledge"})  # they write to the store
ADJUSTS = frozenset({"adjust", "undo"})  # they write to the books of this console's own session
# Everything that reads or writes the backend: none of it runs before the backend is ready.
NEEDS_BACKEND = WRITES | {"books", "sessions", "ledger", "asset"}


@dataclass(frozen=True, slots=True)
class Rule:
    actions: frozenset[str]
    applies: Callable[[Backend], bool]
    reason: str


RULES: tuple[Rule, ...] = (
    Rule(
        WRITES, lambda b: b.read_only, "this console is read-only (--read-only or [store] read_only): it writes nothing"
    ),
    Rule(ADJUSTS, lambda b: b.session is None, "this console has no trading session of its own to adjust"),
)


ON_A_RECORDING = {
    **dict.fromkeys(WRITES, "replay: a recording is read-only"),
    "pause": "replay: space plays and pauses the recording",
}


@runtime_checkable
class Explains(Protocol):
    """A node that says why one of its own keys cannot run now: the rules above, then its own reasons."""

    def unavailable(self, action: str) -> str: ...


def on_a_recording(screens_missing: str, books_missing: str) -> Mapping[str, str]:
    """What a replay cannot do: ON_A_RECORDING, and the screens whose tables its recording lacks, saying
    why: the asset and ledger screens (Recording.screens_missing), the books and sessions (books_missing)."""
    missing = dict.fromkeys(("ledger", "asset"), screens_missing) | dict.fromkeys(("books", "sessions"), books_missing)
    return {**ON_A_RECORDING, **{action: why for action, why in missing.items() if why}}


class Console(Protocol):
    """What the rule reads of the app (BalanceApp)."""

    backend: Backend | None
    backend_error: str  # why the backend stopped, once it has
    replaying: bool  # a recording, not the backend (tui/replay.py)
    on_a_recording: Mapping[str, str]  # then, what it cannot do and why


def unavailable(console: Console, action: str) -> str:
    """Why `action` cannot run now, in words; empty when it can (and for actions no rule is about)."""
    if console.replaying:
        return console.on_a_recording.get(action, "")
    if action not in NEEDS_BACKEND:
        return ""
    backend = console.backend
    if backend is None:
        return console.backend_error or "the console is still starting"
    return next((rule.reason for rule in RULES if action in rule.actions and rule.applies(backend)), "")


def check(console: Console, action: str) -> bool | None:
    """For `check_action`: True when `action` can run, None (its key shown disabled) when not."""
    return None if unavailable(console, action) else True
