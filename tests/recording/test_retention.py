"""Retention drops whole segments from the oldest: what is left starts at a keyframe and replays exactly."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from balance_tui.recording import Recorder, Recording
from balance_tui.recording.format import encode
from balance_tui.store import books
from balance_tui.store.identity import Operator
from tests.recording.stepping import frozen, record
from tests.tui.recorded import adjust


def kept(path: Path) -> tuple[str, int, int]:
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT kind FROM frames ORDER BY id LIMIT 1").fetchone()[0]
        keyframes = db.execute("SELECT count(*) FROM frames WHERE kind = 'keyframe'").fetchone()[0]
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return first, keyframes, events


async def test_old_segments_go_and_the_rest_replays_as_it_was_recorded(make_config, tmp_path: Path) -> None:
    path = tmp_path / "aged.rec"
    async with frozen(make_config) as (backend, clock):
        await adjust(backend, "USD", Decimal("100"), "opening float", Operator("alice"))  # before the recording
        async with Recorder(backend, path, keep_hours=3 / 60) as recorder:
            live = await record(backend, clock, recorder, 300)  # ten minutes in all, keeping three
            await adjust(backend, "USD", Decimal("12.5"), "fee refund", Operator("alice"))  # before the cutoff
            live += await record(backend, clock, recorder, 300)
        assert backend.session is not None and backend.session.id is not None
        session_id, tracked = backend.session.id, books.read_balances(backend.store, backend.session.id)
    with Recording.open(path) as recording:
        # The books as they stood when the kept part starts: of the versions read before it, the latest stay.
        assert books.read_balances(recording.books_at(recording.start), session_id) == tracked
        assert [b.total for b in tracked] == [Decimal("112.5")]
        # The segment holding the cutoff stays, so three minutes back still replays: at most a keyframe
        # interval more than asked is kept, checked once a minute.
        cutoff = live[-1].now - timedelta(minutes=3)
        assert cutoff - timedelta(seconds=60) <= recording.start <= cutoff
        assert kept(path)[0] == "keyframe" and kept(path)[1] in (4, 5)
        for view in live:
            if view.now >= recording.start:
                assert encode(recording.view_at(view.now)) == encode(view)
        assert all(e.at >= recording.start for e in recording.events_between(live[0].now, live[-1].now))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM recorded_account_balances").fetchone() == (1,)  # not the 100


async def test_a_file_over_its_size_loses_its_oldest_segments_but_never_the_last(make_config, tmp_path: Path) -> None:
    path = tmp_path / "sized.rec"
    # Each of the file's 14 tables and indexes takes a page (8 kB) even empty: 0.25 MB is a few segments.
    async with frozen(make_config) as (backend, clock), Recorder(backend, path, max_mb=0.25) as recorder:
        live = await record(backend, clock, recorder, 600)
    size = path.stat().st_size
    with Recording.open(path) as recording:
        assert recording.start > live[0].now  # something went
        assert kept(path)[0] == "keyframe"
        assert size <= 0.25 * 1024 * 1024 + 64 * 1024  # the bound, give or take what the last minute added
        for view in live:
            if view.now >= recording.start:
                assert encode(recording.view_at(view.now)) == encode(view)
