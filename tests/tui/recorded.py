"""Recordings for the replay tests, made as the recorder makes them: the real simulator, a frozen clock moved
by the test, a `Recorder` ticked after each move."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from balance_tui.backend import Backend
from balance_tui.config import Config
from balance_tui.recording import Recorder
from balance_tui.store import books
from balance_tui.store.identity import Operator
from balance_tui.store.tables import AdjustmentKind
from tests.conftest import FrozenClock
from tests.integration.conftest import eventually, running

STEP_S = 10.0  # recorded seconds per step: the simulator moves once a step


def caught_up(backend: Backend, clock: FrozenClock) -> bool:
    """The engine holds every balance the simulator has, and a price seen at this instant for every pair
    (the simulator moves every ticker each step). Only while the feed is live: in cache mode each read of
    the balances counts as a cache hit, and the test must not add its own."""
    manager, sim, prices = backend.manager, backend.simulator, backend.prices
    assert sim is not None
    if not manager.has_snapshot or not manager.health.connected_at:
        return False
    totals = {asset: balance.total for asset, balance in manager.get_all_balances().items()}
    quotes = [prices.quote(symbol) for symbol in prices.symbols]
    return totals == sim.account.totals() and bool(quotes) and all(q and q.seen_at == clock.now() for q in quotes)


async def adjust(backend: Backend, asset: str, amount: Decimal, reason: str, operator: Operator | None = None) -> None:
    """An operator's adjustment to the backend's session, written as another console writes one (by this
    process's operator unless one is named)."""
    session = backend.session
    assert session is not None and session.id is not None
    await asyncio.to_thread(
        books.adjust,
        backend.store,
        session_id=session.id,
        asset=asset,
        amount=amount,
        kind=AdjustmentKind.DELTA,
        reason=reason,
        operator=operator or Operator.current(),
        idempotency_key=uuid.uuid4().hex,
        now=backend.manager.clock.now(),
    )


async def step(backend: Backend, clock: FrozenClock, *, seconds: float = STEP_S, wait: bool = True) -> datetime:
    """The recorded time moves on `seconds` and the simulator with it; waits until the engine has it all
    (unless told not to: a silent feed brings nothing)."""
    assert backend.simulator is not None
    clock.advance(seconds)
    await backend.simulator.step()
    if wait:
        await eventually(lambda: caught_up(backend, clock), what=f"the engine at {clock.now():%H:%M:%S}")
    return clock.now()


async def record(
    config: Config,
    path: Path,
    clock: FrozenClock,
    steps: int,
    at_step: Callable[[int, Backend], Awaitable[None]] | None = None,
) -> None:
    """`steps` steps of the simulator recorded into `path`, one frame read and written after each, as the
    recorder flushes every second; `at_step(i, backend)` runs before step i (faults, deposits)."""
    async with running(config, clock=clock) as backend:
        await eventually(lambda: backend.ticker is not None and backend.ticker.settled, what="the ticker")
        async with Recorder(backend, path) as recorder:
            for i in range(steps):
                if at_step is not None:
                    await at_step(i, backend)
                await step(backend, clock)
                recorder.tick()
                await recorder.flush()
