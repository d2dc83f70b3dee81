"""`Recording`: a recording file read back as the views the console drew, at any instant.

Opening reads only the frames' times (an index); `view_at` decodes from the keyframe at or before the
instant, or carries on from the last view it gave when that is on the way (playing forward decodes each
delta once), so a seek costs at most one keyframe interval of deltas. `refresh` takes the frames a recorder
still writing the file has added since. What the asset and ledger screens read (samples, ledger entries,
open orders) is in tables of their own (format 2 on): `history` is an engine the store's queries run on;
what the books and sessions screens read (format 3 on) too, as of an instant: `books_at`.
"""

from __future__ import annotations

import sqlite3
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import overload

from sqlalchemy import Engine

from balance_tui.recording import store_tables
from balance_tui.recording.events import EventKind, RecordedEvent
from balance_tui.recording.format import (
    BOOKS_SINCE,
    KEYFRAME,
    SCREENS_SINCE,
    OrderHolds,
    apply,
    decode_orders,
    decode_time,
    from_micros,
    micros,
    unpack,
)
from balance_tui.recording.meta import RecordingError, RecordingMeta, connect, read_meta
from balance_tui.view import View


class FrameTimes(Sequence[datetime]):
    """Every frame's time, ascending; kept as integers (8 bytes a frame), made datetimes when asked."""

    def __init__(self, at_us: array[int]) -> None:
        self._at_us = at_us

    def __len__(self) -> int:
        return len(self._at_us)

    @overload
    def __getitem__(self, index: int) -> datetime: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[datetime]: ...
    def __getitem__(self, index: int | slice) -> datetime | Sequence[datetime]:
        if isinstance(index, slice):
            return FrameTimes(self._at_us[index])
        return from_micros(self._at_us[index])


class Recording:
    """Open with `Recording.open(path)`; close when done (or use it as a context manager)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path, self._db = path, db
        self.meta: RecordingMeta = read_meta(path, db)
        # Read row by row into arrays: a week at 4 frames a second is 2.4 million rows.
        self._ids, self._at_us, self._keys = array("q"), array("q"), array("q")  # _keys: positions of keyframes
        self._read_frames(0)
        if not self._keys:
            raise RecordingError(f"{path}: holds no frames yet")
        self.times: Sequence[datetime] = FrameTimes(self._at_us)
        self._cached: tuple[int, View] | None = None  # the position and view of the last frame decoded

    def _read_frames(self, after_id: int) -> None:
        """Index the frames after `after_id`."""
        try:
            rows = self._db.execute(
                "SELECT id, at_us, kind = ? FROM frames WHERE id > ? ORDER BY id", (KEYFRAME, after_id)
            )
            for frame_id, at_us, is_key in rows:
                if is_key:
                    self._keys.append(len(self._ids))
                if self._keys:  # a damaged file whose first frames are deltas is read from its first keyframe
                    self._ids.append(frame_id)
                    self._at_us.append(at_us)
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: cannot be read: {exc}") from None

    @property
    def being_recorded(self) -> bool:
        """A recorder has it open (or stopped without closing it: a crash leaves no end time)."""
        return self.meta.ended_at is None

    def refresh(self) -> bool:
        """Take the frames written since it was opened or last refreshed, and whether the recorder has
        stopped since; True if there are new frames."""
        if not self.being_recorded:
            return False
        known = len(self._ids)
        self._read_frames(self._ids[-1])
        try:
            ended = self._db.execute("SELECT value FROM meta WHERE key = 'ended_at'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: cannot be read: {exc}") from None
        if ended and ended[0]:
            self.meta = replace(self.meta, ended_at=decode_time(ended[0]))
        return len(self._ids) > known

    @property
    def screens_missing(self) -> str:
        """Why the asset and ledger screens cannot be shown from this file; empty when they can."""
        return self._lacks("ledger entries, balance samples or open orders", SCREENS_SINCE)

    @property
    def books_missing(self) -> str:
        """Why the books and sessions screens cannot be shown from this file; empty when they can."""
        return self._lacks("tracked balances, positions, adjustments or sessions", BOOKS_SINCE)

    def _lacks(self, what: str, since: int) -> str:
        version = self.meta.format_version
        if version >= since:
            return ""
        name = self.path.name
        return f"replay: {name} is of recording format {version}, which kept no {what} (format {since} on does)"

    def books_at(self, at: datetime) -> Engine:
        """The recorded books as they stood at `at`, for the store's own queries (store.books, store.sessions)."""
        return store_tables.books_as_of(self.path, at)

    def books_changed(self, after: datetime, until: datetime) -> bool:
        """The books as of `until` differ from those as of `after` (either may be the earlier)."""
        try:
            return store_tables.changed_between(self._db, after, until)
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: cannot be read: {exc}") from None

    @cached_property
    def history(self) -> Engine:
        """The recorded samples and ledger entries, for the store's own queries (store.history)."""
        return store_tables.reader(self.path)

    def orders_at(self, at: datetime) -> OrderHolds:
        """The open orders as of `at`, with what each holds."""
        try:
            row = self._db.execute(
                "SELECT payload FROM orders WHERE at_us <= ? ORDER BY at_us DESC, id DESC LIMIT 1", (micros(at),)
            ).fetchone()
            return () if row is None else decode_orders(row[0])
        except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: pydantic's, for a damaged row
            raise RecordingError(f"{self.path}: cannot be read: its open orders are damaged ({exc})") from None

    @classmethod
    def open(cls, path: Path | str) -> Recording:
        path = Path(path)
        db = connect(path)
        try:
            return cls(path, db)
        except BaseException:
            db.close()
            raise

    @property
    def start(self) -> datetime:
        return self.times[0]

    @property
    def end(self) -> datetime:
        return self.times[-1]

    def view_at(self, at: datetime) -> View:
        """What the console drew at `at`: the last frame at or before it (the first, before the start),
        with `now` = `at` so every age keeps counting."""
        position = max(bisect_right(self._at_us, micros(at)) - 1, 0)
        return replace(self._frame(position), now=at)

    def events_between(self, after: datetime, until: datetime) -> list[RecordedEvent]:
        """Events in (after, until], oldest first."""
        rows = self._db.execute(
            "SELECT at_us, kind, asset, text FROM events WHERE at_us > ? AND at_us <= ? ORDER BY at_us, id",
            (micros(after), micros(until)),
        ).fetchall()
        return [RecordedEvent(from_micros(at_us), EventKind(kind), asset, text) for at_us, kind, asset, text in rows]

    def close(self) -> None:
        if "history" in self.__dict__:
            self.history.dispose()
        self._db.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _frame(self, position: int) -> View:
        key = self._keys[bisect_right(self._keys, position) - 1]
        if self._cached is not None and key <= self._cached[0] <= position:
            start, view = self._cached
            payloads = self._payloads(start + 1, position) if start < position else []
        else:
            start, view = key, View(now=from_micros(self._at_us[key]))
            payloads = self._payloads(key, position)
        for offset, payload in enumerate(payloads):
            try:
                view = apply(view, unpack(payload))
            except (zlib.error, ValueError, KeyError, TypeError) as exc:  # ValueError: JSON's and pydantic's
                frame = position - len(payloads) + 1 + offset
                raise RecordingError(f"{self.path}: cannot be read: frame {frame} is damaged ({exc})") from None
        self._cached = (position, view)
        return view

    def _payloads(self, first: int, last: int) -> list[str | bytes]:
        """The stored payloads of the frames at positions first..last, in order."""
        try:
            rows = self._db.execute(
                "SELECT payload FROM frames WHERE id >= ? AND id <= ? ORDER BY id", (self._ids[first], self._ids[last])
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise RecordingError(f"{self.path}: cannot be read: {exc}") from None
        if len(rows) != last - first + 1:
            raise RecordingError(f"{self.path}: frames were pruned while it was open: open it again")
        return [row[0] for row in rows]
