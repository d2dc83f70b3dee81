"""Peers on one feed: bare websockets, our engine, python-kraken-sdk and ccxt.pro on the simulator's balances.

Every client really talks to a started `balance_tui.sim.Simulator` on loopback (pinned to CPU 0), as it
would talk to Kraken: a signed REST `GetWebSocketsToken` with the simulator's demo key and nonces (and ccxt's
`load_markets`: public `Assets` and `AssetPairs`), the WS v2 handshake on the private path `/v2`, `status`,
pings, a token-checked `subscribe`, the ack and the balances snapshot, heartbeats. A fresh simulator (and so
a fresh key) serves each run: the clients' nonce scales differ (python-kraken-sdk 1e8 per second, ccxt and
ours milliseconds), and a key that has seen the larger scale refuses the smaller one, as Kraken does.

The clients, each run in a fresh process pinned to CPU 1, in the way their users use them:

    bare   websockets `connect` + `json.loads(raw, parse_float=Decimal)`: the ceiling of exact ingest
    ours   `open_backend` on a config naming the simulator's URLs (`[exchange] name = "kraken"`), and
           `backend.run()`, as the README's bot does: REST token and holds, the WS session loop, strict
           parsing, sequence checks, `BalanceManager` (state, cache, validator, history), the engine's
           supervisor and the public ticker beside it, with a `ledger_entry` callback
    sdk    python-kraken-sdk `SpotWSClient(key, secret, callback=...)` pointed at the simulator (`rest_url`,
           `auth_ws_url`), subscribed to `balances`
    ccxt   `ccxt.pro.kraken` with `urls['api']` pointed at the simulator, a bot's `await watch_balance()` loop

Each hands every update's asset and balance to the same tally (ccxt: counted in its `handle_balance`, the
values read from its balance structure at the end), and the parent checks each run's count and final
balances against what was sent. The timed window opens when the client has its snapshot and closes at its
last update; the rate is updates per client CPU-second (`time.process_time`), so other processes' load does
not count, and the client is the bottleneck because the sender costs next to nothing per frame (below).

First, a check against the live simulator: each client gets the updates the demo account's own activity
makes, built and sent by the simulator's balances channel, and must receive and decode every one of them.
Then the timed feed: the update frames stream_ingest.py builds (the simulator's `BalancesChannel` over a
seeded `DemoAccount`, amounts as JSON numbers at full precision), serialized once as WebSocket frames and
written straight into the subscriber's socket on the simulator, in chunks that follow its flow control.
The simulator's own frames (status, ack, snapshot, heartbeats, pongs) still come from the simulator: a
fresh one's snapshot is the feed's, so its updates continue it (sequence 2 onwards; each bare run checks
that the snapshot it got is the feed's, byte for byte). Written that way the sender cannot bound the faster
clients; sent one by one through the simulator's own writer (about 18 us a frame here) it would hold bare
and ours below their rates and make them look dearer per message. The update frames are uncompressed,
which is valid whatever a client negotiated: bare offers no permessage-deflate, the others offer it and
the simulator accepts it (the check prints what each negotiated), so only the simulator's own frames are
compressed for them. Clients are interleaved in each repetition (A B C D, then D C B A).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/peers.py                  # 100,000 updates, 5 repetitions: about 2 minutes
    .venv/bin/python benchmarks/peers.py --clients bare,float,ours,sdk,ccxt    # and the floor of a float client
    .venv/bin/python benchmarks/peers.py --frames 20000 --repeat 3 --clients bare,ours,ccxt

The last lines are the figures and the goals (ours at least 3x each peer, at least 0.6 of bare). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from stream_ingest import CLIENT_CPU, SENDER_CPU, Meter, build_feed, pin, spread
from websockets.frames import Frame, Opcode

SEED = 7
CLIENTS = ("bare", "ours", "sdk", "ccxt")
PEERS = ("sdk", "ccxt")
OPT_IN = ("float",)  # bare websockets + json.loads with floats: the floor of a float client like the two peers
CHUNK_BYTES = 256 * 1024  # whole frames per write into the subscriber's socket
IDLE_S = 0.5  # the live check ends this long after the last update
RUN_TIMEOUT_S = 300.0  # a client that has not finished by then has failed
GOAL_PEERS, GOAL_BARE = 3.0, 0.6


@dataclass(frozen=True)
class Endpoint:
    """Where one run's simulator listens, and its demo key."""

    rest_url: str
    ws_private_url: str
    ws_public_url: str
    api_key: str
    api_secret: str


@dataclass(frozen=True)
class Expected:
    """What a client must end with: the number of balances updates and each asset's last `balance`; the
    snapshot the updates continue (the timed feed's), and what the subscriber negotiated (the live check's)."""

    updates: int
    finals: dict[str, Decimal]
    snapshot: str | None = None
    extensions: tuple[str, ...] = ()


def expected_from(snapshot: str, updates: list[str]) -> Expected:
    finals: dict[str, Decimal] = {}
    for text in updates:
        for item in json.loads(text, parse_float=Decimal)["data"]:
            finals[item["asset"]] = item["balance"]
    return Expected(len(updates), finals, snapshot)


def wire_chunks(frames: list[str]) -> list[bytes]:
    """The frames as a server sends them (unmasked, uncompressed text frames), joined into chunks."""
    chunks: list[bytes] = []
    pending: list[bytes] = []
    size = 0
    for text in frames:
        data = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        pending.append(data)
        size += len(data)
        if size >= CHUNK_BYTES:
            chunks.append(b"".join(pending))
            pending, size = [], 0
    if pending:
        chunks.append(b"".join(pending))
    return chunks


# -- the sender: one simulator per run ------------------------------------------------------------------


def sender_main(box: list[list[bytes]], control: Pipe) -> None:
    pin(SENDER_CPU)
    asyncio.run(_serve(box.pop(), control))


async def _serve(chunks: list[bytes], control: Pipe) -> None:
    from balance_tui.sim import Simulator

    sim: Simulator | None = None
    while True:
        command, *args = await asyncio.to_thread(control.recv)
        match command:
            case "open":
                sim = Simulator(seed=SEED, updates_per_second=0)  # activity only when the benchmark says
                await sim.start()
                control.send(Endpoint(sim.rest_url, sim.ws_private_url, sim.ws_public_url, sim.api_key, sim.api_secret))
            case "flood":
                assert sim is not None
                await _flood(sim, chunks)
            case "live":
                assert sim is not None
                control.send(await _live(sim, *args))
            case "close":
                assert sim is not None
                await sim.stop()
                sim = None
                control.send("closed")
            case "stop":
                return


async def _live(sim: Any, updates: int) -> Expected:
    """The demo account's own activity, through the simulator's balances channel, until `updates` frames
    (or a few more: a step's entries all go out) are on their way to the subscriber."""
    finals: dict[str, Decimal] = {}
    start = sim.updates_sent
    while sim.updates_sent - start < updates:
        for entry in await sim.step():
            finals[entry.asset] = entry.balance
        await asyncio.sleep(0.002)  # let the connection's writer keep up: its outbox is bounded
    extensions = tuple(extension.name for extension in _subscriber_protocol(sim).conn.extensions)
    return Expected(sim.updates_sent - start, finals, extensions=extensions)


def _subscriber_protocol(sim: Any) -> Any:
    """The uvicorn protocol (socket, flow control) of the simulator's one balances subscriber.

    Reached through the simulator's internals on purpose: this is the benchmark's own fast path for bytes
    the simulator's channel already built, not a simulator feature."""
    (connection,) = sim._balances._subscriptions
    scope = connection._websocket.scope
    for protocol in sim._server.server_state.connections:
        if getattr(protocol, "scope", None) is scope:
            return protocol
    raise RuntimeError("the balances subscriber's connection is not among the simulator's")


async def _flood(sim: Any, chunks: list[bytes]) -> None:
    protocol = _subscriber_protocol(sim)
    for chunk in chunks:
        await protocol.writable.wait()  # uvicorn's flow control: cleared while the socket's buffer is full
        if protocol.disconnected:
            return
        protocol.transport.write(chunk)


# -- the clients ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one client received. `want` updates end the run; None (the live check): IDLE_S without one."""

    out: Pipe
    sender_pid: int
    want: int | None
    count: int = 0
    finals: dict[str, Any] = field(default_factory=dict)
    meter: Meter | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        """The client has its snapshot: the timed window opens, and the sender may go."""
        if self.meter is None:
            gc.collect()
            self.meter = Meter(self.sender_pid)
            self.out.send("ready")

    def update(self, asset: str, balance: Any) -> None:
        self.finals[asset] = balance
        self.count += 1
        if self.count == self.want:
            self.done.set()

    def counted(self, n: int) -> None:
        self.count += n
        if self.want is not None and self.count >= self.want:
            self.done.set()

    async def finished(self) -> dict[str, float]:
        if self.want is not None:
            await self.done.wait()
        else:
            seen = -1
            while not (self.count and self.count == seen):
                seen = self.count
                await asyncio.sleep(IDLE_S)
        for _ in range(3):  # what the last update scheduled (ours: the conflated observation) runs too
            await asyncio.sleep(0)
        assert self.meter is not None
        return self.meter.stop(self.count)


async def _token(endpoint: Endpoint) -> str:
    """A signed GetWebSocketsToken, for the bare client (the others ask in their own way)."""
    import httpx

    from balance_tui.kraken.signing import sign

    path, nonce = "/0/private/GetWebSocketsToken", str(time.time_ns() // 1_000_000)
    body = f"nonce={nonce}"
    headers = {
        "API-Key": endpoint.api_key,
        "API-Sign": sign(path, nonce, body, endpoint.api_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with httpx.AsyncClient(base_url=endpoint.rest_url) as http:
        reply = (await http.post(path, content=body, headers=headers)).json()
    if reply["error"]:
        raise RuntimeError(f"GetWebSocketsToken: {reply['error']}")
    return reply["result"]["token"]


async def _bare(endpoint: Endpoint, tally: Tally, parse_float: Callable[[str], Any] | None = Decimal) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from balance_tui.kraken.frames import MAX_FRAME_BYTES

    token = await _token(endpoint)
    snapshot = None

    async def read(ws: Any) -> None:
        nonlocal snapshot
        async for raw in ws:
            message = json.loads(raw, parse_float=parse_float)
            if message.get("channel") == "balances":
                if message["type"] == "update":
                    for item in message["data"]:
                        tally.update(item["asset"], item["balance"])
                else:
                    snapshot = raw
                    tally.start()

    async with connect(endpoint.ws_private_url, compression=None, max_size=MAX_FRAME_BYTES) as ws:
        subscribe = {"method": "subscribe", "params": {"channel": "balances", "token": token}, "req_id": 1}
        await ws.send(json.dumps(subscribe))
        reader = asyncio.create_task(read(ws))
        result = await tally.finished()
        reader.cancel()
    return result | {"snapshot": snapshot}


async def _ours(endpoint: Endpoint, tally: Tally) -> dict[str, Any]:
    from balance_tui.backend import open_backend
    from balance_tui.config import load_config
    from balance_tui.kraken.credentials import Credentials

    with tempfile.TemporaryDirectory(prefix="peers-ours-") as scratch:
        os.environ["XDG_STATE_HOME"] = scratch  # the nonce mark of this run's key
        path = Path(scratch) / "config.toml"
        path.write_text(
            "[exchange]\n"
            'name = "kraken"\n'
            f'rest_url = "{endpoint.rest_url}"\n'
            f'ws_private_url = "{endpoint.ws_private_url}"\n'
            f'ws_public_url = "{endpoint.ws_public_url}"\n'
            "[store]\n"
            f'database_url = "sqlite:///{scratch}/balance.db"\n'
        )
        config = load_config(path, env={}).config
        credentials = Credentials.of(endpoint.api_key, endpoint.api_secret)
        async with open_backend(config, credentials, own_session=False) as backend:
            manager = backend.manager
            manager.register_callback("ledger_entry", lambda entry: tally.update(entry.asset, entry.balance))
            feed = asyncio.create_task(backend.run())
            await manager.wait_for_snapshot()
            tally.start()
            result = await tally.finished()
            totals = {asset: balance.total for asset, balance in manager.get_all_balances().items()}
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
    return result | {"engine_totals": totals}


async def _sdk(endpoint: Endpoint, tally: Tally) -> dict[str, Any]:
    from kraken.spot import SpotWSClient

    async def on_message(message: dict[str, Any]) -> None:
        if message.get("channel") == "balances":
            if message.get("type") == "update":
                for item in message["data"]:
                    tally.update(item["asset"], item["balance"])
            elif message.get("type") == "snapshot":
                tally.start()

    client = SpotWSClient(
        key=endpoint.api_key,
        secret=endpoint.api_secret,
        callback=on_message,
        no_public=True,
        rest_url=endpoint.rest_url,
        auth_ws_url=endpoint.ws_private_url.removesuffix(SpotWSClient.API_V),  # it appends "/v2"
    )
    await client.start()
    await client.subscribe(params={"channel": "balances"})
    result = await tally.finished()
    await asyncio.wait_for(client.close(), 15)
    return result


async def _ccxt(endpoint: Endpoint, tally: Tally) -> dict[str, Any]:
    import ccxt.pro

    class Kraken(ccxt.pro.kraken):  # type: ignore[misc,name-defined]
        def handle_balance(self, client: Any, message: dict[str, Any]) -> None:
            super().handle_balance(client, message)
            if message.get("type") == "update":
                tally.counted(len(message["data"]))
            else:
                tally.start()

    exchange = Kraken({"apiKey": endpoint.api_key, "secret": endpoint.api_secret})
    api = exchange.urls["api"]
    api["public"] = api["private"] = endpoint.rest_url
    api["ws"] |= {
        "privateV2": endpoint.ws_private_url,
        "private": endpoint.ws_private_url.removesuffix("/v2"),  # only names the client that caches the token
        "publicV2": endpoint.ws_public_url,
    }

    async def bot() -> None:
        while True:
            await exchange.watch_balance()

    try:
        watching = asyncio.create_task(bot())
        result = await tally.finished()
        tally.finals = {code: total for code, total in exchange.balance["spot"]["total"].items()}
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    finally:
        await exchange.close()
    return result


async def _float(endpoint: Endpoint, tally: Tally) -> dict[str, Any]:
    return await _bare(endpoint, tally, parse_float=None)


RUNNERS: dict[str, Callable[[Endpoint, Tally], Coroutine[Any, Any, dict[str, Any]]]] = {
    "bare": _bare,
    "float": _float,
    "ours": _ours,
    "sdk": _sdk,
    "ccxt": _ccxt,
}


def client_main(client: str, endpoint: Endpoint, want: int | None, sender_pid: int, out: Pipe) -> None:
    pinned = pin(CLIENT_CPU)
    # The check shows the clients' warnings; timed runs would repeat the same ones (ours: the simulator
    # lists no ticker pair for three of the assets it holds, which real Kraken does).
    logging.basicConfig(level=logging.WARNING if want is None else logging.ERROR)

    async def run() -> dict[str, Any]:
        tally = Tally(out, sender_pid, want)
        result = await RUNNERS[client](endpoint, tally)
        return result | {"finals": tally.finals}

    result = asyncio.run(run())
    out.send(result | {"pinned": pinned})


# -- the orchestration ----------------------------------------------------------------------------------


def run_client(context: Any, control: Pipe, sender_pid: int, client: str, mode: str, want: int | None, live: int):
    """One run: a fresh simulator, the client in its own process; returns (its result, what was sent)."""
    control.send(("open",))
    endpoint: Endpoint = control.recv()
    ours, theirs = context.Pipe()
    process = context.Process(target=client_main, args=(client, endpoint, want, sender_pid, theirs))
    process.start()
    theirs.close()
    try:
        if not ours.poll(RUN_TIMEOUT_S):
            raise RuntimeError(f"{client}: no snapshot within {RUN_TIMEOUT_S:.0f} s")
        if ours.recv() != "ready":
            raise RuntimeError(f"{client}: expected 'ready'")
        control.send(("flood",) if mode == "flood" else ("live", live))
        sent = None if mode == "flood" else control.recv()
        if not ours.poll(RUN_TIMEOUT_S):
            raise RuntimeError(f"{client}: not finished within {RUN_TIMEOUT_S:.0f} s")
        result = ours.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the {client} client died (exit code {process.exitcode})") from None
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
        control.send(("close",))
        control.recv()
    return result, sent


def check(client: str, result: dict[str, Any], expected: Expected) -> list[str]:
    """What is wrong with what the client received, or [] (each run is checked, timed ones too)."""
    problems = []
    if expected.snapshot is not None and result.get("snapshot", expected.snapshot) != expected.snapshot:
        problems.append("its snapshot is not the feed's, so the feed's updates do not continue it")
    if result["messages"] != expected.updates:
        problems.append(f"received {result['messages']:,} updates of {expected.updates:,}")
    finals = result["finals"]
    for asset, balance in expected.finals.items():
        got = finals.get(asset)
        if got is None:
            problems.append(f"no balance for {asset}")
        elif isinstance(got, float) and got != float(balance):
            problems.append(f"{asset}: {got!r}, not the float nearest {balance}")
        elif not isinstance(got, float) and Decimal(got) != balance:
            problems.append(f"{asset}: {got}, expected {balance}")
    for asset, total in result.get("engine_totals", {}).items():
        if asset in expected.finals and total != expected.finals[asset]:
            problems.append(f"engine total {asset}: {total}, expected {expected.finals[asset]}")
    return problems


def exactness(result: dict[str, Any], expected: Expected) -> str:
    """How the client holds the final balances: exact Decimals, or floats that keep every digit or not."""
    finals = [(result["finals"][a], b) for a, b in expected.finals.items() if a in result["finals"]]
    if all(not isinstance(got, float) for got, _ in finals):
        return f"{len(finals)} final balances exact (Decimal)"
    kept = sum(Decimal(repr(got)) == want for got, want in finals)
    return f"{len(finals)} final balances as float: {kept} keep every digit, all the nearest float"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="balances update frames per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (each runs every client once)")
    parser.add_argument("--check-updates", type=int, default=300, help="live updates in the check before timing")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, from {CLIENTS + OPT_IN}")
    args = parser.parse_args()
    clients = [c for c in args.clients.split(",") if c]
    if not set(clients) <= set(CLIENTS + OPT_IN) or "ours" not in clients:
        parser.error(f"--clients: names from {CLIENTS + OPT_IN}, ours included (the ratios are ours to each)")

    started = time.perf_counter()
    feed = build_feed(args.frames, SEED)
    updates = feed.frames[3:]
    expected = expected_from(feed.frames[2], updates)
    box = [wire_chunks(updates)]
    sizes = [len(text.encode()) for text in updates]
    print(
        f"feed: {len(updates):,} balances updates from DemoAccount(seed={SEED}) via the simulator's BalancesChannel "
        f"({statistics.mean(sizes):.0f} B mean, {sum(sizes) / 2**20:.1f} MiB, {len(expected.finals)} assets), "
        f"built in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    del feed, updates

    context = multiprocessing.get_context("fork")
    control, remote = context.Pipe()
    sender = context.Process(target=sender_main, args=(box, remote))
    sender.start()
    box.clear()
    gc.collect()
    sender_pid = sender.pid or 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"simulator pinned to CPU {SENDER_CPU}, clients to CPU {CLIENT_CPU}; {cpus} CPUs", flush=True)

    results: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    try:
        print(f"\ncheck against the live simulator (the demo account's activity, ~{args.check_updates} updates):")
        failed = False
        for client in clients:
            result, sent = run_client(context, control, sender_pid, client, "live", None, args.check_updates)
            problems = check(client, result, sent)
            failed |= bool(problems)
            verdict = "; ".join(problems) if problems else exactness(result, sent)
            print(
                f"  {client:5}: {result['messages']:,} of {sent.updates:,} updates received and decoded; {verdict}; "
                f"extensions negotiated: {', '.join(sent.extensions) or 'none'}"
            )
        if failed:
            raise SystemExit("a client failed against the simulator: that is a simulator bug to fix first")

        print(f"\ntimed: {expected.updates:,} updates per run, {args.repeat} repetitions")
        for rep in range(args.repeat):
            for client in clients if rep % 2 == 0 else clients[::-1]:
                r, _ = run_client(context, control, sender_pid, client, "flood", expected.updates, 0)
                if problems := check(client, r, expected):
                    raise SystemExit(f"{client}, repetition {rep + 1}: " + "; ".join(problems))
                results[client].append(r)
                print(
                    f"  rep {rep + 1} {client:5}: {r['messages'] / r['cpu']:9,.0f} msg/s per client CPU-s "
                    f"({r['messages'] / r['wall']:7,.0f} wall, {r['wall']:5.2f} s), "
                    f"{r['cpu'] / r['messages'] * 1e6:6.2f} us/msg, "
                    f"client {r['client_share']:4.0%} / simulator {r['sender_share']:4.0%} of a core, "
                    f"others {r['others']:.2f} cores{'' if r['pinned'] else ' (not pinned)'}",
                    flush=True,
                )
    finally:
        control.send(("stop",))
        sender.join(10)

    print(f"\nper client, median [min .. max], n={args.repeat}; {expected.updates:,} updates per run:")
    for client in clients:
        runs = results[client]
        print(
            f"  {client:5}: {spread([r['messages'] / r['cpu'] for r in runs])} msg/s per client CPU-s, "
            f"{spread([r['cpu'] / r['messages'] * 1e6 for r in runs], '.2f')} us/msg, "
            f"{spread([r['messages'] / r['wall'] for r in runs])} msg/s wall"
        )
    others = [r["others"] for runs in results.values() for r in runs]
    print(f"  CPU used by other processes during the runs: {spread(others, '.2f')} cores (of {cpus})")

    print("ratios of ours to each, per repetition (by client CPU):")
    verdicts = []
    for client in (c for c in clients if c != "ours"):
        ratios = [
            o["messages"] / o["cpu"] / (r["messages"] / r["cpu"])
            for o, r in zip(results["ours"], results[client], strict=True)
        ]
        goal = GOAL_BARE if client == "bare" else GOAL_PEERS if client in PEERS else None
        if goal is None:
            print(f"  ours/{client:5}: {spread(ratios, '.2f')}")
            continue
        met = statistics.median(ratios) >= goal
        print(f"  ours/{client:5}: {spread(ratios, '.2f')}  goal >= {goal:g}: {'met' if met else 'NOT met'}")
        verdicts.append(f"ours/{client} {statistics.median(ratios):.2f} ({'met' if met else 'not met'}, goal {goal:g})")
    rate = statistics.median(r["messages"] / r["cpu"] for r in results["ours"])
    print(f"{rate:,.0f} msg/s per CPU-s for ours; " + ", ".join(verdicts))


if __name__ == "__main__":
    main()
