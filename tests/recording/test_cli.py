"""`balance-tui record` as systemd runs it: a real process, stopped by SIGTERM, leaving a closed file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balance_tui.cli import EXIT_CONFIG, EXIT_REFUSED
from balance_tui.recording import EventKind, Recording, RecordingError, default_path
from balance_tui.sim import Simulator
from tests.conftest import write_config
from tests.test_headless import run, sim_config


def recorder(config: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "balance_tui", "--config", str(config), "record", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def frames_written(path: Path, at_least: int, timeout: float = 30) -> None:
    """Wait until a reader opening the file while it is written sees `at_least` frames."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Recording.open(path) as recording:
                if len(recording.times) >= at_least:
                    assert recording.meta.ended_at is None  # still being recorded
                    return
        except RecordingError:
            pass  # not created yet, or no frame flushed yet
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} held fewer than {at_least} frames after {timeout:g} s")
        time.sleep(0.2)


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 128 + signal.SIGINT)])
def test_record_runs_until_a_signal_and_closes_its_file(tmp_path: Path, stop: signal.Signals, code: int) -> None:
    path = tmp_path / "out.rec"
    process = recorder(sim_config(tmp_path, updates_per_second=20.0), "--out", str(path), "--keep-hours", "2")
    try:
        line = process.stdout.readline()
        frames_written(path, 5)
    finally:
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert line == f"balance-tui: recording simulator (loopback) to {path} (keeping 2 h, at most 500 MB); " + (
        "SIGTERM or Ctrl+C stops it\n"
    )
    assert out == "" and err == ""
    with Recording.open(path) as recording:
        assert recording.meta.ended_at is not None and len(recording.times) >= 5
        assert recording.view_at(recording.end).balances  # the simulator's account, as the console showed it
        events = recording.events_between(recording.start.replace(year=2000), recording.meta.ended_at)
        assert [e.text for e in events if e.kind is EventKind.RECORDING] == ["recording started", "recording stopped"]
    assert not Path(f"{path}-wal").exists()  # a finished recording is one file


def test_record_writes_to_the_data_directory_by_default(tmp_path: Path) -> None:
    process = recorder(sim_config(tmp_path))
    try:
        line = process.stdout.readline()
        frames_written(default_path(), 1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0 and f" to {default_path()} " in line
    assert default_path().parent.name == "recordings"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--max-mb", "0"), "record --max-mb 0: expected megabytes above 0 and at most 1000000"),
        (("--max-mb", "nan"), "record --max-mb nan: expected megabytes above 0 and at most 1000000"),
        (
            ("--keep-hours", "-1"),
            "record --keep-hours -1: expected a number of hours above 0 and at most 87600 (10 years)",
        ),
    ],
)
def test_a_bad_option_is_refused_in_one_line_before_anything_starts(option: tuple[str, ...], message: str) -> None:
    result = run("record", *option, timeout=30)
    assert (result.returncode, result.stderr) == (EXIT_CONFIG, f"balance-tui: {message}\n")
    assert not default_path().exists()


def test_a_file_that_is_not_a_recording_is_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording\n")
    result = run("--config", str(sim_config(tmp_path)), "record", "--out", str(notes), timeout=60)
    assert result.returncode == EXIT_REFUSED
    assert result.stderr == f"balance-tui: record: {notes}: not a balance-tui recording (file is not a database)\n"
    assert notes.read_text() == "not a recording\n"


async def test_a_feed_that_stops_for_good_is_recorded_as_the_console_shows_it(tmp_path: Path) -> None:
    """The console stays open on a feed refused for good (the engine carries on over REST): so does `record`,
    and the recording shows the feed FAILED with its reason."""
    path = tmp_path / "refused.rec"
    async with Simulator(seed=3, updates_per_second=0) as sim:
        sim.faults.refuse_handshakes(100, 401)
        exchange = {"name": "kraken", "rest_url": sim.rest_url, "ws_private_url": sim.ws_private_url}
        store = {"database_url": f"sqlite:///{tmp_path / 's.db'}"}
        config = write_config(
            tmp_path / "c.toml", {"exchange": {**exchange, "ws_public_url": sim.ws_public_url}, "store": store}
        )
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "balance_tui", "--config", str(config), "record", "--out", str(path)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "KRAKEN_API_KEY": sim.api_key, "KRAKEN_API_SECRET": sim.api_secret},
        )
        try:
            await asyncio.to_thread(frames_written, path, 1)
            await asyncio.to_thread(failed_and_polled, path)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    with Recording.open(path) as recording:
        assert recording.meta.ended_at is not None
        view = recording.view_at(recording.end)
        assert view.feed.state.value == "failed" and view.feed.error.endswith("refused the connection with HTTP 401")


def failed_and_polled(path: Path, timeout: float = 30) -> None:
    """Wait until the recording shows the feed failed and balances read over REST."""
    deadline = time.monotonic() + timeout
    while True:
        with Recording.open(path) as recording:
            view = recording.view_at(recording.end)
        if view.feed.state.value == "failed" and view.balances:
            assert {b.source.value for b in view.balances.values()} == {"rest"}
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never showed the feed failed with balances from REST")
        time.sleep(0.2)
