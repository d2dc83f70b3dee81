"""Each injected fault, seen on the wire by real websockets and httpx clients as the spec says it should be."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from logging import WARNING
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.protocol import State

from balance_tui.sim import Faults, Fired, RestFailure, Simulator, SystemStatus
from balance_tui.sim.faults import OVERSIZED_FRAME_BYTES

from .clients import HEARTBEAT_INTERVAL, Nonces, call_private, eventually, receive, request, subscribe, token


async def deposits(sim: Simulator, count: int) -> None:
    """`count` balances updates, one each, for every subscriber."""
    for _ in range(count):
        await sim.deposit("BTC", Decimal("0.01"))


async def test_drops_alternate_clean_closes_and_aborts_after_n_data_frames(sim: Simulator, ws_token: str) -> None:
    sim.faults.drop_every = 3
    ends = []
    for _ in range(3):
        async with connect(sim.ws_private_url) as client:
            _, snapshot = await subscribe(client, ws_token)  # data frame 1
            await deposits(sim, 3)
            updates = [await receive(client) for _ in range(2)]  # data frames 2 and 3; the third deposit is lost
            with pytest.raises(ConnectionClosed) as closed:
                await receive(client)
        assert [snapshot["sequence"], *(update["sequence"] for update in updates)] == [1, 2, 3]
        ends.append(closed.value)

    clean, aborted, clean_again = ends
    assert clean.rcvd is not None and clean.rcvd.code == 1012
    assert isinstance(aborted, ConnectionClosedError)
    assert (aborted.rcvd, aborted.sent) == (None, None)  # no close frame either way: 1006
    assert clean_again.rcvd is not None and clean_again.rcvd.code == 1001
    assert (sim.faults.fired[Fired.CLOSE], sim.faults.fired[Fired.ABORT]) == (2, 1)


async def test_a_silent_connection_still_answers_pings(sim: Simulator, ws_token: str) -> None:
    sim.faults.silence_every = 1
    async with connect(sim.ws_private_url, ping_interval=None) as client:
        await subscribe(client, ws_token)  # the snapshot is the last frame it will see
        await deposits(sim, 2)
        await client.send(json.dumps({"method": "ping", "req_id": 1}))
        with pytest.raises(TimeoutError):  # no data, no heartbeat, no pong
            await receive(client, within=HEARTBEAT_INTERVAL * 5)

        latency = await asyncio.wait_for(await client.ping(), timeout=5)
        assert latency >= 0
        assert client.state is State.OPEN
    assert sim.faults.fired[Fired.SILENCE] == 1


async def test_handshakes_are_refused_quietly_then_accepted(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    sim.faults.refuse_handshakes(2, 429)
    sim.faults.refuse_handshakes(1, 503)
    for url, status in [(sim.ws_private_url, 429), (sim.ws_public_url, 429), (sim.ws_private_url, 503)]:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        assert refused.value.response.status_code == status
        assert (refused.value.response.headers.get("Retry-After") is not None) == (status == 429)
    async with connect(sim.ws_private_url) as client:
        assert (await receive(client))["channel"] == "status"
    assert sim.faults.fired[Fired.REFUSE] == 3
    # A refusal is the fault working, not an error for the console's log.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= WARNING] == []


async def test_an_oversized_frame_closes_a_default_client_with_1009(sim: Simulator, ws_token: str) -> None:
    sim.faults.oversize_every = 1
    async with connect(sim.ws_private_url) as client:  # websockets' default max_size: 1 MiB
        await subscribe(client, ws_token)
        with pytest.raises(ConnectionClosedError) as closed:
            await receive(client, within=10)
    assert closed.value.sent is not None and closed.value.sent.code == 1009

    async with connect(sim.ws_private_url, max_size=None) as tolerant:
        await subscribe(tolerant, ws_token)
        raw = await asyncio.wait_for(tolerant.recv(), 10)
    assert len(raw) == OVERSIZED_FRAME_BYTES > 2**20
    assert json.loads(raw)["channel"] == "heartbeat"  # valid JSON, harmless to a client that takes it
    assert sim.faults.fired[Fired.OVERSIZE] == 2


async def test_garbled_updates_alternate_invalid_json_and_wrong_types(sim: Simulator, ws_token: str) -> None:
    sim.faults.garble_every = 2
    async with connect(sim.ws_private_url) as client:
        await subscribe(client, ws_token)
        await deposits(sim, 4)
        raws = [await asyncio.wait_for(client.recv(), 2) for _ in range(4)]

    fine, cut, also_fine, strings = raws
    assert json.loads(fine)["sequence"] == 2
    with pytest.raises(ValueError):
        json.loads(cut)
    assert json.loads(also_fine)["sequence"] == 4
    frame = json.loads(strings, parse_float=Decimal)
    assert frame["sequence"] == 5  # garbled frames still use up their sequence number
    [entry] = frame["data"]
    assert isinstance(entry["amount"], str) and Decimal(entry["amount"]) == Decimal("0.01")
    assert isinstance(entry["balance"], str)
    assert (sim.faults.fired[Fired.INVALID_JSON], sim.faults.fired[Fired.WRONG_TYPES]) == (1, 1)


async def test_a_skipped_sequence_number_is_visible(sim: Simulator, ws_token: str) -> None:
    sim.faults.skip_every = 2
    async with connect(sim.ws_private_url) as client:
        await subscribe(client, ws_token)
        await deposits(sim, 4)
        sequences = [(await receive(client))["sequence"] for _ in range(4)]
    assert sequences == [2, 4, 5, 7]
    assert sim.faults.fired[Fired.SKIP] == 2


async def test_replays_repeat_an_update_and_send_the_one_before_it_again(sim: Simulator, ws_token: str) -> None:
    sim.faults.replay_every = 2
    async with connect(sim.ws_private_url) as client:
        await subscribe(client, ws_token)
        await deposits(sim, 4)
        raws = [await asyncio.wait_for(client.recv(), 2) for _ in range(6)]
    sequences = [json.loads(raw)["sequence"] for raw in raws]
    assert sequences == [2, 3, 3, 4, 5, 4]  # 3 again at once (a duplicate), then 4 after 5 (going backwards)
    assert raws[2] == raws[1] and raws[5] == raws[3]  # the very frames sent before, not new ones
    assert (sim.faults.fired[Fired.DUPLICATE], sim.faults.fired[Fired.REWIND]) == (1, 1)


async def test_hung_up_connections_are_accepted_then_closed_before_any_frame(sim: Simulator) -> None:
    sim.faults.hang_up(2)
    for url in (sim.ws_private_url, sim.ws_public_url):
        async with connect(url) as client:  # the handshake succeeds: websockets' own backoff resets
            with pytest.raises(ConnectionClosed) as closed:
                await receive(client)  # not even the status frame
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    async with connect(sim.ws_private_url) as client:
        assert (await receive(client))["channel"] == "status"
    assert sim.faults.fired[Fired.HANG_UP] == 2


async def test_token_failures_spare_every_other_call(sim: Simulator, http: httpx.AsyncClient, nonce: Nonces) -> None:
    sim.faults.fail_tokens(RestFailure.HTTP_503, 2)
    sim.faults.fail_rest(RestFailure.RATE_LIMIT)
    # Other calls meet only the failures queued for any call (here one rate limit), then are served.
    for balance_ex_error in (["EAPI:Rate limit exceeded"], []):
        response = await http.post(
            "/0/private/GetWebSocketsToken", content=f"nonce={nonce()}", headers={"API-Key": sim.api_key}
        )
        assert response.status_code == 503
        assert (await call_private(http, sim, "BalanceEx", nonce()))["error"] == balance_ex_error
    assert (await call_private(http, sim, "GetWebSocketsToken", nonce()))["error"] == []
    assert sim.faults.fired == {"503": 2, "rate-limit": 1}


async def test_many_dormant_assets_make_a_snapshot_over_1_mib() -> None:
    faults = Faults(many_assets=9000)
    async with Simulator(seed=7, updates_per_second=0, heartbeat_interval=HEARTBEAT_INTERVAL, faults=faults) as sim:
        totals = sim.account.totals()
        assert len(totals) == 12 + 9000 and totals["D09000"] > 0  # 12 listed assets held at the start
        ws_token = await token(sim)
        async with connect(sim.ws_private_url) as client:  # websockets' default max_size: 1 MiB
            assert (await receive(client))["channel"] == "status"
            await client.send(json.dumps({"method": "subscribe", "params": {"channel": "balances", "token": ws_token}}))
            with pytest.raises(ConnectionClosedError) as closed:
                while True:
                    await receive(client, within=10)
        assert closed.value.sent is not None and closed.value.sent.code == 1009

        async with connect(sim.ws_private_url, max_size=None) as tolerant:
            assert (await receive(tolerant))["channel"] == "status"
            params = {"channel": "balances", "token": ws_token}
            assert (await request(tolerant, {"method": "subscribe", "params": params}))["success"]
            raw = await asyncio.wait_for(tolerant.recv(), 10)
        assert len(raw) > 2**20
        snapshot = json.loads(raw, parse_float=Decimal)
        assert {item["asset"]: item["balance"] for item in snapshot["data"]} == totals

        async with httpx.AsyncClient(base_url=sim.rest_url) as http:
            balances = (await call_private(http, sim, "BalanceEx", Nonces()()))["result"]
            listed = (await http.get("/0/public/Assets")).json()["result"]
        assert Decimal(balances["D00001"]["balance"]) == totals["D00001"] and len(balances) == 12 + 9000 + 1  # DOT.S
        assert listed["D00042"]["decimals"] == 8
        for _ in range(50):  # dormant: the account's activity never touches them
            await sim.step()
        assert {a: t for a, t in sim.account.totals().items() if a.startswith("D0")} == {
            a: t for a, t in totals.items() if a.startswith("D0")
        }


async def updates_until_pong(client: ClientConnection) -> list[dict[str, Any]]:
    """Every frame queued so far (the pong to a ping queued now comes after them), heartbeats left out."""
    await client.send(json.dumps({"method": "ping"}))
    frames = []
    while (frame := await receive(client)).get("method") != "pong":
        if frame.get("channel") != "heartbeat":
            frames.append(frame)
    return frames


async def test_the_offline_asset_moves_only_while_nobody_is_subscribed(sim: Simulator, ws_token: str) -> None:
    sim.faults.offline_asset = "ADA"
    async with connect(sim.ws_private_url) as client:
        _, snapshot = await subscribe(client, ws_token)
        await request(client, {"method": "subscribe", "params": {"channel": "executions", "token": ws_token}})
        for _ in range(300):
            await sim.step()
        frames = await updates_until_pong(client)
        assert {frame["data"][0]["asset"] for frame in frames if frame["channel"] == "balances"} >= {"BTC", "USD"}
        assert all(frame["data"][0]["asset"] != "ADA" for frame in frames if frame["channel"] == "balances")
        assert all("ADA" not in frame["data"][0].get("symbol", "") for frame in frames[1:])
        seen = {item["asset"]: item["balance"] for item in snapshot["data"]}["ADA"]
        assert sim.account.totals()["ADA"] == seen

    await eventually(lambda: sim.faults.fired[Fired.OFFLINE] == 3, what="the offline asset to move")
    assert sim.account.totals()["ADA"] != seen
    async with connect(sim.ws_private_url) as again:
        _, fresh = await subscribe(again, ws_token)
        assert {item["asset"]: item["balance"] for item in fresh["data"]}["ADA"] == sim.account.totals()["ADA"]


@pytest.mark.parametrize("resync", [True, False])
async def test_drop_soak_heals_only_with_a_snapshot_resync(resync: bool) -> None:
    """Drops every 10 data frames, alternating close and abort, with an asset that moves only while the client
    is away: a client that rebuilds from each snapshot ends equal to the account; one that does not, ends wrong
    (the negative control the reliability notes call for)."""
    async with Simulator(seed=3, updates_per_second=0, heartbeat_interval=HEARTBEAT_INTERVAL) as sim:
        sim.faults.drop_every, sim.faults.offline_asset = 10, "ADA"
        follower = Follower(sim, resync)
        following = asyncio.create_task(follower.run())
        try:
            for _ in range(300):
                await sim.step()
                await asyncio.sleep(0.002)
            drops = sim.faults.fired[Fired.CLOSE] + sim.faults.fired[Fired.ABORT]
            await deliver_a_deposit(sim)  # the client has caught up once it has seen it
            if resync:
                await eventually(lambda: follower.totals == sim.account.totals(), what="the client to catch up")
            else:
                await eventually(lambda: follower.totals["BTC"] == sim.account.totals()["BTC"], what="the deposit")
                assert follower.totals["ADA"] != sim.account.totals()["ADA"]
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    assert drops >= 10
    assert sim.faults.fired[Fired.OFFLINE] >= 3 * drops


async def deliver_a_deposit(sim: Simulator) -> None:
    """A BTC deposit queued to a live subscription (one queued while the client is away is retried), so the
    client's BTC is the account's once it has read it."""
    async with asyncio.timeout(10):
        while True:
            sent = sim.updates_sent
            await sim.deposit("BTC", Decimal("0.01"))
            if sim.updates_sent > sent:
                return
            await asyncio.sleep(0.01)


class Follower:
    """A balances client that reconnects after every drop, rebuilding from the snapshot only if `resync`."""

    def __init__(self, sim: Simulator, resync: bool) -> None:
        self._sim = sim
        self._resync = resync
        self.totals: dict[str, Decimal] = {}

    async def run(self) -> None:
        while True:
            try:
                async with connect(self._sim.ws_private_url) as client:
                    _, snapshot = await subscribe(client, await token(self._sim))
                    if self._resync or not self.totals:
                        self.totals.update({item["asset"]: item["balance"] for item in snapshot["data"]})
                    async for raw in client:
                        frame = json.loads(raw, parse_float=Decimal)
                        if frame.get("channel") == "balances":
                            for entry in frame["data"]:
                                self.totals[entry["asset"]] = entry["balance"]
            except ConnectionClosed:
                pass


async def test_status_changes_are_pushed_on_both_endpoints_and_rest(sim: Simulator, http: httpx.AsyncClient) -> None:
    async with connect(sim.ws_private_url) as private, connect(sim.ws_public_url) as public:
        before = [await receive(client) for client in (private, public)]
        sim.faults.set_system_status(SystemStatus.MAINTENANCE)
        after = [await receive(client) for client in (private, public)]
    for old, new in zip(before, after, strict=True):
        assert (new["channel"], new["type"], new["data"][0]["system"]) == ("status", "update", "maintenance")
        assert new["data"][0]["connection_id"] == old["data"][0]["connection_id"]
    assert (await http.get("/0/public/SystemStatus")).json()["result"]["status"] == "maintenance"

    sim.faults.set_system_status("cancel_only")
    async with connect(sim.ws_public_url) as late:
        assert (await receive(late))["data"][0]["system"] == "cancel_only"


async def test_maintenance_makes_old_tokens_stale(sim: Simulator, ws: ClientConnection, ws_token: str) -> None:
    await receive(ws)
    sim.faults.set_system_status(SystemStatus.MAINTENANCE)
    assert (await receive(ws))["data"][0]["system"] == "maintenance"
    params = {"channel": "balances", "token": ws_token}
    stale = await request(ws, {"method": "subscribe", "params": params})
    assert stale["error"] == "ESession:Invalid session"
    sim.faults.set_system_status(SystemStatus.ONLINE)
    await receive(ws)
    ack = await request(ws, {"method": "subscribe", "params": {**params, "token": await token(sim)}})
    assert ack["success"] is True


async def test_spoiled_tokens_are_refused_then_fresh_ones_work(sim: Simulator, ws: ClientConnection) -> None:
    await receive(ws)
    sim.faults.spoil_tokens(2)
    for _ in range(2):
        params = {"channel": "balances", "token": await token(sim)}
        refused = await request(ws, {"method": "subscribe", "params": params, "req_id": 4})
        assert (refused["error"], refused["success"], refused["req_id"]) == ("ESession:Invalid session", False, 4)
    ack = await request(ws, {"method": "subscribe", "params": {**params, "token": await token(sim)}})
    assert ack["success"] is True
    assert sim.faults.fired[Fired.SPOIL_TOKEN] == 2


@pytest.fixture
async def private_http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a short per-read timeout, as the REST faults are about timeouts."""
    timeout = httpx.Timeout(connect=5.0, read=0.5, write=5.0, pool=5.0)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=timeout) as client:
        yield client


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (RestFailure.INVALID_NONCE, "EAPI:Invalid nonce"),
        (RestFailure.RATE_LIMIT, "EAPI:Rate limit exceeded"),
        (RestFailure.LOCKOUT, "EGeneral:Temporary lockout"),
    ],
)
async def test_kraken_errors_come_in_the_envelope(
    sim: Simulator, http: httpx.AsyncClient, nonce: Nonces, failure: RestFailure, error: str
) -> None:
    sim.faults.fail_rest(failure, 2)
    for _ in range(2):
        assert await call_private(http, sim, "BalanceEx", nonce()) == {"error": [error]}
    assert (await call_private(http, sim, "BalanceEx", nonce()))["error"] == []
    assert sim.faults.fired[failure] == 2


@pytest.mark.parametrize("failure", [RestFailure.HTTP_500, RestFailure.HTTP_502, RestFailure.HTTP_503])
async def test_server_errors_are_pages_not_envelopes(
    sim: Simulator, http: httpx.AsyncClient, nonce: Nonces, failure: RestFailure
) -> None:
    sim.faults.fail_rest(failure)
    value = nonce()
    response = await http.post("/0/private/Balance", content=f"nonce={value}", headers={"API-Key": sim.api_key})
    assert response.status_code == int(failure)
    assert response.headers["content-type"].startswith("text/html")
    assert (await http.get("/0/public/Time")).json()["error"] == []  # public calls are not affected
    assert (await call_private(http, sim, "Balance", value))["error"] == []  # the failed call used no nonce


async def test_a_dripped_reply_never_trips_a_per_read_timeout(
    sim: Simulator, private_http: httpx.AsyncClient, nonce: Nonces
) -> None:
    sim.faults.drip_interval = 0.01
    sim.faults.fail_rest(RestFailure.DRIP)
    started = time.monotonic()
    reply = await call_private(private_http, sim, "GetWebSocketsToken", nonce())
    elapsed = time.monotonic() - started
    body = json.dumps(reply, separators=(",", ":"))
    assert reply["error"] == [] and len(reply["result"]["token"]) >= 32
    assert elapsed >= len(body) * 0.01 > 0.5  # far longer than the 0.5 s read timeout, yet no ReadTimeout


async def test_a_hung_call_never_answers_until_the_client_gives_up(
    sim: Simulator, private_http: httpx.AsyncClient, nonce: Nonces
) -> None:
    sim.faults.fail_rest(RestFailure.HANG)
    with pytest.raises(httpx.ReadTimeout):
        await call_private(private_http, sim, "BalanceEx", nonce())
    assert (await call_private(private_http, sim, "BalanceEx", nonce()))["error"] == []
    assert sim.faults.fired[RestFailure.HANG] == 1


async def test_stop_stays_prompt_with_a_call_hanging() -> None:
    sim = Simulator(updates_per_second=0)
    await sim.start()
    sim.faults.fail_rest(RestFailure.HANG)
    async with httpx.AsyncClient(base_url=sim.rest_url) as client:
        hanging = asyncio.create_task(call_private(client, sim, "Balance", Nonces()()))
        await eventually(lambda: sim.faults.fired[RestFailure.HANG] == 1, what="the call to arrive")
        started = time.monotonic()
        await sim.stop()
        assert time.monotonic() - started < 5
        with pytest.raises(httpx.TransportError):
            await hanging
