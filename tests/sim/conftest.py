"""Fixtures for the simulator tests: a real simulator on loopback and real httpx / websockets clients."""

from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from balance_tui.sim import Simulator

from .clients import HEARTBEAT_INTERVAL, Nonces, call_private


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(seed=7, updates_per_second=0, heartbeat_interval=HEARTBEAT_INTERVAL) as simulator:
        yield simulator


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.rest_url) as client:
        yield client


@pytest.fixture
def nonce() -> Nonces:
    return Nonces()


@pytest.fixture
async def ws_token(http: httpx.AsyncClient, sim: Simulator, nonce: Nonces) -> str:
    reply = await call_private(http, sim, "GetWebSocketsToken", nonce())
    return reply["result"]["token"]


@pytest.fixture
async def ws(sim: Simulator) -> AsyncIterator[ClientConnection]:
    async with connect(sim.ws_private_url) as connection:
        yield connection
