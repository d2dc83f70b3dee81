"""Real Kraken-style clients for the simulator tests: signed REST calls and WS v2 frames decoded exactly."""

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from balance_tui.kraken.signing import sign
from balance_tui.sim import Simulator

HEARTBEAT_INTERVAL = 0.2  # seconds; short so heartbeat tests stay fast


class Nonces:
    """Millisecond nonces, strictly increasing even within one millisecond."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> str:
        self._last = max(self._last + 1, time.time_ns() // 1_000_000)
        return str(self._last)


async def call_private(
    http: httpx.AsyncClient,
    sim: Simulator,
    method: str,
    nonce: str,
    *,
    as_json: bool = False,
    api_key: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """Sign and POST a private call the way Kraken clients do; returns the decoded envelope."""
    path = f"/0/private/{method}"
    if as_json:
        body, content_type = json.dumps({"nonce": int(nonce)}), "application/json"
    else:
        body, content_type = f"nonce={nonce}", "application/x-www-form-urlencoded"
    headers = {
        "API-Key": api_key or sim.api_key,
        "API-Sign": sign(path, nonce, body, secret or sim.api_secret),
        "Content-Type": content_type,
    }
    response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200
    return response.json(parse_float=Decimal)


async def receive(connection: ClientConnection, within: float = 2.0) -> dict[str, Any]:
    """The next frame, with numbers decoded exactly."""
    async with asyncio.timeout(within):
        return json.loads(await connection.recv(), parse_float=Decimal)


async def request(connection: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    """Send a request and return the next frame that is not a heartbeat."""
    await connection.send(json.dumps(message))
    while (frame := await receive(connection)).get("channel") == "heartbeat":
        pass
    return frame


async def subscribe(
    connection: ClientConnection, token: str, channel: str = "balances", **params: object
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the status frame, then subscribe to a private channel; returns (ack, snapshot)."""
    assert (await receive(connection))["channel"] == "status"
    message = {"method": "subscribe", "params": {"channel": channel, "token": token, **params}}
    ack = await request(connection, message)
    assert ack["success"], ack
    return ack, await receive(connection)


async def token(sim: Simulator) -> str:
    """A fresh WS token, fetched as a client would (its own HTTP client and nonces)."""
    async with httpx.AsyncClient(base_url=sim.rest_url) as http:
        return (await call_private(http, sim, "GetWebSocketsToken", Nonces()()))["result"]["token"]


async def eventually(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait, generously, for a condition the simulator reaches by itself."""
    try:
        async with asyncio.timeout(within):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
