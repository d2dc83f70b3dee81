from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from balance_tui.backend import Backend, open_backend
from balance_tui.config import Config
from balance_tui.kraken.credentials import Credentials


async def eventually(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for a state the system under test must reach, failing with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(config: Config, credentials: Credentials | None = None, **options: Any) -> AsyncIterator[Backend]:
    """A backend with its feed running as the console runs it, stopped and awaited on the way out.

    The feed starts at the caller's first await: faults set on the simulator before then apply to its
    very first connection.
    """
    async with open_backend(config, credentials, **options) as backend:
        feed = asyncio.create_task(backend.run())
        try:
            yield backend
        finally:
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
