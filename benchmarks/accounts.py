"""What one more Kraken account costs inside one process: the engine, feed and ticker of `open_backend`, without
a screen (the figure an account-tabs console would add per tab, next to serve_tabs.py's one console per process).

A simulated Kraken runs in a process of its own (one account, 2 updates/s by default). The measured process
opens K backends on it, as K accounts would be (each its own REST client, private and public WebSocket
connections, engine, history writer and store), runs their feeds for `--settle` seconds, then measures its
USS (pages only it holds) and CPU over `--seconds`. Run for K = 1 and K = 10; the difference over 9 is what
each extra account adds.

    .venv/bin/python benchmarks/accounts.py                  # K = 1, then K = 10
    .venv/bin/python benchmarks/accounts.py --accounts 1,20

Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import tomli_w
from serve_tabs import cpu_seconds, memory_mib

FORK = multiprocessing.get_context("fork")
KEY, SECRET = "bench-accounts-key", base64.b64encode(b"bench-accounts-secret-0123456789").decode()


def exchange(updates_per_second: float, urls) -> None:  # type: ignore[no-untyped-def]
    from balance_tui.sim import Simulator

    async def serve() -> None:
        sim = Simulator(api_key=KEY, api_secret=SECRET, updates_per_second=updates_per_second)
        await sim.start()
        urls.put({"name": "kraken", "rest_url": sim.rest_url, "ws_private_url": sim.ws_private_url,
                  "ws_public_url": sim.ws_public_url})  # fmt: skip
        await asyncio.Event().wait()

    asyncio.run(serve())


def accounts(count: int, urls: dict, folder: Path, settle: float, seconds: float, results) -> None:  # type: ignore[no-untyped-def]
    os.environ.update(XDG_STATE_HOME=str(folder / "state"), XDG_DATA_HOME=str(folder / "data"))
    from balance_tui.backend import open_backend
    from balance_tui.config import load_config
    from balance_tui.kraken.credentials import Credentials

    async def run() -> None:
        async with AsyncExitStack() as stack:
            feeds, backends = [], []
            for index in range(count):
                path = folder / f"account{index}.toml"
                store = {"database_url": f"sqlite:///{folder / f'account{index}.db'}"}
                path.write_text(tomli_w.dumps({"exchange": urls, "store": store}))
                config = load_config(path).config
                backend = await stack.enter_async_context(open_backend(config, Credentials.of(KEY, SECRET)))
                feeds.append(asyncio.create_task(backend.run()))
                backends.append(backend)
            await asyncio.sleep(settle)
            pid = os.getpid()
            cpu, memory = cpu_seconds(pid), memory_mib(pid)
            await asyncio.sleep(seconds)
            live = sum(b.manager.has_snapshot and b.manager.health.messages > 0 for b in backends)
            results.put((memory_mib(pid)["uss"], memory["uss"], (cpu_seconds(pid) - cpu) / seconds, live))
            for feed in feeds:
                feed.cancel()
            await asyncio.gather(*feeds, return_exceptions=True)

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="1,10", help="comma-separated backend counts")
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--updates-per-second", type=float, default=2.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    started = FORK.Queue()
    server = FORK.Process(target=exchange, args=(args.updates_per_second, started), daemon=True)
    server.start()
    try:
        urls = started.get(timeout=30)
        for count in (int(n) for n in args.accounts.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                results = FORK.Queue()
                proc = FORK.Process(
                    target=accounts, args=(count, urls, Path(folder), args.settle, args.seconds, results)
                )
                proc.start()
                uss, uss_before, cpu, live = results.get(timeout=args.settle + args.seconds + 120)
                proc.join(30)
                print(
                    f"{count:>3} accounts in one process ({live} fed): USS {uss:.0f} MiB "
                    f"(after settling {uss_before:.0f}), "
                    f"CPU {cpu * 100:.1f}% of a core over {args.seconds:g} s",
                    flush=True,
                )
    finally:
        server.kill()
        server.join()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
