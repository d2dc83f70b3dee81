"""`Recorder`: what the console would show, read at its refresh rate and kept in a recording file.

The event loop only reads the `View` (as the console does each tick) and the open orders, and queues them
with the balance samples and ledger entries the engine reports (as the store's history writer takes them);
a single thread turns the queue into frames, events and rows and writes them in one transaction per flush,
so no frame waits on the disk. Views are immutable, so the thread can diff and encode them while the loop
reads the next.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import platformdirs
from sqlalchemy.exc import SQLAlchemyError

from balance_tui import __version__
from balance_tui.backend import Backend
from balance_tui.config import APP_NAME
from balance_tui.core import Balance
from balance_tui.core.events import LedgerEntry
from balance_tui.recording import store_tables
from balance_tui.recording.events import EventKind, acknowledgement_text, adjustment_text, new_feed_events
from balance_tui.recording.format import (
    DELTA,
    FORMAT_VERSION,
    KEYFRAME,
    SCHEMA,
    OrderHolds,
    diff,
    encode_orders,
    encode_time,
    from_micros,
    is_counters_only,
    is_still,
    keyframe,
    micros,
    pack,
)
from balance_tui.recording.meta import RecordingError, read_meta
from balance_tui.store import acks, books
from balance_tui.store.errors import StoreError
from balance_tui.store.history import ledger_row, sample_row
from balance_tui.view import View

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_NAME = "recording.sqlite"  # in the data directory's recordings/
KEYFRAME_EVERY = timedelta(seconds=60)  # a seek decodes at most this much of deltas
COUNTERS_EVERY = timedelta(seconds=1)  # a frame that moves only the feed's counters waits this long after the last
RETENTION_EVERY = timedelta(seconds=60)
FLUSH_EVERY_S = 1.0
MB = 1024 * 1024


def default_path() -> Path:
    """Where `balance-tui record` writes without --out (and `replay` reads without a FILE)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "recordings" / DEFAULT_NAME


class Recorder:
    """Records `backend` into `path` until cancelled: `await Recorder(backend, path).run()`.

    Use it beside a live console as well as alone: it only reads the backend.
    A recording that exists is continued (a restart under systemd keeps one file); each run starts with a
    keyframe. `keep_hours` and `max_mb` bound it: whole segments (a keyframe and its deltas) go from the
    oldest, so what is left always replays. A test drives it by hand: `async with recorder:` then `tick()`
    after each step of its clock, and `await flush()`.
    """

    def __init__(self, backend: Backend, path: Path | str, *, keep_hours: float = 168.0, max_mb: float = 500.0) -> None:
        self.backend = backend
        self.path = Path(path)
        self.keep = timedelta(hours=keep_hours)
        self.max_bytes = int(max_mb * MB)
        self._pending = _Batch()
        self._last_read: View | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._file: _File | None = None

    async def run(self) -> None:
        """Read a view every 1/refresh_hz s and write what changed every second, until cancelled. If the
        recorder is not open yet it is opened here and, once cancelled, flushed and closed (ended_at set)."""
        if self._file is None:
            async with self:
                await self.run()
            return
        every, loop = 1 / self.backend.config.ui.refresh_hz, asyncio.get_running_loop()
        flushed = loop.time()
        while True:
            self.tick()
            if loop.time() - flushed >= FLUSH_EVERY_S:
                await self.flush()
                flushed = loop.time()
            await asyncio.sleep(every)

    def tick(self) -> View:
        """Read the view the console would draw now and the open orders, queue them, and return the view."""
        self._last_read = View.read(self.backend, None, self._last_read)
        self._pending.views.append((self._last_read, self.backend.manager.orders.listed()))
        return self._last_read

    async def flush(self) -> None:
        """Write what is queued: frames, the events they show, samples, ledger entries, and the adjustments
        and acknowledgements committed since the last."""
        batch, self._pending = self._pending, _Batch()
        await self._in_thread(self._open_file().write, batch)

    async def __aenter__(self) -> Recorder:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        try:
            self._file = await self._in_thread(_File.open, self.path, self.backend, self.keep, self.max_bytes)
        except BaseException:
            self._thread.shutdown()
            raise
        manager = self.backend.manager
        manager.register_callback("balance_update", self._sampled)
        manager.register_callback("ledger_entry", self._entered)
        return self

    def _sampled(self, balance: Balance) -> None:
        """Each balance the engine reports, as the store's history writer takes it (the asset screen's chart)."""
        if self._file is not None:  # the engine has no way to take a callback back: a closed recorder ignores it
            self._pending.samples.append(balance)

    def _entered(self, entry: LedgerEntry) -> None:
        if self._file is not None:
            self._pending.entries.append(entry)

    async def __aexit__(self, *exc: object) -> None:
        """Flush and close even when cancelled: the last second is kept and ended_at set."""
        file, thread = self._open_file(), self._thread
        assert thread is not None
        batch, self._pending = self._pending, _Batch()
        try:
            await asyncio.shield(self._in_thread(file.close, batch))
        finally:
            thread.shutdown()
            self._file = self._thread = None

    def _open_file(self) -> _File:
        if self._file is None:
            raise RuntimeError("the recorder is not open: use `async with recorder:` or `await recorder.run()`")
        return self._file

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on the recorder's thread; a file that cannot be written says so, naming it."""
        assert self._thread is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)
        except (sqlite3.Error, OSError) as exc:
            raise RecordingError(f"{self.path}: cannot be written: {getattr(exc, 'strerror', None) or exc}") from exc


@dataclass(slots=True)
class _Batch:
    """What the loop queued since the last flush."""

    views: list[tuple[View, OrderHolds]] = field(default_factory=list)  # each view with the orders then
    samples: list[Balance] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)


class _File:
    """The recording on disk; used only from the recorder's thread."""

    def __init__(self, db: sqlite3.Connection, lock: int, backend: Backend, keep: timedelta, max_bytes: int) -> None:
        self.db, self.lock, self.backend = db, lock, backend
        self.keep, self.max_bytes = keep, max_bytes
        self.last: View | None = None  # the last view written
        # A later view (with the orders then) that moved only counters, not written yet (COUNTERS_EVERY).
        self.held: tuple[View, OrderHolds] | None = None
        self.orders: OrderHolds | None = None  # as last written
        self.last_at_us = db.execute("SELECT coalesce(max(at_us), 0) FROM frames").fetchone()[0]
        self.keyframe_at: datetime | None = None
        self.pruned_at: datetime | None = None
        # Only those made while it records.
        self.adjustments_after = books.last_adjustment_id(backend.store)
        self.acks_after = max((ack.id or 0 for ack in acks.acknowledgements(backend.store).values()), default=0)
        self.books = store_tables.BooksCopy()  # all of them at the start, then the rows that change
        self.store_failing = False

    @classmethod
    def open(cls, path: Path, backend: Backend, keep: timedelta, max_bytes: int) -> _File:
        if path.is_dir():
            raise RecordingError(f"{path}: is a directory: name a file to record to")
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists() and path.stat().st_size > 0
        # A file that is not a recording, or of a newer format, is refused here; one of an older format is
        # left as it is: frames of two formats in one file would be read with the wrong one.
        if existed and (version := read_meta(path).format_version) != FORMAT_VERSION:
            raise RecordingError(
                f"{path}: a recording of format {version}; this version writes format {FORMAT_VERSION}: "
                "record to another file (--out)"
            )
        lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise RecordingError(f"{path}: another recorder is writing it") from None
        db = None
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if not existed:
                # Before anything else: a busy account's deltas (~2.4 kB zlib'd) fill 4 kB pages only half.
                db.execute("PRAGMA page_size = 8192")
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table: pruning can shrink it
            db.execute("PRAGMA journal_mode = WAL")  # a replay can open the file while it is written
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(SCHEMA)
            store_tables.create(db)
            file = cls(db, lock, backend, keep, max_bytes)
            file._start(existed)
        except BaseException:
            if db is not None:
                db.close()
            os.close(lock)  # after sqlite's descriptor, as in close()
            raise
        return file

    def _start(self, existed: bool) -> None:
        backend, config = self.backend, self.backend.config
        now = backend.manager.clock.now()
        meta = {
            "format_version": str(FORMAT_VERSION),
            "app_version": __version__,
            "ended_at": "",
            "exchange_label": backend.exchange_label,
            "quote": config.engine.value_in,
            "refresh_hz": str(config.ui.refresh_hz),
            "config": json.dumps(_config_summary(backend)),
        }
        if not existed:
            meta["started_at"] = encode_time(now)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            self._event(now, EventKind.RECORDING, None, "recording continued" if existed else "recording started")
            self._from_store()

    def write(self, batch: _Batch, *, last: bool = False) -> None:
        """`last`: the recorder stops, and a frame held back (COUNTERS_EVERY) is written too."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for view, orders in batch.views:
                self._frame(view, orders)
            if last and self.held is not None:
                self._frame(*self.held, held=False)
            store_tables.insert(
                self.db, store_tables.SAMPLES, [sample_row(b) for b in _last_each_second(batch.samples)]
            )
            store_tables.insert(self.db, store_tables.LEDGER, [ledger_row(e) for e in batch.entries])
            self._from_store()
            if batch.views and not _within(self.pruned_at, batch.views[-1][0].now, RETENTION_EVERY):
                self._prune(batch.views[-1][0].now)
                self.pruned_at = batch.views[-1][0].now

    def close(self, batch: _Batch) -> None:
        try:
            self.write(batch, last=True)
            now = self.backend.manager.clock.now()
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self._event(now, EventKind.RECORDING, None, "recording stopped")
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('ended_at', ?)", (encode_time(now),))
            with suppress(sqlite3.OperationalError):  # a replay has it open: it stays WAL, as good
                self.db.execute("PRAGMA journal_mode = DELETE")  # a finished recording is one file
        finally:
            self.db.close()
            os.close(self.lock)  # after sqlite's own descriptor: closing one drops a process's POSIX locks

    def _frame(self, view: View, orders: OrderHolds, *, held: bool = True) -> None:
        """Write `view` as a keyframe or a delta, with the orders if they changed; `held`: a view that moves
        only counters within COUNTERS_EVERY of the last frame waits in `self.held` instead."""
        last = self.last
        if last is None or not _within(self.keyframe_at, view.now, KEYFRAME_EVERY):
            kind, payload = KEYFRAME, keyframe(view)
            self.keyframe_at = view.now
        else:
            kind, payload = DELTA, diff(last, view)
            if is_still(payload):
                return
            # Heartbeats move the feed's counters several times a second, and nothing else: kept once a second.
            if held and is_counters_only(payload, last, view) and _within(last.now, view.now, COUNTERS_EVERY):
                self.held = view, orders
                return
        self.held = None
        for at, event_kind, asset, text in new_feed_events(last, view):
            self._event(at, event_kind, asset, text)
        self.last = view
        # A clock stepped back must not break the time order the reader seeks by.
        self.last_at_us = max(self.last_at_us, micros(view.now))
        self.db.execute(
            "INSERT INTO frames (at_us, kind, payload) VALUES (?, ?, ?)", (self.last_at_us, kind, pack(payload))
        )
        if kind == KEYFRAME or orders != self.orders:  # a keyframe repeats them: a segment starts with them
            self.orders = orders
            self.db.execute(
                "INSERT INTO orders (at_us, payload) VALUES (?, ?)", (self.last_at_us, encode_orders(orders))
            )

    def _from_store(self) -> None:
        """The adjustments and acknowledgements committed since the last flush, and the books' rows that
        changed, as of now; a store that cannot be read now is asked again at the next (the frames go on
        being written meanwhile)."""
        store = self.backend.store
        try:
            adjusted = books.adjustments(store, after_id=self.adjustments_after)
            acknowledged = acks.acknowledgements_after(store, self.acks_after)
            found = self.books.read(store, self.backend.config.exchange.name)
        except (StoreError, SQLAlchemyError) as exc:
            if not self.store_failing:
                log.warning("recorder: cannot read the books or acknowledgements, will retry: %s", exc)
            self.store_failing = True
            return
        self.store_failing = False
        self.books.write(self.db, found, self.backend.manager.clock.now())
        for adjustment in adjusted:
            assert adjustment.id is not None
            self.adjustments_after = adjustment.id
            self._event(adjustment.created_at, EventKind.ADJUSTMENT, adjustment.asset, adjustment_text(adjustment))
        for ack in acknowledged:
            assert ack.id is not None
            self.acks_after = ack.id
            self._event(ack.created_at, EventKind.ACKNOWLEDGEMENT, None, acknowledgement_text(ack))

    def _event(self, at: datetime, kind: EventKind, asset: str | None, text: str) -> None:
        self.db.execute(
            "INSERT INTO events (at_us, kind, asset, text) VALUES (?, ?, ?, ?)", (micros(at), kind.value, asset, text)
        )

    def _prune(self, now: datetime) -> None:
        """Drop whole segments from the oldest: those older than `keep`, then while the file is over
        `max_bytes`; the newest segment always stays."""
        oldest_kept = self.db.execute(
            "SELECT id, at_us FROM frames WHERE kind = ? AND at_us <= ? ORDER BY at_us DESC LIMIT 1",
            (KEYFRAME, micros(now - self.keep)),
        ).fetchone()
        if oldest_kept is not None:
            self._drop_before(*oldest_kept)
        while self._used_bytes() > self.max_bytes:
            second = self.db.execute(
                "SELECT id, at_us FROM frames WHERE kind = ? ORDER BY at_us LIMIT 1 OFFSET 1", (KEYFRAME,)
            ).fetchone()
            if second is None:
                break
            self._drop_before(*second)
        self.db.execute("PRAGMA incremental_vacuum")

    def _drop_before(self, frame_id: int, at_us: int) -> None:
        self.db.execute("DELETE FROM frames WHERE id < ?", (frame_id,))
        self.db.execute("DELETE FROM events WHERE at_us < ?", (at_us,))
        self.db.execute("DELETE FROM orders WHERE at_us < ?", (at_us,))
        store_tables.delete_before(self.db, from_micros(at_us))

    def _used_bytes(self) -> int:
        pragma = {name: self.db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count")}
        return (pragma["page_count"] - pragma["freelist_count"]) * self.db.execute("PRAGMA page_size").fetchone()[0]


def _last_each_second(samples: list[Balance]) -> list[Balance]:
    """The last sample of each asset in each second: a busy account's hundred a second would make the
    samples most of the file, and the chart, the last of each bucket of a second or more, is the same."""
    return list({(b.asset, b.updated_at.replace(microsecond=0)): b for b in samples}.values())


def _within(since: datetime | None, now: datetime, every: timedelta) -> bool:
    """`now` is less than `every` after `since`; not if the clock was stepped back before `since`."""
    return since is not None and timedelta(0) <= now - since < every


def _config_summary(backend: Backend) -> dict[str, object]:
    """What the recording was made with, for whoever replays it: no credentials, no database URL."""
    config = backend.config
    return {
        "exchange": config.exchange.name,
        "value_in": config.engine.value_in,
        "refresh_hz": config.ui.refresh_hz,
        "stale_after_s": config.feed.stale_after_s,
        "history_retention_hours": config.history.retention_hours,  # the asset screen's trend is over this
        "sim_seed": config.sim.seed if config.exchange.name == "sim" else None,
        "sim_updates_per_second": config.sim.updates_per_second if config.exchange.name == "sim" else None,
    }
