"""Failures the simulator injects on purpose, so the console's recovery paths can be exercised on the wire.

One `Faults` object belongs to each running simulator (`sim.faults`). Tests change it while the simulator runs;
the console's `sim --faults SPEC` builds one from text with `Faults.parse`. Every fault that fires is counted
in `fired`, so a test can tell an injected failure from a real one.

The spec is a comma-separated list of `name=value` items:

    drop-every=N          drop each WS connection after N data frames: close 1012, abort, close 1001, abort, ...
                          (an abort ends the TCP connection without a close frame: the client sees 1006)
    silence-every=N       after N data frames a connection goes silent: no data, no heartbeats, no replies,
                          while WebSocket protocol pings are still answered
    oversize-every=N      after every N data frames on a connection, one frame of 2 MiB (over websockets'
                          default 1 MiB max_size, so the client closes with 1009)
    garble-every=N        every N-th update on a balances or executions subscription is malformed:
                          invalid JSON (cut in half) and wrong types (figures as strings), alternately
    skip-every=N          every N-th update on a balances or executions subscription skips a sequence number
    replay-every=N        every N-th update on a balances or executions subscription is followed by a frame
                          sent before: the update itself again (a duplicate sequence number) and the frame
                          before it (a sequence number going backwards; the snapshot, after the first update),
                          alternately
    refuse=STATUS[xCOUNT] refuse the next COUNT (default 1) WS handshakes with HTTP STATUS, e.g. refuse=429x3
    hang-up=COUNT         accept the next COUNT WS handshakes (on either path) and close each at once with 1012,
                          before any frame: an edge that accepts and hangs up, connection after connection
    spoil-tokens=COUNT    the next COUNT tokens from GetWebSocketsToken are stale at once, as after maintenance:
                          subscribing with one gets ESession:Invalid session
    offline=ASSET         ASSET moves only while no client is subscribed to balances: 3 changes each time
                          the last subscriber goes, and none from the regular activity
    status=STATE          system status: online, maintenance, cancel_only or post_only
    rest=FAILURE[xCOUNT]  the next COUNT (default 1) private REST calls fail as FAILURE: 500, 502, 503, 504,
                          drip, hang, nonce, rate-limit or lockout (see RestFailure); repeat to queue more
    token=FAILURE[xCOUNT] the next COUNT (default 1) GetWebSocketsToken calls fail as FAILURE (as for rest=),
                          before any queued by rest=; every other private call is served
    many-assets=N         the account also holds N dormant assets (D00001, D00002, ...; listed, never traded):
                          in Assets, Balance, BalanceEx and every balances snapshot. Read once, when the
                          simulator is built; 9,000 make a snapshot over websockets' default 1 MiB max_size

Data frames are channel snapshots and updates (balances, executions, ticker); status, heartbeats, acks and
pongs do not count.
"""

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self, TypeVar

from balance_tui.sim.assets import ASSETS
from balance_tui.sim.wire import dumps

OVERSIZED_FRAME_BYTES = 2 * 1024 * 1024
_CLEAN_CLOSES = (1012, 1001)  # service restart, going away: what Kraken's edge sends when it drops a feed
_EVERY = ("drop-every", "silence-every", "oversize-every", "garble-every", "skip-every", "replay-every")
_QUEUED = ("refuse", "rest", "token")  # may be given more than once: each queues more
_NAMES = (*_EVERY, "refuse", "hang-up", "spoil-tokens", "offline", "status", "rest", "token", "many-assets")


class SystemStatus(StrEnum):
    """The engine states Kraken reports on the `status` channel and REST SystemStatus."""

    ONLINE = "online"
    MAINTENANCE = "maintenance"
    CANCEL_ONLY = "cancel_only"
    POST_ONLY = "post_only"


class RestFailure(StrEnum):
    """How a private REST call can be made to fail."""

    HTTP_500 = "500"  # an HTTP error page from the edge, not Kraken's JSON envelope
    HTTP_502 = "502"
    HTTP_503 = "503"
    HTTP_504 = "504"
    DRIP = "drip"  # the call's own reply, one byte every `drip_interval` seconds: no per-read timeout fires
    HANG = "hang"  # no reply at all, until the client gives up and disconnects
    INVALID_NONCE = "nonce"  # EAPI:Invalid nonce
    RATE_LIMIT = "rate-limit"  # EAPI:Rate limit exceeded
    LOCKOUT = "lockout"  # EGeneral:Temporary lockout


class Fired(StrEnum):
    """What `Faults.fired` counts, besides each RestFailure under its own value."""

    CLOSE = "close"  # a connection dropped with a close frame
    ABORT = "abort"  # a connection dropped without one
    SILENCE = "silence"
    OVERSIZE = "oversize"
    INVALID_JSON = "invalid-json"
    WRONG_TYPES = "wrong-types"
    SKIP = "skip"
    DUPLICATE = "duplicate"  # an update sent again
    REWIND = "rewind"  # the frame before an update sent again
    REFUSE = "refuse"
    HANG_UP = "hang-up"
    SPOIL_TOKEN = "spoil-token"
    OFFLINE = "offline"  # one change to the offline asset


_Enum = TypeVar("_Enum", SystemStatus, RestFailure)


class FaultSpecError(ValueError):
    """A fault spec that cannot be read; the message names the item and what is wrong with it."""


@dataclass(eq=False)
class Faults:
    """The faults in force. The `*_every` rules are read afresh for every frame (0 turns one off), so a
    test can switch them on and off while clients are connected."""

    drop_every: int = 0
    silence_every: int = 0
    oversize_every: int = 0
    garble_every: int = 0
    skip_every: int = 0
    replay_every: int = 0
    many_assets: int = 0  # dormant assets the account holds besides the listed ones; read when it is built
    offline_asset: str | None = None
    offline_changes: int = 3  # changes to the offline asset each time the last balances subscriber goes
    drip_interval: float = 0.5  # seconds between the bytes of a dripped REST reply
    fired: Counter[str] = field(default_factory=Counter)
    _refusals: deque[int] = field(default_factory=deque, init=False, repr=False)
    _hang_ups: int = field(default=0, init=False, repr=False)
    _spoiled_tokens: int = field(default=0, init=False, repr=False)
    _rest_failures: deque[RestFailure] = field(default_factory=deque, init=False, repr=False)
    _token_failures: deque[RestFailure] = field(default_factory=deque, init=False, repr=False)
    _drops: int = field(default=0, init=False, repr=False)
    _garbles: int = field(default=0, init=False, repr=False)
    _replays: int = field(default=0, init=False, repr=False)
    _system_status: SystemStatus = field(default=SystemStatus.ONLINE, init=False, repr=False)
    _status_listener: Callable[[SystemStatus], None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in (*_EVERY, "many-assets"):
            attribute = name.replace("-", "_")
            if getattr(self, attribute) < 0:
                raise ValueError(f"{attribute} must be >= 0 (0 turns it off), not {getattr(self, attribute)}")
        if self.offline_asset is not None and self.offline_asset not in ASSETS:
            raise ValueError(f"offline_asset: the simulator lists no asset {self.offline_asset!r}")

    @classmethod
    def parse(cls, spec: str) -> Self:
        """Faults from a spec such as "drop-every=50,offline=ADA,refuse=429x3" (grammar in the module doc)."""
        faults = cls()
        if not spec.strip():
            return faults
        seen: set[str] = set()
        for position, item in enumerate(spec.split(","), start=1):
            item = item.strip()
            try:
                name = faults._apply(item)
            except ValueError as error:
                raise FaultSpecError(f"fault {position} {item!r}: {error}") from None
            if name in seen and name not in _QUEUED:
                raise FaultSpecError(f"fault {position} {item!r}: {name} is given twice")
            seen.add(name)
        return faults

    def _apply(self, item: str) -> str:
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not value:
            raise ValueError("expected name=value")
        match name:
            case _ if name in (*_EVERY, "many-assets"):
                setattr(self, name.replace("-", "_"), _count(value))
            case "refuse":
                status, count = _times(value)
                self.refuse_handshakes(count, _http_status(status))
            case "hang-up":
                self.hang_up(_count(value))
            case "spoil-tokens":
                self.spoil_tokens(_count(value))
            case "offline":
                if value not in ASSETS:
                    raise ValueError(f"no asset {value!r}; the simulator lists {', '.join(ASSETS)}")
                self.offline_asset = value
            case "status":
                self._system_status = _choice(SystemStatus, value)
            case "rest":
                failure, count = _times(value)
                self.fail_rest(_choice(RestFailure, failure), count)
            case "token":
                failure, count = _times(value)
                self.fail_tokens(_choice(RestFailure, failure), count)
            case _:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(_NAMES)}")
        return name

    # Handshakes, tokens and REST calls: queued one-shot failures.

    def refuse_handshakes(self, count: int = 1, status: int = 429) -> None:
        """Refuse the next `count` WS handshakes (on either path) with HTTP `status`, then accept again."""
        _check_count(count)
        self._refusals.extend([_http_status(str(status))] * count)

    def hang_up(self, count: int = 1) -> None:
        """Accept the next `count` WS handshakes (on either path) and close each at once, before any frame."""
        _check_count(count)
        self._hang_ups += count

    def spoil_tokens(self, count: int = 1) -> None:
        """Make the next `count` WS tokens stale as they are issued (after any already spoiled)."""
        _check_count(count)
        self._spoiled_tokens += count

    def fail_rest(self, failure: RestFailure, count: int = 1) -> None:
        """Make the next `count` private REST calls fail as `failure` (after any already queued)."""
        _check_count(count)
        self._rest_failures.extend([RestFailure(failure)] * count)

    def fail_tokens(self, failure: RestFailure, count: int = 1) -> None:
        """Make the next `count` GetWebSocketsToken calls fail as `failure`, other private calls unharmed."""
        _check_count(count)
        self._token_failures.extend([RestFailure(failure)] * count)

    def take_refusal(self) -> int | None:
        """The HTTP status to refuse this handshake with, or None to accept it."""
        if not self._refusals:
            return None
        self.fired[Fired.REFUSE] += 1
        return self._refusals.popleft()

    def take_hang_up(self) -> bool:
        """Whether this accepted connection is to be closed at once."""
        if not self._hang_ups:
            return False
        self.fired[Fired.HANG_UP] += 1
        self._hang_ups -= 1
        return True

    def take_spoiled_token(self) -> bool:
        """Whether the token being issued is to be stale at once."""
        if not self._spoiled_tokens:
            return False
        self.fired[Fired.SPOIL_TOKEN] += 1
        self._spoiled_tokens -= 1
        return True

    def take_rest_failure(self, method: str) -> RestFailure | None:
        """How this private REST call of `method` fails, or None to serve it."""
        token = method == "GetWebSocketsToken" and self._token_failures
        queue = self._token_failures if token else self._rest_failures
        if not queue:
            return None
        failure = queue.popleft()
        self.fired[failure] += 1
        return failure

    # Frames: what the WS endpoints consult as they write.

    def next_drop(self) -> int | None:
        """How to drop the next connection: a close code, or None for an abort (no close frame).

        Drops alternate close, abort, close, abort; the closes alternate 1012 and 1001."""
        drop, self._drops = self._drops, self._drops + 1
        if drop % 2:
            self.fired[Fired.ABORT] += 1
            return None
        self.fired[Fired.CLOSE] += 1
        return _CLEAN_CLOSES[drop // 2 % len(_CLEAN_CLOSES)]

    def garble(self, frame: dict[str, Any]) -> str:
        """A frame's text made malformed: cut in half (invalid JSON) and figures as strings, alternately."""
        garble, self._garbles = self._garbles, self._garbles + 1
        if garble % 2 == 0:
            self.fired[Fired.INVALID_JSON] += 1
            text = dumps(frame)
            return text[: len(text) // 2]
        self.fired[Fired.WRONG_TYPES] += 1
        return dumps(_stringify(frame))

    def replay(self, update: str, before: str) -> str:
        """The frame to send again after an update: the update itself and the one before it, alternately."""
        replay, self._replays = self._replays, self._replays + 1
        if replay % 2 == 0:
            self.fired[Fired.DUPLICATE] += 1
            return update
        self.fired[Fired.REWIND] += 1
        return before

    @staticmethod
    def oversized_frame() -> str:
        """Valid JSON (a heartbeat with padding) of OVERSIZED_FRAME_BYTES: harmless to a client that takes it."""
        head, tail = '{"channel":"heartbeat","padding":"', '"}'
        return head + "x" * (OVERSIZED_FRAME_BYTES - len(head) - len(tail)) + tail

    # System status: setting it is an event the endpoints push to every client.

    @property
    def system_status(self) -> SystemStatus:
        return self._system_status

    def set_system_status(self, status: SystemStatus | str) -> None:
        """Change the system status; a running simulator pushes it on every connection's `status` channel
        and reports it from REST SystemStatus."""
        self._system_status = SystemStatus(status)
        if self._status_listener is not None:
            self._status_listener(self._system_status)

    def watch_status(self, listener: Callable[[SystemStatus], None]) -> None:
        """Have `listener` called on every status change (the simulator that owns these faults does)."""
        if self._status_listener is not None:
            raise RuntimeError("these faults already belong to a simulator")
        self._status_listener = listener


def _stringify(value: Any) -> Any:
    """`value` with every number written as a string, as REST would send it (WS must not)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {key: item if key == "sequence" else _stringify(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify(item) for item in value]
    return value


def _check_count(count: int) -> None:
    """One-shot failures are queued one or more at a time."""
    if count < 1:
        raise ValueError(f"count must be >= 1, not {count}")


def _count(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise ValueError(f"expected a whole number >= 1, not {text!r}")
    return int(text)


def _times(text: str) -> tuple[str, int]:
    """Split a value and its count: "429x3" is ("429", 3), a bare "429" is ("429", 1)."""
    what, times, count = text.partition("x")
    return what.strip(), _count(count.strip()) if times else 1


def _http_status(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or not 400 <= int(text) <= 599:
        raise ValueError(f"expected an HTTP error status (400-599), not {text!r}")
    return int(text)


def _choice(kind: type[_Enum], text: str) -> _Enum:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"expected one of {', '.join(kind)}, not {text!r}") from None
