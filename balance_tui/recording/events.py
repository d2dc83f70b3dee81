"""The things a replay announces and steps to: adjustments, acknowledgements, feed events, resyncs that found
blind changes, a session taken over, and the recorder's own starts and stops. Each is a row of `events`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from balance_tui.store.tables import BalanceAdjustment, ValidationAck
from balance_tui.tui.formatting import amount, signed  # as the live console says them (no Textual in it)
from balance_tui.view import View


class EventKind(StrEnum):
    ADJUSTMENT = "adjustment"  # an operator changed a balance in the store
    FEED = "feed"  # a feed event (View.feed.events): connected, gap, stale, resync, ...
    BLIND_CHANGE = "blind change"  # a resync found a balance that moved while the feed was down
    SESSION_LOST = "session lost"  # another console took the trading session over
    ACKNOWLEDGEMENT = "acknowledgement"  # an operator acknowledged a validation issue, with a note
    RECORDING = "recording"  # the recorder started, continued the file, or stopped


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    at: datetime
    kind: EventKind
    asset: str | None  # the asset it is about, if any
    text: str  # one line, as announced


def new_feed_events(last: View | None, view: View) -> Iterator[tuple[datetime, EventKind, str | None, str]]:
    """What `view` shows that `last` did not, oldest first; nothing for the first view of a run (what it
    shows happened before the recording)."""
    if last is None:
        return
    events, seen = view.feed.events, last.feed.events
    if events is not seen:
        fresh = events[: events.index(seen[0])] if seen and seen[0] in events else events
        for event in reversed(fresh):
            yield event.at, EventKind.FEED, None, f"{event.kind.value}: {event.text}"
    changes = view.feed.blind_changes
    if changes and changes is not last.feed.blind_changes:
        for change in changes:
            before = "new" if change.before is None else amount(change.before)
            yield (
                change.found_at,
                EventKind.BLIND_CHANGE,
                change.asset,
                (f"{change.asset} moved while the feed was down: {before} -> {amount(change.after)}"),
            )
    if view.store.session_lost and not last.store.session_lost:
        yield view.now, EventKind.SESSION_LOST, None, "another console took the trading session over"


def adjustment_text(adjustment: BalanceAdjustment) -> str:
    return (
        f"{adjustment.operator} adjusted {adjustment.asset} {amount(adjustment.before)} -> {amount(adjustment.after)} "
        f"({signed(adjustment.delta)}): {adjustment.reason}"
    )


def acknowledgement_text(ack: ValidationAck) -> str:
    return f"{ack.operator} acknowledged {ack.issue}: {ack.reason}"
