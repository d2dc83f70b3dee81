"""The part of every feed that needs no network: the ping's round trip and the reconnect events, measured
on a frozen clock. (Connections themselves are tested against the simulator, in tests/integration.)"""

from __future__ import annotations

import json

import pytest

from balance_tui.core.budgets import ReconnectBudget
from balance_tui.core.health import ConnectionHealth, FeedEvent, FeedEventKind, FeedState
from balance_tui.kraken.connection import PING_REQ_IDS_FROM, Feed
from tests.conftest import FrozenClock


class Outbox:
    """Stands in for the one method of a websockets connection that `_ping` uses."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def a_feed(clock: FrozenClock, budget: ReconnectBudget | None = None) -> Feed:
    return Feed("ws://127.0.0.1:9/v2", ConnectionHealth(), clock, 5.0, budget or ReconnectBudget(clock=clock))


async def test_a_pong_gives_the_round_trip_of_the_ping_it_answers() -> None:
    clock, outbox = FrozenClock(), Outbox()
    feed = a_feed(clock)
    await feed._ping(outbox)  # type: ignore[arg-type]
    (ping,) = outbox.sent
    req_id = ping["req_id"]
    assert ping["method"] == "ping" and isinstance(req_id, int) and req_id >= PING_REQ_IDS_FROM
    clock.advance(0.042)
    feed._pong(req_id + 1)  # an answer to something else
    assert feed.health.ping_rtt is None
    feed._pong(req_id)
    assert feed.health.ping_rtt == pytest.approx(0.042)
    clock.advance(1)
    feed._pong(req_id)  # a repeat answers nothing outstanding
    assert feed.health.ping_rtt == pytest.approx(0.042)


async def test_each_ping_has_its_own_req_id_and_a_bare_pong_answers_the_last() -> None:
    clock, outbox = FrozenClock(), Outbox()
    feed = a_feed(clock)
    await feed._ping(outbox)  # type: ignore[arg-type]
    clock.advance(0.5)
    await feed._ping(outbox)  # type: ignore[arg-type]
    assert outbox.sent[1]["req_id"] == outbox.sent[0]["req_id"] + 1  # type: ignore[operator]
    clock.advance(0.003)
    feed._pong(None)  # a server that does not echo req_id
    assert feed.health.ping_rtt == pytest.approx(0.003)


def test_a_retry_is_an_event_with_its_wait_and_the_budget_left() -> None:
    clock = FrozenClock()
    feed = a_feed(clock, ReconnectBudget(capacity=2, refill_seconds=10, jitter=0, clock=clock))
    health = feed.health
    health.error = "connection closed (1001: going away)"
    feed._retry_in(feed.budget.reserve())
    assert (health.state, health.state_since, health.reconnects) == (FeedState.RECONNECTING, clock.now(), 1)
    assert health.reconnect_reason == "connection closed (1001: going away)" and health.retry_at == clock.now()
    assert health.events.recent()[0] == FeedEvent(clock.now(), FeedEventKind.RETRY, "in 0.0 s, budget 1/2 left")
    since = clock.now()
    clock.advance(1)
    feed._retry_in(feed.budget.reserve())
    clock.advance(1)
    health.error = "cannot connect to ws://127.0.0.1:9/v2: HTTP 503"
    feed._retry_in(feed.budget.reserve())  # the bucket is empty: 9 s until a whole token, 1 s of it passed
    assert [e.text for e in health.events.recent()] == [
        "in 8.0 s, budget 0/2 left",
        "in 0.0 s, budget 0/2 left",
        "in 0.0 s, budget 1/2 left",
    ]
    assert health.state_since == since and health.reconnects == 3  # still reconnecting: the same spell
    assert health.reconnect_reason == "cannot connect to ws://127.0.0.1:9/v2: HTTP 503"
