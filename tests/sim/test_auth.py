"""WS tokens follow Kraken's rule: use within 15 minutes of issue, then valid for as long as it is used."""

from balance_tui.sim.auth import TokenRegistry


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_unused_token_expires_after_fifteen_minutes() -> None:
    clock = FakeClock()
    tokens = TokenRegistry(clock)
    token = tokens.issue()
    clock.now = 901
    assert not tokens.redeem(token)


def test_a_used_token_stays_valid() -> None:
    clock = FakeClock()
    tokens = TokenRegistry(clock)
    token = tokens.issue()
    clock.now = 899
    assert tokens.redeem(token)
    clock.now = 10_000
    assert tokens.redeem(token)


def test_unknown_tokens_are_refused() -> None:
    tokens = TokenRegistry()
    tokens.issue()
    assert not tokens.redeem("forged")
    assert not tokens.redeem(None)
