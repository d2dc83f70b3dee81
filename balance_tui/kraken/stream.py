"""The WebSocket v2 private feed (balances and open orders): token, subscribe, parse, hand off to the engine,
resync on any doubt.

Every (re)connection takes a fresh token, fresh holds from REST and a fresh snapshot. The feed is judged
by the data itself: a socket that still answers pings but carries no data or heartbeat is dead.

What happens on the way is in the health's event log: token, subscribed, snapshot, gap, system status,
and after a reconnect what the resync snapshot found moved while the feed was down.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from websockets.asyncio.client import ClientConnection

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.events import BalancesSnapshot, BalancesUpdate, ExecutionsSnapshot, ExecutionsUpdate
from balance_tui.core.health import BlindChange, FeedEventKind, FeedHealth, FeedState
from balance_tui.core.manager import BalanceManager
from balance_tui.core.model import Balance
from balance_tui.kraken.connection import NOT_ONLINE_BACKOFF_S, Feed, FeedFailed, Resync
from balance_tui.kraken.frames import MethodReply, ParseError, SystemStatus, parse
from balance_tui.kraken.rest import KrakenError, KrakenRest

log = logging.getLogger(__name__)

NAMED_CHANGES = 5  # assets named in the event that reports what moved while the feed was down
# A silent balances feed shows STALE after stale_after_s (FeedHealth.observed_state: the screen, and the REST
# fallback, go by that) and is given up after this many times as long: giving up at once would reconnect
# before anyone could see it was stale.
GIVE_UP_AFTER_STALE = 2


class BalanceStream(Feed):
    name = "balances"

    def __init__(
        self,
        manager: BalanceManager,
        rest: KrakenRest,
        ws_url: str,
        *,
        stale_after_s: float = 5.0,
        budget: ReconnectBudget | None = None,
    ) -> None:
        super().__init__(ws_url, manager.health, manager.clock, GIVE_UP_AFTER_STALE * stale_after_s, budget)
        self.health: FeedHealth
        self._manager = manager
        self._rest = rest
        self._token_refused = False  # since the last snapshot: a second refusal of a fresh token is final

    def _pause_before_reconnect(self) -> float:
        not_online = NOT_ONLINE_BACKOFF_S if self.health.system not in ("", "online") else 0.0
        return max(not_online, self._rest.breaker.retry_in)  # every connection needs REST first

    async def _session(self, ws: ClientConnection) -> None:
        health, manager = self.health, self._manager
        self._enter(FeedState.SUBSCRIBING)
        health.retry_at, health.channels = None, ()
        try:
            token = await self._rest.websockets_token()
        except KrakenError as exc:
            if exc.fatal:
                raise FeedFailed(str(exc)) from exc
            raise Resync(str(exc), FeedEventKind.NO_TOKEN) from exc
        health.token_at = manager.clock.now()
        self._note(FeedEventKind.TOKEN, "fetched")
        try:
            manager.apply((await self._rest.fetch_balances()).holds)
        except KrakenError as exc:
            raise (FeedFailed if exc.fatal else Resync)(str(exc)) from exc
        balances = {"channel": "balances", "token": token, "snapshot": True}
        executions = {"channel": "executions", "token": token, "snap_orders": True, "snap_trades": False}
        await ws.send(json.dumps({"method": "subscribe", "params": balances, "req_id": 1}))
        await ws.send(json.dumps({"method": "subscribe", "params": executions, "req_id": 2}))
        await self._read(ws, partial(self._take, expected=_Expected()))  # partial: no Python frame per message

    def _take(self, raw: str | bytes, expected: _Expected) -> None:
        """Parse one frame and hand it to the engine; anything that breaks the sequence means Resync.

        A sequence number that is not the next one is never applied: a gap (frames lost), a repeat or one
        going backwards (frames duplicated or reordered) alike. Snapshots too: one older than what was applied
        would put old figures back."""
        health, manager = self.health, self._manager
        try:
            frame = parse(raw)
        except ParseError as exc:
            raise Resync(f"bad frame from Kraken: {exc}") from None
        health.messages += 1
        health.last_message_at = manager.clock.now()
        match frame:  # the hot case first: ledger updates are nearly every frame
            case BalancesUpdate(sequence=sequence):
                if expected.balances is None:
                    raise Resync("balances update arrived before the snapshot")
                if sequence != expected.balances:
                    raise self._out_of_sequence("balances", expected.balances, sequence)
                manager.apply(frame)
                expected.balances, health.sequence = sequence + 1, sequence
            case BalancesSnapshot(sequence=sequence, assets=assets):
                if expected.balances is not None and sequence < expected.balances:
                    raise self._out_of_sequence("balances snapshot", expected.balances, sequence)
                # Live before applying: the engine then sees the snapshot as the feed's at once, and
                # `before` is everything last known, not only what the cache still holds.
                self._enter(FeedState.LIVE)
                health.sequence, health.error = sequence, ""
                self._note(FeedEventKind.SNAPSHOT, f"balances: {len(assets)} assets, seq {sequence}")
                self._token_refused = False
                before = manager.get_all_balances()
                manager.apply(frame)
                if health.reconnects:
                    health.blind_changes = _blind_changes(before, manager, manager.clock.now())
                    self._note(FeedEventKind.RESYNCED, _describe_blind(health.blind_changes))
                expected.balances = sequence + 1
            case ExecutionsUpdate(sequence=sequence):
                if sequence != expected.orders:
                    raise self._out_of_sequence("executions", expected.orders, sequence)
                manager.apply(frame)
                expected.orders = sequence + 1
            case ExecutionsSnapshot(sequence=sequence, reports=reports):
                if expected.orders is not None and sequence < expected.orders:
                    raise self._out_of_sequence("executions snapshot", expected.orders, sequence)
                self._note(FeedEventKind.SNAPSHOT, f"executions: {len(reports)} orders, seq {sequence}")
                manager.apply(frame)
                expected.orders = sequence + 1
            case SystemStatus(system=system):
                if system != health.system:
                    self._note(FeedEventKind.SYSTEM, f"{health.system} -> {system}" if health.system else system)
                    health.system = system
            case MethodReply(method="pong", req_id=req_id):
                self._pong(req_id)
            case MethodReply(method="subscribe", success=True, result=result):
                channel = result.get("channel")
                if isinstance(channel, str):
                    health.channels += (channel,)
                    self._note(FeedEventKind.SUBSCRIBED, channel)
            case MethodReply(success=False, error=error):
                if error.startswith("ESession"):
                    # A stale token (Kraken maintenance) is cured by the fresh one every connection takes.
                    if self._token_refused:
                        raise FeedFailed(
                            f"Kraken refused a fresh WebSocket token twice ({error}) at {self._url}; not retrying. "
                            "A token is valid for 15 minutes after issue, so check that this URL and the REST URL "
                            "that issued it belong to the same exchange"
                        )
                    self._token_refused = True
                    raise Resync(f"subscription refused: {error}", FeedEventKind.REFUSED, f"subscribe: {error}")
                raise FeedFailed(f"Kraken refused a subscription: {error}")

    def _out_of_sequence(self, what: str, expected: int | None, got: int) -> Resync:
        """Count the break in the sequence and say which kind it is: frames lost, or frames seen before."""
        self.health.gaps += 1
        seen = f"expected {expected}, got {got}"
        if expected is not None and got < expected:
            return Resync(
                f"{what} sequence went backwards: {seen} (a repeated or reordered frame)",
                FeedEventKind.GAP,
                f"{what}: went backwards, {seen}",
            )
        return Resync(f"{what} sequence gap: {seen}", FeedEventKind.GAP, f"{what}: {seen}")


@dataclass(slots=True)
class _Expected:
    """The next sequence number each subscription must carry; None until its snapshot."""

    balances: int | None = None
    orders: int | None = None


def _blind_changes(before: dict[str, Balance], manager: BalanceManager, at: datetime) -> tuple[BlindChange, ...]:
    """What moved while the feed could not see: the report an operator needs after every reconnect."""
    after = manager.get_all_balances()
    return tuple(
        BlindChange(asset, before[asset].total if asset in before else None, after[asset].total, at)
        for asset in sorted(after)
        if asset not in before or before[asset].total != after[asset].total
    )


def _describe_blind(changes: tuple[BlindChange, ...]) -> str:
    """What the resync found, short: the notice after it names every figure."""
    if not changes:
        return "nothing moved while down"
    names = ", ".join(change.asset for change in changes[:NAMED_CHANGES])
    more = f" +{len(changes) - NAMED_CHANGES}" if len(changes) > NAMED_CHANGES else ""
    return f"{len(changes)} moved while down: {names}{more}"
