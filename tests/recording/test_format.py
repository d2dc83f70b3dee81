"""A view survives the recording format: whole (a keyframe) and as what changed since the last (a delta)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass, replace
from datetime import timedelta
from decimal import Decimal as D
from enum import Enum
from types import MappingProxyType
from typing import get_args, get_origin, get_type_hints

from balance_tui.core.history import HistoryEntry
from balance_tui.recording.format import FORMAT_VERSION, apply, diff, encode, is_still, keyframe, pack, unpack
from balance_tui.view import AssetHistoryView, View
from tests.recording.views import BTC, NOW, full_view, history, unset_fields


def test_the_hand_built_view_sets_every_field() -> None:
    view, empty = full_view(), View(now=NOW)
    assert unset_fields(view, empty) == ["now"]
    for f in fields(view):
        part = getattr(view, f.name)
        if hasattr(part, "__dataclass_fields__"):
            assert unset_fields(part, type(part)()) == [], f.name


def test_a_keyframe_gives_the_view_back_exactly() -> None:
    view = full_view()
    stored = unpack(pack(keyframe(view)))  # through JSON text and back
    back = apply(View(now=view.now), stored)
    assert back == view
    assert encode(back) == encode(view)
    assert back.balances["BTC"].hold.credit_used.as_tuple() == D("0E-8").as_tuple()  # the exponent kept
    assert back.now.utcoffset() == timedelta(0) and back.now == NOW
    assert isinstance(back.balances, MappingProxyType) and isinstance(back.balances["BTC"].wallets[0], tuple)


def test_a_delta_holds_only_what_changed_and_a_grown_history_only_its_new_entries() -> None:
    old = full_view()
    btc_row = old.history["BTC"]
    grown = AssetHistoryView("BTC", 10, (btc_row.history + history(2, start=120))[-120:], None, 1240.0)
    moved = BTC._replace(total=D("1.6"), updated_at=NOW)
    new = replace(
        old,
        now=NOW + timedelta(seconds=1),
        balances=MappingProxyType({"BTC": moved}),  # USD gone
        feed=replace(old.feed, messages=1240),
        history=MappingProxyType({"BTC": grown, "USD": old.history["USD"]}),
    )
    delta = unpack(pack(diff(old, new)))
    assert set(delta) == {"now", "parts", "mappings", "grow"}
    assert delta["parts"] == {"feed": {"messages": 1240}}
    assert delta["mappings"] == {
        "balances": {
            "put": {"BTC": json.loads(json.dumps(delta["mappings"]["balances"]["put"]["BTC"]))},
            "del": ["USD"],
        }
    }
    assert len(delta["grow"]["BTC"]["add"]) == 2 and "history" not in delta["mappings"]
    back = apply(old, delta)
    assert back == new and encode(back) == encode(new)
    # What the delta left alone is the very object the old view held: the panes redraw only what changed.
    assert back.feed.events is old.feed.events and back.history["USD"] is old.history["USD"]
    assert back.engine is old.engine and back.history["BTC"].history[0] is old.history["BTC"].history[2]


def test_a_history_that_did_not_only_grow_is_recorded_whole() -> None:
    old = full_view()
    rewritten = AssetHistoryView("USD", 3, (HistoryEntry(NOW, D(5), D(0), "rest"),), None, 100.0)
    new = replace(old, history=MappingProxyType({**old.history, "USD": rewritten}))
    delta = diff(old, new)
    assert "grow" not in delta and list(delta["mappings"]["history"]["put"]) == ["USD"]
    assert apply(old, delta) == new


def test_only_time_passing_is_still() -> None:
    view = full_view()
    assert is_still(diff(view, replace(view, now=NOW + timedelta(seconds=5))))
    assert not is_still(diff(view, replace(view, total=D(1))))


def test_a_payload_is_compressed_only_when_that_pays() -> None:
    big, small = keyframe(full_view()), {"now": NOW.isoformat()}
    assert isinstance(pack(big), bytes) and unpack(pack(big)) == json.loads(json.dumps(big))
    assert isinstance(pack(small), str) and unpack(pack(small)) == small


def shape(kind: object, seen: frozenset[object] = frozenset()) -> object:
    """The names and types of a recorded type's fields, all the way down: what a recording's JSON holds.
    A NamedTuple is a JSON array, so its fields are listed in order; a dataclass is an object."""
    if isinstance(kind, type) and kind not in seen:
        if is_dataclass(kind):
            hints = get_type_hints(kind)
            return {f.name: shape(hints[f.name], seen | {kind}) for f in fields(kind)}
        if hasattr(kind, "_fields"):
            hints = get_type_hints(kind)
            return [[name, shape(hints[name], seen | {kind})] for name in kind._fields]  # type: ignore[attr-defined]
        if issubclass(kind, Enum):
            return sorted(member.value for member in kind)
        return kind.__name__
    if args := get_args(kind):
        return [str(get_origin(kind)), *(shape(arg, seen) for arg in args)]
    return str(kind)


# What each FORMAT_VERSION's View holds (format 2 added tables beside the frames, and to the prices whether
# they come from REST and why its last poll failed: a format-1 file reads them as their defaults; format 3
# added only tables, the books', so its View is format 2's).
# When this changes, a recording written now would be misread by the version
# before: raise FORMAT_VERSION (so that version refuses it, saying so), make sure this one still reads
# older files (a field new since then takes its default; a renamed or removed one needs an upgrade in
# `apply`), and put the new digest here.
SHAPE_OF_FORMAT = {1: "337ee9d218ae4f31", 2: "1c15ca9a20cbff71", 3: "1c15ca9a20cbff71"}


def test_the_view_has_the_shape_its_format_version_says() -> None:
    digest = hashlib.sha256(json.dumps(shape(View), sort_keys=True).encode()).hexdigest()[:16]
    assert SHAPE_OF_FORMAT.get(FORMAT_VERSION) == digest, (
        f"View's shape changed (digest {digest}): raise FORMAT_VERSION (now {FORMAT_VERSION}) if a recording "
        "written now would be misread by the version before; see SHAPE_OF_FORMAT"
    )
