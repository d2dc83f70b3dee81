"""A headless console for the crash test: `python -m tests.reliability.crash_console CONFIG`.

It is the console without its screen: the composition root (`open_backend`, as the TUI opens it) owning
the trading session, heartbeating it and running the feed into the history writer, until it is killed.
Once its session is open it prints one JSON line: the session it opened and what it recovered.
No shipped command owns a session headlessly (`watch --jsonl` is an observer), hence this.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from balance_tui.backend import open_backend
from balance_tui.config import load_config


async def main(config_path: Path) -> None:
    config = load_config(config_path).config
    async with open_backend(config) as backend:
        opened = backend.opened
        assert opened is not None
        record = {
            "session": opened.session.id,
            "resumed": opened.resumed,
            "continued_from": opened.continued_from.id if opened.continued_from else None,
            "interrupted": list(opened.interrupted),
        }
        print(json.dumps(record), flush=True)
        await backend.run()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
