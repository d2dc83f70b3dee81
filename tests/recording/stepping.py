"""A recorder on the still simulator and a frozen clock: minutes of the console's time in a few seconds.

The feed's stale limit is raised to an hour: the simulator's heartbeats come on the wall clock, which
barely moves while the console's clock jumps a second a tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from balance_tui.backend import Backend
from balance_tui.config import Config
from balance_tui.recording import Recorder
from balance_tui.view import View
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually, running


@asynccontextmanager
async def frozen(make_config: Callable[..., Config]) -> AsyncIterator[tuple[Backend, FrozenClock]]:
    """A running backend on a frozen clock, with its first snapshot in."""
    clock = FrozenClock()
    async with running(make_config(feed={"stale_after_s": 3600.0}), clock=clock) as backend:
        await asyncio.wait_for(backend.manager.wait_for_snapshot(), 10)
        yield backend, clock


async def step(backend: Backend) -> None:
    """One ledger update from the simulator, applied by the engine before this returns."""
    sim: Any = backend.simulator
    await sim.step()
    await eventually(lambda: backend.manager.health.sequence == 1 + sim.updates_sent, what="the step")


async def record(
    backend: Backend, clock: FrozenClock, recorder: Recorder, seconds: int, *, step_every: int = 2
) -> list[View]:
    """A simulator step every `step_every` s of the console's clock, a tick every second, a flush every 10;
    the views the recorder read."""
    live = []
    for i in range(seconds):
        if i % step_every == 0:
            await step(backend)
        live.append(recorder.tick())
        if i % 10 == 9:
            await recorder.flush()
        clock.advance(1)
    return live
