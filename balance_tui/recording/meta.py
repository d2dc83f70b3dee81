"""What a recording says about itself (its `meta` table), and the checks that tell a recording this version
can read from anything else, with a one-line reason naming the file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from balance_tui.recording.format import FORMAT_VERSION, decode_time


class RecordingError(Exception):
    """A file that cannot be recorded to or replayed; the message names it and says why, in one line."""


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    format_version: int
    app_version: str  # of the balance-tui that last wrote to it
    started_at: datetime
    ended_at: datetime | None  # None while it is recorded, or after a recorder that did not stop cleanly
    exchange_label: str
    quote: str
    refresh_hz: int
    config: Mapping[str, object]  # what it was recorded with (no secrets): exchange, value_in, sim seed, ...


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing file; RecordingError if there is none or it cannot be opened."""
    if not path.is_file():
        raise RecordingError(f"{path}: no such recording" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise RecordingError(f"{path}: cannot be read: {exc}") from None


def read_meta(path: Path, db: sqlite3.Connection | None = None) -> RecordingMeta:
    """The file's meta, checked: RecordingError if it is not a recording or is of a newer format."""
    own = db is None
    db = db or connect(path)
    try:
        try:
            rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc):
                raise RecordingError(f"{path}: not a balance-tui recording (no meta table)") from None
            if "not a database" in str(exc):
                raise RecordingError(f"{path}: not a balance-tui recording ({exc})") from None
            raise RecordingError(f"{path}: cannot be read: {exc}") from None
    finally:
        if own:
            db.close()
    try:
        version = int(rows["format_version"])
    except (KeyError, ValueError):
        version = 0
    if version < 1:
        raise RecordingError(f"{path}: not a balance-tui recording (no format version in its meta)")
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{path}: recording format {version} (written by balance-tui {rows.get('app_version', '?')}) is newer "
            f"than this version reads (format {FORMAT_VERSION} and older): replay it with a newer balance-tui"
        )
    try:
        return RecordingMeta(
            format_version=version,
            app_version=rows["app_version"],
            started_at=decode_time(rows["started_at"]),
            ended_at=decode_time(rows["ended_at"]) if rows.get("ended_at") else None,
            exchange_label=rows["exchange_label"],
            quote=rows["quote"],
            refresh_hz=int(rows["refresh_hz"]),
            config=MappingProxyType(json.loads(rows.get("config") or "{}")),
        )
    except (KeyError, ValueError) as exc:
        raise RecordingError(f"{path}: its meta is damaged ({exc})") from None
