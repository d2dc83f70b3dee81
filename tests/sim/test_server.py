"""The simulator as an embedded server: lifecycle, background activity, slow clients, process hygiene."""

import asyncio
import base64
import errno
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from balance_tui.sim import Simulator

from .clients import receive, subscribe, token


async def test_urls_and_credentials() -> None:
    async with Simulator(updates_per_second=0) as sim:
        assert sim.rest_url == f"http://127.0.0.1:{sim.port}"
        assert sim.ws_private_url == f"ws://127.0.0.1:{sim.port}/v2"
        assert sim.ws_public_url == f"ws://127.0.0.1:{sim.port}/public/v2"
        assert len(base64.b64decode(sim.api_secret, validate=True)) == 64
        assert sim.api_key != Simulator(updates_per_second=0).api_key
    given = Simulator(api_key="key", api_secret=sim.api_secret, updates_per_second=0)
    assert (given.api_key, given.api_secret) == ("key", sim.api_secret)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.rest_url


async def test_stop_is_prompt_with_clients_connected_and_idempotent() -> None:
    sim = Simulator(updates_per_second=0)
    await sim.start()
    async with connect(sim.ws_private_url) as client:
        await subscribe(client, await token(sim))
        started = time.monotonic()
        await sim.stop()
        assert time.monotonic() - started < 1
        with pytest.raises(ConnectionClosed):
            await receive(client)
    await sim.stop()


async def test_signal_handlers_are_left_to_the_host() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    async with Simulator(updates_per_second=0):
        assert {sig: signal.getsignal(sig) for sig in before} == before
    assert {sig: signal.getsignal(sig) for sig in before} == before


async def test_a_taken_port_fails_start_cleanly() -> None:
    async with Simulator(updates_per_second=0) as first:
        second = Simulator(port=first.port, updates_per_second=0)
        tasks = asyncio.all_tasks()
        with pytest.raises(OSError) as refused:
            await second.start()
        assert refused.value.errno == errno.EADDRINUSE
        assert asyncio.all_tasks() == tasks
        await second.stop()


async def test_background_activity_streams_updates() -> None:
    async with Simulator(seed=11, updates_per_second=50) as sim, connect(sim.ws_private_url) as client:
        await subscribe(client, await token(sim))
        sequences = [(await receive(client))["sequence"] for _ in range(5)]
    assert sequences == [2, 3, 4, 5, 6]


async def test_a_client_that_falls_behind_is_disconnected() -> None:
    async with Simulator(seed=3, updates_per_second=0, outbox_size=8) as sim:
        ws_token = await token(sim)
        async with connect(sim.ws_private_url) as slow:
            await subscribe(slow, ws_token)
            for _ in range(10):  # step() never waits for clients, so this outruns an 8-frame outbox
                await sim.step()
            with pytest.raises(ConnectionClosed) as closed:
                await receive(slow)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert "too slow" in closed.value.rcvd.reason

        async with connect(sim.ws_private_url) as healthy:
            await subscribe(healthy, ws_token)
            entries = await sim.step()
            assert (await receive(healthy))["data"][0]["ledger_id"] == entries[0].ledger_id


def test_sim_imports_only_its_own_layer() -> None:
    probe = (
        "import sys, balance_tui.sim\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'"
        " or m.startswith(('balance_tui.kraken', 'balance_tui.store', 'balance_tui.tui')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rate", [-1.0, math.nan, math.inf])
def test_an_activity_rate_that_is_not_a_finite_number_of_0_or_more_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="updates_per_second must be a finite number >= 0"):
        Simulator(updates_per_second=rate)
