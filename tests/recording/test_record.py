"""The recorder against the real simulator, read back: a replayed instant is what the live console read then."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from decimal import Decimal as D
from itertools import pairwise
from pathlib import Path

import pytest

from balance_tui.recording import EventKind, Recorder, Recording, RecordingError
from balance_tui.recording.format import EPOCH, FORMAT_VERSION, encode
from balance_tui.recording.writer import COUNTERS_EVERY
from balance_tui.store import books
from balance_tui.store.history import HistoryPoint, history, ledger
from balance_tui.store.identity import Operator
from balance_tui.store.tables import AdjustmentKind
from balance_tui.view import View
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually, running
from tests.recording.stepping import frozen, record
from tests.recording.views import timeless


async def test_every_recorded_instant_replays_as_the_live_view_read_then(make_config, tmp_path: Path) -> None:
    """A busy simulator on the wall clock, the recorder ticking and flushing as it does by itself."""
    path = tmp_path / "live.rec"
    async with running(make_config(sim={"updates_per_second": 50.0})) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        live: list[View] = []
        async with Recorder(backend, path) as recorder:
            for i in range(60):
                live.append(recorder.tick())
                if i % 10 == 9:
                    await recorder.flush()
                await asyncio.sleep(0.05)
    with Recording.open(path) as recording:
        assert recording.meta.ended_at is not None and recording.meta.exchange_label == "simulator (loopback)"
        assert recording.start == live[0].now and recording.end <= live[-1].now
        assert 1 < len(recording.times) <= len(live)  # a view only time changed is no frame
        changed = {view.now for last, view in pairwise(live) if timeless(last) != timeless(view)}
        assert changed <= set(recording.times)
        for view in live:
            assert encode(recording.view_at(view.now)) == encode(view)


async def test_a_seek_from_a_keyframe_is_the_same_as_playing_from_the_start(make_config, tmp_path: Path) -> None:
    """Five minutes of the console's clock in a few seconds: five keyframes with deltas between them."""
    path = tmp_path / "seek.rec"
    async with frozen(make_config) as (backend, clock), Recorder(backend, path) as recorder:
        await record(backend, clock, recorder, 300, step_every=3)
    with Recording.open(path) as played, Recording.open(path) as sought:
        keyframes = sqlite3.connect(path).execute("SELECT count(*) FROM frames WHERE kind = 'keyframe'").fetchone()
        assert keyframes == (5,)
        folded = [played.view_at(t) for t in played.times]  # each from the one before: every delta applied once
        for t, view in reversed(list(zip(played.times, folded, strict=True))):  # each a seek, newest first
            assert encode(sought.view_at(t)) == encode(view)
            assert sought.view_at(t) == view
        between = played.view_at(played.times[10] + timedelta(milliseconds=500))
        assert between.now == played.times[10] + timedelta(milliseconds=500)
        assert timeless(between) == timeless(folded[10])
        before = played.view_at(played.start - timedelta(hours=1))
        assert timeless(before) == timeless(folded[0])


async def test_adjustments_and_feed_events_are_recorded_as_events(make_config, tmp_path: Path) -> None:
    path, clock = tmp_path / "events.rec", FrozenClock()
    async with running(make_config(), clock=clock) as backend:
        sim, session = backend.simulator, backend.session
        assert sim is not None and session is not None and session.id is not None
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        async with Recorder(backend, path) as recorder:
            recorder.tick()
            clock.advance(1)
            await recorder.flush()
            books.adjust(
                backend.store,
                session_id=session.id,
                asset="USD",
                amount=D("12258.5"),
                kind=AdjustmentKind.DELTA,
                reason="fee refund",
                operator=Operator("alice"),
                idempotency_key="refund-1",
                now=clock.now(),
            )
            await sim.drop_clients()
            await eventually(lambda: backend.manager.health.reconnects == 1, what="the reconnect")
            await eventually(lambda: backend.manager.health.state.value == "live", what="live again")
            clock.advance(1)
            recorder.tick()
            await recorder.flush()
    with Recording.open(path) as recording:
        events = recording.events_between(recording.start - timedelta(hours=1), clock.now())
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.RECORDING and events[0].text == "recording started"
    (adjustment,) = [e for e in events if e.kind is EventKind.ADJUSTMENT]
    assert adjustment.asset == "USD"
    assert adjustment.text == "alice adjusted USD 0 -> 12,258.5 (+12,258.5): fee refund"  # as the live console says it
    feed = [e.text for e in events if e.kind is EventKind.FEED]
    assert any(text.startswith("closed") for text in feed) and any(text.startswith("connected") for text in feed)
    assert events[-1].text == "recording stopped"


def test_a_file_that_is_not_a_recording_is_refused_by_name(tmp_path: Path) -> None:
    missing, text, other = tmp_path / "missing.rec", tmp_path / "notes.txt", tmp_path / "other.db"
    text.write_text("hello\n" * 100)
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for path, reason in (
        (missing, "no such recording"),
        (text, "not a balance-tui recording"),
        (other, "not a balance-tui recording (no meta table)"),
        (tmp_path, "no such recording (it is a directory)"),
    ):
        with pytest.raises(RecordingError) as caught:
            Recording.open(path)
        assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value)


async def test_a_newer_format_is_refused_saying_which_versions(make_config, tmp_path: Path) -> None:
    path = tmp_path / "newer.rec"
    async with running(make_config()) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        async with Recorder(backend, path) as recorder:
            recorder.tick()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
        db.execute("UPDATE meta SET value = '9.0.0' WHERE key = 'app_version'")
    with pytest.raises(
        RecordingError,
        match=r"recording format 99 \(written by balance-tui 9\.0\.0\) is newer than "
        rf"this version reads \(format {FORMAT_VERSION} and older\)",
    ):
        Recording.open(path)
    async with running(make_config()) as backend:
        with pytest.raises(RecordingError, match="recording format 99"):
            async with Recorder(backend, path):
                pass


async def test_a_damaged_recording_says_it_cannot_be_read(make_config, tmp_path: Path) -> None:
    path, garbled = tmp_path / "damaged.rec", tmp_path / "garbled.rec"
    async with running(make_config(sim={"updates_per_second": 50.0})) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        async with Recorder(backend, path) as recorder:
            for _ in range(40):
                recorder.tick()
                await asyncio.sleep(0.02)
    garbled.write_bytes(path.read_bytes())
    with sqlite3.connect(garbled) as db:  # a payload SQLite reads back fine, but not a frame
        db.execute("UPDATE frames SET payload = X'789c0000' WHERE id = (SELECT max(id) FROM frames)")
    data = bytearray(path.read_bytes())
    data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)  # the second half overwritten
    path.write_bytes(data)
    for damaged in (path, garbled):
        with pytest.raises(RecordingError) as caught, Recording.open(damaged) as recording:
            recording.view_at(recording.end)
        assert str(caught.value).startswith(f"{damaged}: cannot be read: ")
    assert "is damaged" in str(caught.value)


async def test_a_clock_stepped_back_keeps_the_frames_in_time_order_from_a_new_keyframe(
    make_config, tmp_path: Path
) -> None:
    path = tmp_path / "stepped.rec"
    async with frozen(make_config) as (backend, clock), Recorder(backend, path) as recorder:
        await record(backend, clock, recorder, 10, step_every=1)
        clock.at -= timedelta(hours=2)  # the wall clock stepped back (NTP), monotonic time went on
        await record(backend, clock, recorder, 10, step_every=1)
    with sqlite3.connect(path) as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM frames ORDER BY id")]
    assert kinds == ["keyframe"] + ["delta"] * 9 + ["keyframe"] + ["delta"] * 9
    with Recording.open(path) as recording:
        assert list(recording.times) == sorted(recording.times) and len(recording.times) == 20


async def test_the_recorder_closes_cleanly_while_a_replay_has_the_file_open(make_config, tmp_path: Path) -> None:
    path = tmp_path / "watched.rec"
    async with frozen(make_config) as (backend, clock), Recorder(backend, path) as recorder:
        await record(backend, clock, recorder, 10, step_every=1)
        watching = Recording.open(path)  # a replay of the recording as it is written
    with watching, Recording.open(path) as after:
        assert len(watching.times) == 10 and len(after.times) == 10 and after.meta.ended_at is not None
        assert watching.view_at(after.end) == after.view_at(after.end)


def last_each_second(points: list[HistoryPoint]) -> list[HistoryPoint]:
    return list({point.observed_at.replace(microsecond=0): point for point in points}.values())


async def test_it_keeps_what_the_asset_and_ledger_screens_read_as_the_store_keeps_it(make_config, tmp_path) -> None:
    """The samples, ledger entries and open orders the engine reported: the store's own queries read the
    same chart points and entries from the recording as from the store the console's writer fills."""
    path = tmp_path / "screens.rec"
    async with frozen(make_config) as (backend, clock):
        async with Recorder(backend, path) as recorder:
            await record(backend, clock, recorder, 120, step_every=4)
        store, orders = backend.store, backend.manager.orders.listed()
        with Recording.open(path) as recording:
            start, end = recording.start, recording.end
            recorded = ledger(recording.history, since=EPOCH)
            assert recorded.total > 10
            await eventually(lambda: ledger(store, since=start, until=end).total == recorded.total, what="the store")
            stored = ledger(store, since=start, until=end)
            assert [e.ledger_id for e in recorded.entries] == [e.ledger_id for e in stored.entries]
            assert {e.type for e in recorded.entries} >= {"trade"}
            compared = 0
            for asset in {e.asset for e in recorded.entries}:
                # The last sample of each second is kept (of those a flush writes): every chart of buckets of a
                # second or more is the same.
                kept = history(recording.history, asset, since=start, until=end, points=500).points
                every = history(store, asset, since=start, until=end, points=500).points
                assert last_each_second(kept) == last_each_second(every) and len(kept) <= len(every)
                for points in (2, 5):  # merged into buckets by both: the same points
                    merged = history(store, asset, since=start, until=end, points=points)
                    recorded_merged = history(recording.history, asset, since=start, until=end, points=points)
                    if recorded_merged.bucket is not None:
                        assert recorded_merged.points == merged.points and merged.bucket == recorded_merged.bucket
                        compared += 1
            assert compared > 0
            assert recording.orders_at(end) == orders and orders
            assert recording.orders_at(start - timedelta(seconds=1)) == ()


async def test_a_frame_that_moves_only_the_feeds_counters_waits_a_second(make_config, tmp_path: Path) -> None:
    """Heartbeats move the message count several times a second; such a frame is written a second after the
    last frame at most, and the recorder's last one is written when it stops."""
    path = tmp_path / "heartbeats.rec"

    def frames() -> int:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*) FROM frames").fetchone()[0]

    async with frozen(make_config) as (backend, clock):
        health = backend.manager.health
        async with Recorder(backend, path) as recorder:
            first = recorder.tick()
            await recorder.flush()
            await eventually(lambda: health.messages > first.feed.messages, what="a heartbeat")
            beat = recorder.tick()  # the same instant of the frozen clock: within the second
            await recorder.flush()
            assert frames() == 1
            clock.advance(COUNTERS_EVERY.total_seconds())
            await eventually(lambda: health.messages > beat.feed.messages, what="another heartbeat")
            later = recorder.tick()
            await recorder.flush()
            assert frames() == 2
            await eventually(lambda: health.messages > later.feed.messages, what="a third heartbeat")
            last = recorder.tick()
        assert frames() == 3  # written as the recorder stopped
    with Recording.open(path) as recording:
        assert encode(recording.view_at(last.now)) == encode(last)
        assert recording.view_at(first.now).feed.messages == first.feed.messages


@pytest.mark.parametrize("version", [1, 2])
async def test_an_older_format_recording_is_not_continued(make_config, tmp_path: Path, version: int) -> None:
    """Frames of two formats in one file would be read with the wrong one: an older file is left as it is
    (replay reads it, without what its format did not keep), and recording to it says to record to another."""
    path = tmp_path / "old.rec"
    async with frozen(make_config) as (backend, _clock):
        async with Recorder(backend, path) as recorder:
            recorder.tick()
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(version),))
        refusal = f"a recording of format {version}; this version writes format {FORMAT_VERSION}: record to"
        with pytest.raises(RecordingError, match=refusal):
            async with Recorder(backend, path):
                pass
    with Recording.open(path) as recording:
        assert recording.meta.format_version == version and f"format {version}" in recording.books_missing
        assert bool(recording.screens_missing) is (version == 1)
