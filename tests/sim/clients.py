"""Real Kraken-style clients for the simulator tests: signed REST calls and WS v2 frames decoded exactly."""

import asyncio
import json
import time
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


async def subscribe(connection: ClientConnection, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the status frame, then subscribe to balances; returns (ack, snapshot)."""
    assert (await receive(connection))["channel"] == "status"
    ack = await request(connection, {"method": "subscribe", "params": {"channel": "balances", "token": token}})
    return ack, await receive(connection)
