"""`balance-tui serve`: the console in a browser, through textual-serve.

Every browser tab (every websocket) starts its own `balance-tui` process on the same config and store, with
the terminal drawn by xterm.js in the page. textual-serve has no login: the server binds loopback unless
told `--public`, and refuses two things a loopback server would otherwise allow any web page in the
operator's browser to do:
- a websocket whose `Origin` is another site (cross-site websocket hijacking: a page the operator visits
  opening `ws://127.0.0.1:8000/ws` and typing into the console);
- while bound to loopback, a request whose `Host` is not a loopback name (DNS rebinding: a page's own
  host name made to resolve to 127.0.0.1).

The page and its websocket URL are built from the request's `Host`, not from `--host`/`--port`, so an SSH
tunnel on another local port (`ssh -L 9000:127.0.0.1:8000 host`) or a reverse proxy that passes `Host`
through works. The page asks nothing of any other server (textual-serve's own takes its font from Google):
an operator behind a tunnel or offline gets the whole page.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int
from yarl import URL

log = logging.getLogger(__name__)

STOP_CONSOLES_S = 10.0  # how long a console may take to quit (its store flushed) when the server stops
TITLE = "Balance Console"
TEMPLATES = Path(__file__).with_name("templates")  # the page: textual-serve's, with no request elsewhere


def console_command(config_path: Path | None, *, read_only: bool) -> str:
    """The shell command textual-serve runs for each tab: this Python, this package, the same config.

    `exec`, so the console is the shell's own process: it gets the signals and its RSS is the tab's."""
    argv = [sys.executable, "-m", "balance_tui"]
    if config_path is not None:
        argv += ["--config", str(config_path.resolve())]
    if read_only:
        argv.append("--read-only")
    return "exec " + shlex.join(argv)


class UnknownHost(ValueError):
    """A --host that names no address to listen on."""


def loopback_problem(host: str) -> str | None:
    """None if every address `host` names is a loopback one; else what it is, in words. `UnknownHost` if
    it names none."""
    if not host:
        raise UnknownHost("an empty host would listen on every interface; name one, e.g. 0.0.0.0")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnknownHost(f"cannot resolve it: {exc.strerror}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    outside = sorted({str(a) for a in addresses if not a.is_loopback})
    if not outside:
        return None
    if any(a.is_unspecified for a in addresses):
        return "it listens on every interface"
    return f"{', '.join(outside)} is not a loopback address"


def _is_loopback_name(hostname: str | None) -> bool:
    """A `Host` header's name that can only mean this machine."""
    if not hostname:
        return False
    name = hostname.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _authority(url: URL) -> tuple[str, int | None]:
    return (url.host or "").lower(), url.explicit_port


class ConsoleServer(Server):
    """textual-serve's server with the guards above, request-relative URLs, and a clean stop of every console."""

    def __init__(self, command: str, *, host: str, port: int, public: bool) -> None:
        super().__init__(command, host=host, port=port, title=TITLE, templates_path=TEMPLATES)
        self.public = public
        self.services: set[AppService] = set()

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        host = URL(f"http://{request.host}")
        if not self.public and not _is_loopback_name(host.host):
            log.warning("refused %s %s: Host %r is not loopback", request.method, request.path, request.host)
            raise web.HTTPForbidden(text="balance-tui serve: this server answers only on loopback\n")
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin is not None and _authority(URL(origin)) != _authority(host):
            log.warning("refused a console for Origin %r (served as %r)", origin, request.host)
            raise web.HTTPForbidden(text="balance-tui serve: a console opens only from its own page\n")
        return await handler(request)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a logo here; `serve` prints its own lines."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Quit every console and wait until each has exited (and closed its store); `_finish` kills one
        that does not quit within STOP_CONSOLES_S."""
        services = list(self.services)
        await asyncio.gather(*(service.stop() for service in services), return_exceptions=True)
        async with asyncio.timeout(STOP_CONSOLES_S + 5):
            while self.services:
                await asyncio.sleep(0.05)

    async def _finish(self, service: AppService) -> None:
        """Quit the console and see its process exit. textual-serve stops reading a console's output when
        its tab has gone (the write fails), and a console blocked on a full pipe would never exit: read and
        drop what it still writes while waiting; kill it after STOP_CONSOLES_S."""
        try:
            await service.stop()
        finally:
            process = service._process
            if process is not None:
                drains = [asyncio.create_task(_drain(pipe)) for pipe in (process.stdout, process.stderr) if pipe]
                try:
                    async with asyncio.timeout(STOP_CONSOLES_S):
                        await process.wait()
                except TimeoutError:
                    log.warning("console pid %s did not quit within %g s: killed", process.pid, STOP_CONSOLES_S)
                    process.kill()
                    await process.wait()
                finally:
                    for drain in drains:
                        drain.cancel()
            self.services.discard(service)

    @aiohttp_jinja2.template("console.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, with its URLs on the host and scheme the browser used (a tunnel's port, a proxy's name)."""
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
        if scheme not in ("http", "https"):
            scheme = request.scheme
        router = request.app.router
        base = f"{scheme}://{request.host}"
        websocket = f"{'wss' if scheme == 'https' else 'ws'}://{request.host}{router['websocket'].url_for()}"
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket,
            "config": {"static": {"url": f"{base}{router['static'].url_for(filename='/')}".rstrip("/") + "/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One browser tab: one console process, stopped when the tab goes (or the server stops)."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: AppService | None = None
        try:
            await websocket.prepare(request)
            service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
            )
            self.services.add(service)
            await service.start(width, height)
            log.info("console pid %s started for %s", service._process and service._process.pid, request.remote)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("console for %s failed", request.remote)
        finally:
            if service is not None:
                await self._finish(service)
        return websocket


async def _drain(pipe: asyncio.StreamReader) -> None:
    with suppress(Exception):
        while await pipe.read(65536):
            pass


async def serve(server: ConsoleServer, *, started: Callable[[str, int], None]) -> int:
    """Listen, call `started` with the URL and the port, run until SIGINT or SIGTERM; 0 after a clean stop.

    An `OSError` from listening (port taken, not permitted) is the caller's to report."""
    app = await server._make_app()
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=STOP_CONSOLES_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{server.host}]" if ":" in server.host else server.host
        started(f"http://{host}:{port}", port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl+C while stopping ends it at once
                loop.remove_signal_handler(sig)
    finally:
        await runner.cleanup()
    return 0
