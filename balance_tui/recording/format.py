"""A recording's file format: the SQLite schema, and a `View` as JSON, whole or as what changed since the last.

A frame's payload is a delta: the parts of the view that differ from the one before it. A keyframe is the
delta from an empty `View`, so one `apply` reads both. Amounts are exact decimal strings, times ISO 8601,
enums their values, tuples (NamedTuples too) JSON arrays: pydantic does the typed work, part by part.
A history row that only gained entries records the new ones (`grow`), not its 120 again.
`apply` keeps every part a delta leaves alone as the same object, as the live view does between ticks:
the panes redraw a part only when it `is not` the one they drew.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import Any, get_args, get_origin, get_type_hints

from pydantic import TypeAdapter

from balance_tui.core.orders import OpenOrder
from balance_tui.view import AssetHistoryView, View

# Raise it whenever a file this version writes would be misread by the one before (a View field or enum
# value added, renamed or removed: tests/recording/test_format.py notices): that one then refuses it,
# saying so. A file of an older version is read here as it is: a field new since then takes its default.
FORMAT_VERSION = 3
# Format 2 added what the asset and ledger screens read (the store's `balance_samples` and `ledger_entries`
# tables, recording/store_tables.py, and the open orders) and acknowledgements as events; a file of format 1
# replays without those screens, saying why. Format 3 added what the books and sessions screens read (the
# store's books tables, as versions: recording/store_tables.py); a file of format 2 replays without them.
SCREENS_SINCE = 2
BOOKS_SINCE = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,           -- the view's `now`, microseconds since the Unix epoch
    kind TEXT NOT NULL,               -- 'keyframe' | 'delta'
    payload BLOB NOT NULL             -- JSON text, or zlib-compressed JSON as a BLOB where that is smaller
);
CREATE INDEX IF NOT EXISTS frames_at ON frames (at_us);
CREATE INDEX IF NOT EXISTS keyframes_at ON frames (at_us) WHERE kind = 'keyframe';
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    asset TEXT,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (at_us);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    payload BLOB NOT NULL             -- every open order then, with what it holds (as frames' payloads are
                                      -- stored): written when they change
);                                    -- and at each keyframe, so what retention leaves starts with them
CREATE INDEX IF NOT EXISTS orders_at ON orders (at_us);
"""
KEYFRAME, DELTA = "keyframe", "delta"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Every field of View but `now`, by how a delta records it; taken from the types, so a new field is recorded.
_HINTS = get_type_hints(View)
_FIELDS = tuple(f.name for f in fields(View) if f.name != "now")
MAPPINGS = tuple(n for n in _FIELDS if get_origin(_HINTS[n]) is Mapping)  # by asset: changed and removed keys
PARTS = tuple(n for n in _FIELDS if is_dataclass(_HINTS[n]))  # dataclasses: only their changed fields
WHOLE = tuple(n for n in _FIELDS if n not in MAPPINGS + PARTS)  # the rest: whole when changed
_ABSENT = object()
_HISTORY_ENTRIES = TypeAdapter(get_type_hints(AssetHistoryView)["history"])
_DATETIME = TypeAdapter(datetime)
OrderHolds = tuple[tuple[OpenOrder, tuple[str, Decimal] | None], ...]  # as OpenOrders.listed() gives them
_ORDERS = TypeAdapter(OrderHolds)


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


@cache
def _part_hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)


def _whole(name: str) -> TypeAdapter[Any]:
    return _adapter(_HINTS[name])


def _entry(name: str) -> TypeAdapter[Any]:
    """A mapping's value type: Mapping[str, X] -> X."""
    return _adapter(get_args(_HINTS[name])[1])


def _field(part: object, name: str) -> TypeAdapter[Any]:
    return _adapter(_part_hints(type(part))[name])


def micros(at: datetime) -> int:
    """A time as the frames and events tables index it: whole microseconds since the Unix epoch."""
    return (at - EPOCH) // timedelta(microseconds=1)


def from_micros(at_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=at_us)


def encode_time(at: datetime) -> str:
    return at.isoformat()


def decode_time(text: str) -> datetime:
    return _DATETIME.validate_python(text)


def diff(old: View, new: View) -> dict[str, Any]:
    """What `apply(old, ...)` needs to give `new`; nothing but `now` when only time passed."""
    delta: dict[str, Any] = {"now": encode_time(new.now)}
    whole = {
        name: _whole(name).dump_python(getattr(new, name), mode="json")
        for name in WHOLE
        if getattr(new, name) != getattr(old, name)
    }
    parts = {}
    for name in PARTS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            parts[name] = {
                f.name: _field(after, f.name).dump_python(getattr(after, f.name), mode="json")
                for f in fields(after)
                if getattr(after, f.name) != getattr(before, f.name)
            }
    mappings, grow = {}, {}
    for name in MAPPINGS:
        before, after = getattr(old, name), getattr(new, name)
        if before is after:
            continue
        put = {}
        for key, value in after.items():
            last = before.get(key, _ABSENT)
            if last is value or last == value:
                continue
            if name == "history" and isinstance(last, AssetHistoryView) and (added := _added(last, value)) is not None:
                grow[key] = added
            else:
                put[key] = _entry(name).dump_python(value, mode="json")
        gone = [key for key in before if key not in after]
        if put or gone:
            mappings[name] = {"put": put, "del": gone}
    for key, value in (("whole", whole), ("parts", parts), ("mappings", mappings), ("grow", grow)):
        if value:
            delta[key] = value
    return delta


def _added(last: AssetHistoryView, row: AssetHistoryView) -> dict[str, Any] | None:
    """`row` as the entries it added to `last` and its other fields, if it is `last` grown (and trimmed)."""
    old, new = last.history, row.history
    if not old or not new:
        return None
    try:
        at = len(new) - 1 - new[::-1].index(old[-1])
    except ValueError:
        return None
    added = new[at + 1 :]
    if (old + added)[-len(new) :] != new:
        return None
    return {
        "add": _HISTORY_ENTRIES.dump_python(added, mode="json"),
        "len": len(new),
        "revision": row.revision,
        "trend": _field(row, "trend").dump_python(row.trend, mode="json"),
        "fitted_at": row.fitted_at,
    }


def is_still(delta: dict[str, Any]) -> bool:
    """Only time passed: the console would draw the same things, older."""
    return delta.keys() == {"now"}


# What heartbeats move several times a second while nothing else changes: the feed's message counters,
# and the age of the cache's oldest entry (EngineView.cache.oldest_age), which every read moves.
FEED_COUNTERS = frozenset({"messages", "rate_1s", "rate_1m", "last_message_at", "ping_rtt"})


def is_counters_only(delta: dict[str, Any], old: View, new: View) -> bool:
    """`delta` (from `old` to `new`) moves nothing but those counters: the console draws them in whole
    seconds (the ages) or as rates, so a frame of them a second loses nothing it shows."""
    parts = delta.get("parts", {})
    if delta.keys() != {"now", "parts"} or not parts.keys() <= {"feed", "engine"}:
        return False
    if not parts.get("feed", {}).keys() <= FEED_COUNTERS or not parts.get("engine", {}).keys() <= {"cache"}:
        return False
    cache = new.engine.cache
    return replace(cache, oldest_age=old.engine.cache.oldest_age) == old.engine.cache


def apply(view: View, delta: dict[str, Any]) -> View:
    """`view` changed as `delta` says; the parts it does not name are `view`'s own objects."""
    changes: dict[str, Any] = {"now": decode_time(delta["now"])}
    for name, value in delta.get("whole", {}).items():
        changes[name] = _whole(name).validate_python(value)
    for name, changed in delta.get("parts", {}).items():
        part = getattr(view, name)
        changes[name] = replace(part, **{f: _field(part, f).validate_python(v) for f, v in changed.items()})
    for name in MAPPINGS:
        change, grow = delta.get("mappings", {}).get(name), delta.get("grow") if name == "history" else None
        if change is None and not grow:
            continue
        entries = dict(getattr(view, name))
        for key in (change or {}).get("del", ()):
            entries.pop(key, None)
        for key, value in (change or {}).get("put", {}).items():
            entries[key] = _entry(name).validate_python(value)
        for key, added in (grow or {}).items():
            last = entries[key]
            history = (last.history + _HISTORY_ENTRIES.validate_python(added["add"]))[-added["len"] :]
            trend = _field(last, "trend").validate_python(added["trend"])
            entries[key] = AssetHistoryView(key, added["revision"], history, trend, added["fitted_at"])
        changes[name] = MappingProxyType(entries)
    return replace(view, **changes)


def keyframe(view: View) -> dict[str, Any]:
    """The whole view, as a delta from an empty one."""
    return diff(View(now=view.now), view)


def encode(view: View) -> dict[str, Any]:
    """The whole view as plain JSON values, every field present: what a test compares."""
    return {
        "now": encode_time(view.now),
        **{name: _whole(name).dump_python(getattr(view, name), mode="json") for name in WHOLE},
        **{name: _adapter(type(getattr(view, name))).dump_python(getattr(view, name), mode="json") for name in PARTS},
        **{
            name: {key: _entry(name).dump_python(value, mode="json") for key, value in getattr(view, name).items()}
            for name in MAPPINGS
        },
    }


def pack(payload: dict[str, Any]) -> str | bytes:
    """JSON text, or zlib of it as bytes when that is at least a quarter smaller (the column holds either)."""
    text = json.dumps(payload, separators=(",", ":"))
    raw = text.encode()
    squeezed = zlib.compress(raw, 6)
    return squeezed if len(squeezed) <= len(raw) * 3 // 4 else text


def unpack(stored: str | bytes) -> dict[str, Any]:
    return json.loads(zlib.decompress(stored) if isinstance(stored, bytes) else stored)


def encode_orders(orders: OrderHolds) -> str | bytes:
    return pack(_ORDERS.dump_python(orders, mode="json"))


def decode_orders(stored: str | bytes) -> OrderHolds:
    return _ORDERS.validate_python(unpack(stored))
