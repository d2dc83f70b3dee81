"""What each browser tab of `balance-tui serve` costs: memory and CPU of its console process, and bytes sent.

Starts `balance-tui serve` on a throwaway config and store (the built-in simulator), opens N tabs the way
the page's script does (a websocket to /ws that reads everything the console sends; the browser's own
cost, xterm.js drawing, is on the operator's machine and not counted), lets them settle, then measures
each console over a window:
- RSS, and PSS / USS from /proc/PID/smaps_rollup (USS: pages no other process shares; what one more tab adds);
- CPU (user + system) over the window, as a share of one core;
- bytes per second the console sent to its tab.
The server process itself is measured the same way. Each console runs its own simulator in the default
config (exchange "sim"); against Kraken it would hold its own connections instead.

    .venv/bin/python benchmarks/serve_tabs.py                          # 5 tabs, default simulator rate (2/s)
    .venv/bin/python benchmarks/serve_tabs.py --updates-per-second 0   # an account at rest: idle cost

Nothing here is asserted; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w
import websockets

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mib(pid: int) -> dict[str, float]:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    kib = {name: int(value) for name, value in re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.MULTILINE)}
    return {
        "rss": kib["Rss"] / 1024,
        "pss": kib["Pss"] / 1024,
        "uss": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024,
    }


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class Tab:
    def __init__(self, url: str) -> None:
        self.url = url
        self.received = 0
        self.drawn = asyncio.Event()

    async def run(self) -> None:
        async with websockets.connect(self.url, max_size=None) as socket:
            async for message in socket:
                self.received += len(message)
                if self.received > 2000:
                    self.drawn.set()


async def measure(args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]  # other work on the machine, before any tab
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        config = home / "config.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "sim": {"updates_per_second": args.updates_per_second},
                    "store": {"database_url": f"sqlite:///{home / 'balance.db'}"},
                }
            )
        )
        env = {**os.environ, "HOME": folder, "XDG_STATE_HOME": f"{folder}/state", "XDG_DATA_HOME": f"{folder}/data"}
        command = [sys.executable, "-m", "balance_tui", "serve", "--config", str(config), "--port", "0"]
        if args.allow_write:
            command.append("--allow-write")
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        try:
            banner = server.stdout.readline()
            url = re.search(r"on (http://\S+):", banner).group(1).replace("http", "ws") + "/ws?width=140&height=40"
            tabs, tasks, starts, start_cpu, consoles = [], [], [], [], []
            for _ in range(args.tabs):
                tab = Tab(url)
                before = time.monotonic()
                tasks.append(asyncio.create_task(tab.run()))
                await asyncio.wait_for(tab.drawn.wait(), 60)
                starts.append(time.monotonic() - before)
                (pid,) = set(children(server.pid)) - set(consoles)
                start_cpu.append(cpu_seconds(pid))  # what the console took to draw its first screen
                tabs.append(tab)
                consoles.append(pid)
            await asyncio.sleep(args.settle)
            cpu0 = {pid: cpu_seconds(pid) for pid in [server.pid, *consoles]}
            bytes0 = [tab.received for tab in tabs]
            t0 = time.monotonic()
            await asyncio.sleep(args.seconds)
            elapsed = time.monotonic() - t0
            cpu = {pid: (cpu_seconds(pid) - cpu0[pid]) / elapsed for pid in cpu0}
            sent = [(tab.received - b) / elapsed for tab, b in zip(tabs, bytes0, strict=True)]
            memory = {pid: memory_mib(pid) for pid in cpu0}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            server.terminate()
            server.wait(timeout=30)

    mem_total = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024
    cores = os.cpu_count() or 1
    print(f"{args.tabs} tabs, simulator {args.updates_per_second:g} updates/s, window {elapsed:.0f} s")
    print(f"machine: {cores} cores, {mem_total / 1024:.1f} GiB, load before {load:.2f}")
    print("| process | RSS MiB | PSS MiB | USS MiB | CPU (one core) | sent to tab |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, pid in enumerate(consoles):
        m = memory[pid]
        print(
            f"| console {i + 1} | {m['rss']:.0f} | {m['pss']:.0f} | {m['uss']:.0f} | {cpu[pid]:.1%} | "
            f"{sent[i] / 1024:.1f} KiB/s |"
        )
    m = memory[server.pid]
    print(f"| server | {m['rss']:.0f} | {m['pss']:.0f} | {m['uss']:.0f} | {cpu[server.pid]:.1%} | - |")
    uss = statistics.median(memory[pid]["uss"] for pid in consoles)
    pss = statistics.median(memory[pid]["pss"] for pid in consoles)
    share = statistics.median(cpu[pid] for pid in consoles)
    print(f"first screen after {statistics.median(starts):.1f} s (median), {statistics.median(start_cpu):.1f} CPU-s")
    print(f"per tab (median): {pss:.0f} MiB PSS, {uss:.0f} MiB USS, {share:.1%} of a core")
    print(f"memory bound: {mem_total / pss:.0f} tabs in {mem_total / 1024:.0f} GiB; CPU bound: {cores / share:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    parser.add_argument("--settle", type=float, default=10.0, help="wait after the last tab opened")
    parser.add_argument("--updates-per-second", type=float, default=2.0, help="the simulator's rate")
    parser.add_argument("--allow-write", action="store_true", help="consoles that write (history, session)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
