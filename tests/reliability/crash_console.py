"""A headless console for the crash test: `python -m tests.reliability.crash_console CONFIG [--report-flushes]`.

It is the console without its screen: the composition root (`open_backend`, as the TUI opens it) owning
the trading session, heartbeating it and running the feed into the history writer, until it is killed.
Once its session is open it prints one JSON line: the session it opened and what it recovered.
With `--report-flushes` it also prints `{"flushing": N}` as its history writer begins a transaction of N
samples and `{"flushed": N}` once it committed, so the test can kill it in the middle of one (the real
flush runs between the two lines; only the reporting is added here).
No shipped command owns a session headlessly (`watch --jsonl` is an observer), hence this.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from balance_tui.backend import open_backend
from balance_tui.config import load_config
from balance_tui.core.model import Balance
from balance_tui.store.history import HistoryWriter

_stdout = threading.Lock()  # lines come from the event loop and from the writer's thread


def emit(record: dict) -> None:
    with _stdout:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def report_flushes(writer: HistoryWriter) -> None:
    flush: Callable[[list[object]], None] = writer._flush

    def reported(batch: list[object]) -> None:
        samples = sum(isinstance(item, Balance) for item in batch)
        emit({"flushing": samples})
        flush(batch)
        emit({"flushed": samples})

    writer._flush = reported  # type: ignore[method-assign]


async def main(config_path: Path, *, flushes: bool) -> None:
    config = load_config(config_path).config
    async with open_backend(config) as backend:
        opened = backend.opened
        assert opened is not None and backend.history_writer is not None
        if flushes:  # before the feed runs: nothing is queued yet, so every flush is reported
            report_flushes(backend.history_writer)
        emit(
            {
                "session": opened.session.id,
                "resumed": opened.resumed,
                "continued_from": opened.continued_from.id if opened.continued_from else None,
                "interrupted": list(opened.interrupted),
            }
        )
        await backend.run()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), flushes="--report-flushes" in sys.argv[2:]))
