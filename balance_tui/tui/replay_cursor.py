"""Where a replay stands in its recording, and how the operator moves it: play at a speed, step by frame or
by minute, jump to a time. No Textual here: the app binds the keys, the time bar draws the state.

The cursor is also the replay's clock: the header's time and every age on screen are the recording's.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from balance_tui.recording import Recording
from balance_tui.recording.events import RecordedEvent

SPEEDS = (1, 2, 5, 10, 30, 60)  # recorded seconds per wall-clock second, as `+` and `-` step through them
MINUTE = timedelta(minutes=1)
_RELATIVE = re.compile(r"([+-])(\d{1,6})([smh])")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}
EXPECTED = "expected HH:MM, HH:MM:SS, an ISO date and time (2026-11-20T12:30:00), or +5m / -1h / +30s"


class JumpError(ValueError):
    """A time to jump to that cannot be read or is not in the recording; the message says which."""


def parse_jump(text: str, at: datetime, start: datetime, end: datetime) -> datetime:
    """The instant `text` names, from the cursor `at`: a time of day (on the recording's day nearest the
    cursor that holds it), an ISO date and time (UTC unless it says otherwise), or a step from the cursor.
    JumpError, naming the entry, if it cannot be read or falls outside start..end."""
    text = text.strip()
    if relative := _RELATIVE.fullmatch(text):
        sign, count, unit = relative.groups()
        step = timedelta(**{_UNITS[unit]: int(count)})
        target = at + step if sign == "+" else at - step
    elif of_day := _TIME_OF_DAY.fullmatch(text):
        hour, minute, second = (int(part or 0) for part in of_day.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise JumpError(f"{text!r}: not a time of day (00:00:00 to 23:59:59)")
        days = [start.date() + timedelta(days=n) for n in range((end.date() - start.date()).days + 1)]
        held = [t for t in (_on(day, time(hour, minute, second)) for day in days) if start <= t <= end]
        if not held:
            raise JumpError(f"{text!r}: the recording holds no such time ({_span(start, end)})")
        return min(held, key=lambda t: abs(t - at))
    else:
        try:
            target = datetime.fromisoformat(text)
        except ValueError:
            raise JumpError(f"{text!r}: {EXPECTED}") from None
        target = target.replace(tzinfo=UTC) if target.tzinfo is None else target.astimezone(UTC)
    if not start <= target <= end:
        raise JumpError(f"{text!r} is {target:%Y-%m-%d %H:%M:%S} UTC, outside the recording ({_span(start, end)})")
    return target


def _on(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=UTC)


def _span(start: datetime, end: datetime) -> str:
    first = f"{start:%Y-%m-%d %H:%M:%S}"
    return f"{first} to {end:%H:%M:%S} UTC" if start.date() == end.date() else f"{first} to {end:%Y-%m-%d %H:%M:%S} UTC"


class ReplayCursor:
    """The instant shown, whether it plays, and how fast. Every move stays within the recording."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.start, self.end = recording.start, recording.end
        self.at = self.start
        self.playing = False
        # Playing reached the end of a file a recorder is still writing: the cursor keeps to its newest frame
        # as frames come, until paused or moved.
        self.following = False
        self.speed = SPEEDS[0]

    # The Clock protocol (balance_tui.core.clock): the replay's time is the cursor's. Only `now` is read (the
    # header); `monotonic` is the recording's seconds from its start, back when the cursor goes back.

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - self.start).total_seconds()

    @property
    def times(self) -> Sequence[datetime]:
        return self.recording.times

    @property
    def progress(self) -> float:
        """How far through the recording, 0 to 1."""
        span = self.end - self.start
        return (self.at - self.start) / span if span else 1.0

    def play(self) -> None:
        """Play, or pause; playing at the end starts again from the start, or follows a file being recorded."""
        if not self.playing and self.at >= self.end and not self.recording.being_recorded:
            self.at = self.start
        self.playing = not self.playing
        self.following = False

    def advance(self, wall_seconds: float) -> None:
        """Playing: `speed` recorded seconds per second of wall time; at the end of a file being recorded
        it follows (at each newest frame), and it pauses at the end of one no longer recorded."""
        if not self.playing:
            return
        if self.following or self.at >= self.end:
            self._take_new_frames()
        if self.following:
            self.at = self.end
        else:
            self.at = min(self.at + timedelta(seconds=wall_seconds * self.speed), self.end)
        if self.at >= self.end:
            self.following = self.recording.being_recorded
            self.playing = self.following

    def _take_new_frames(self) -> None:
        self.recording.refresh()
        self.end = self.recording.end

    def step(self, frames: int) -> bool:
        """To the next frame's time (1) or the one before the cursor (-1); False at either end."""
        times = self.times
        if frames > 0:
            index = bisect_right(times, self.at)
            if index >= len(times):
                return False
        else:
            index = bisect_left(times, self.at) - 1
            if index < 0:
                return False
        self.at, self.following = times[index], False
        return True

    def step_minutes(self, minutes: int) -> bool:
        """A minute on or back, stopping at either end; False if already there."""
        target = min(max(self.at + minutes * MINUTE, self.start), self.end)
        moved, self.at = target != self.at, target
        self.following = self.following and not moved
        return moved

    def jump(self, text: str) -> None:
        """To the time `text` names (parse_jump); JumpError, and the cursor stays, if it names none."""
        self.at, self.following = parse_jump(text, self.at, self.start, self.end), False

    def home(self) -> None:
        self.at, self.following = self.start, False

    def finish(self) -> None:
        """To the newest frame (of a file being recorded: as it is now), paused."""
        self._take_new_frames()
        self.at = self.end
        self.playing = self.following = False

    def faster(self, steps: int) -> bool:
        """The next speed of SPEEDS up (1) or down (-1), clamped at 1x and 60x; False if already there."""
        index = min(max(SPEEDS.index(self.speed) + steps, 0), len(SPEEDS) - 1)
        changed, self.speed = SPEEDS[index] != self.speed, SPEEDS[index]
        return changed

    def passed(self, before: datetime) -> list[RecordedEvent]:
        """What the recording announced between `before` and the cursor, when it moved forward."""
        return self.recording.events_between(before, self.at) if self.at > before else []
