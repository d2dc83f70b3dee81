"""The demo account: deterministic per seed, realistic activity, and balances that never break the rules."""

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balance_tui.core.events import LedgerEntry
from balance_tui.sim import DemoAccount
from balance_tui.sim.assets import ASSETS

KRAKEN_ID = re.compile(r"[A-Z][A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{6}")
LINK_SPOT = ("LINK", "spot", "main")  # listed, but not held at the start


def fixed_clock() -> datetime:
    return datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def run(account: DemoAccount, steps: int) -> list[LedgerEntry]:
    return [entry for _ in range(steps) for entry in account.step().ledger]


def check_rules(account: DemoAccount, entries: list[LedgerEntry]) -> None:
    """The rules every step must keep, checked against the ledger it produced."""
    holds = account.holds()
    for wallet, amount in account.wallets().items():
        assert amount >= (holds[wallet.asset] if wallet.type == "spot" else 0), wallet
    for order in account.open_orders:
        assert order.limit_price is not None and order.volume >= order.pair.ordermin
    for entry in entries:
        asset = ASSETS[entry.asset]
        assert asset.quantize(entry.amount) == entry.amount
        assert asset.quantize(entry.fee) == entry.fee >= 0
        assert KRAKEN_ID.fullmatch(entry.ledger_id)
    trades = [entry for entry in entries if entry.type == "trade"]
    for base, quote in zip(trades[::2], trades[1::2], strict=True):
        assert base.ref_id == quote.ref_id
        assert base.fee == 0
        assert quote.fee > 0
        assert (base.amount > 0) != (quote.amount > 0)


def test_same_seed_same_history() -> None:
    first, second = DemoAccount(42, clock=fixed_clock), DemoAccount(42, clock=fixed_clock)
    assert first.wallets() == second.wallets()
    assert first.open_orders == second.open_orders
    assert run(first, 300) == run(second, 300)
    assert first.wallets() == second.wallets()


def test_different_seeds_differ() -> None:
    first, second = DemoAccount(1, clock=fixed_clock), DemoAccount(2, clock=fixed_clock)
    assert first.wallets() != second.wallets()
    assert run(first, 20) != run(second, 20)


def test_a_rerun_of_a_seed_does_the_same_under_new_ids() -> None:
    """Kraken never reuses an id: the seed started an hour later does the same, and no id repeats."""
    first = DemoAccount(42, clock=fixed_clock)
    rerun = DemoAccount(42, clock=lambda: fixed_clock() + timedelta(hours=1))
    entries, rerun_entries = run(first, 300), run(rerun, 300)

    def anonymous(entry: LedgerEntry) -> LedgerEntry:
        return entry._replace(ledger_id="", ref_id="", timestamp=None)

    assert list(map(anonymous, entries)) == list(map(anonymous, rerun_entries))
    assert first.wallets() == rerun.wallets()
    assert not {e.ledger_id for e in entries} & {e.ledger_id for e in rerun_entries}
    assert not {e.ref_id for e in entries} & {e.ref_id for e in rerun_entries}
    assert not {o.order_id for o in first.open_orders} & {o.order_id for o in rerun.open_orders}


def test_starting_state() -> None:
    account = DemoAccount(7)
    totals, holds = account.totals(), account.holds()
    assert {"BTC", "ETH", "USD", "USDT", "EUR"} <= totals.keys()
    assert len(totals) >= 10
    assert holds["BTC"] == Decimal("0.25")
    assert holds["USD"] > 0
    assert account.wallets()[("DOT", "earn", "bonded")] > 0
    for asset, total in totals.items():
        assert ASSETS[asset].quantize(total) == total
        assert total.as_tuple().exponent == -ASSETS[asset].decimals


def test_ledger_replays_to_the_wallets_over_a_long_run() -> None:
    account = DemoAccount(7)
    wallets = account.wallets()
    assert LINK_SPOT not in wallets
    kinds: Counter[str] = Counter()
    link: Counter[str] = Counter()
    for _ in range(5000):
        entries = list(account.step().ledger)
        check_rules(account, entries)
        for entry in entries:
            wallet = (entry.asset, entry.wallet_type, entry.wallet_id)
            wallets[wallet] = wallets.get(wallet, 0) + entry.amount - entry.fee  # a wallet opens with an entry
            assert entry.balance == sum(amount for key, amount in wallets.items() if key[0] == entry.asset)
            kinds[entry.type] += 1
            if entry.asset == "LINK":
                link[entry.type] += 1
    assert wallets == account.wallets()
    assert kinds.keys() == {"trade", "deposit", "withdrawal", "staking"}
    assert link["trade"] and link["deposit"] and link["withdrawal"]  # the account came to hold LINK, and trades it


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64))
def test_rules_hold_for_any_seed(seed: int) -> None:
    account = DemoAccount(seed, clock=fixed_clock)
    totals = account.totals()
    for _ in range(300):
        entries = list(account.step().ledger)
        check_rules(account, entries)
        for entry in entries:
            totals[entry.asset] = entry.balance
    assert totals == account.totals()


def test_withdrawals_pay_a_fee_and_staking_lands_in_earn() -> None:
    entries = run(DemoAccount(5), 1000)
    withdrawals = [entry for entry in entries if entry.type == "withdrawal"]
    assert withdrawals
    assert all(entry.amount < 0 < entry.fee for entry in withdrawals)
    staking = [entry for entry in entries if entry.type == "staking"]
    assert staking
    assert {(entry.category, entry.wallet_type, entry.wallet_id) for entry in staking} == {
        ("staking-rewards", "earn", "bonded")
    }


@pytest.mark.parametrize("script", [DemoAccount.deposit, DemoAccount.withdraw], ids=["deposit", "withdraw"])
@pytest.mark.parametrize(
    ("asset", "amount"),
    [("BTC", Decimal("0.00000000001")), ("BTC", Decimal("-1")), ("BTC", Decimal(0)), ("XBT", Decimal(1))],
)
def test_scripted_funding_is_validated(script: Callable[..., object], asset: str, amount: Decimal) -> None:
    account = DemoAccount(7)
    wallets = account.wallets()
    with pytest.raises(
        ValueError, match=r"(deposit|withdrawal) must be positive, to at most 10 decimals|no asset 'XBT'"
    ):
        script(account, asset, amount)
    assert account.wallets() == wallets


def test_a_deposit_opens_the_wallet_of_an_asset_never_held() -> None:
    account = DemoAccount(7)
    assert "LINK" not in account.totals() and account.available("LINK") == 0

    [entry] = account.deposit("LINK", Decimal("2.5"))

    assert (entry.asset, entry.wallet_type, entry.wallet_id, entry.type) == (*LINK_SPOT, "deposit")
    assert entry.amount == entry.balance == Decimal("2.5")
    opened = account.wallets()[LINK_SPOT]
    assert opened == Decimal("2.5") and opened.as_tuple().exponent == -ASSETS["LINK"].decimals
    assert (account.totals()["LINK"], account.holds()["LINK"]) == (opened, 0)


def test_scripted_funding_moves_a_dormant_asset_too() -> None:
    """benchmarks/console.py spreads its updates over many assets: the dormant ones take deposits too."""
    account = DemoAccount(7, dormant=3)
    before = account.totals()["D00002"]
    precision = account.assets["D00002"].decimals

    [entry] = account.deposit("D00002", Decimal("0.25"))
    [back] = account.withdraw("D00002", Decimal("0.25"))

    assert (entry.asset, entry.type, entry.balance) == ("D00002", "deposit", before + Decimal("0.25"))
    assert (back.type, back.balance) == ("withdrawal", before)
    assert entry.balance.as_tuple().exponent == -precision
    with pytest.raises(ValueError, match="no asset 'D00004'"):
        account.deposit("D00004", Decimal(1))


def test_a_scripted_withdrawal_takes_at_most_what_is_available() -> None:
    account = DemoAccount(7)
    btc = account.totals()["BTC"]
    available = account.available("BTC")
    assert 0 < available == btc - account.holds()["BTC"] < btc  # a resting sell holds 0.25 BTC
    with pytest.raises(ValueError, match=rf"cannot withdraw {available + Decimal('1e-10')} BTC: {available} is"):
        account.withdraw("BTC", available + Decimal("1e-10"))
    assert account.totals()["BTC"] == btc

    [entry] = account.withdraw("BTC", available)

    assert (entry.type, entry.category, entry.amount, entry.fee) == ("withdrawal", "withdrawal", -available, 0)
    assert entry.balance == account.totals()["BTC"] == account.holds()["BTC"]
    assert account.available("BTC") == 0
    with pytest.raises(ValueError, match=r"cannot withdraw 1 LINK: 0\.0000000000 is available"):
        account.withdraw("LINK", Decimal(1))  # no wallet: nothing available


def test_orders_rest_fill_and_cancel_and_their_holds_follow() -> None:
    account = DemoAccount(11)
    resting = {order.order_id: order for order in account.open_orders}
    kinds: Counter[str] = Counter()
    for _ in range(2000):
        activity = account.step()
        for execution in activity.executions:
            kinds[execution.exec_type] += 1
            order = execution.order
            match execution.exec_type:
                case "new" if order.limit_price is not None:
                    resting[order.order_id] = order
                case "filled" | "canceled" if order.limit_price is not None:
                    del resting[order.order_id]
        assert list(resting.values()) == list(account.open_orders)
        expected: Counter[str] = Counter()
        for order in resting.values():
            asset, amount = order.hold
            expected[asset] += amount
        assert {asset: held for asset, held in account.holds().items() if held} == dict(expected)
        check_rules(account, list(activity.ledger))
    assert kinds.keys() == {"pending_new", "new", "trade", "filled", "canceled"}
    assert len(account.recent_fills) == 50


def test_a_fill_is_two_legs_under_its_exec_id() -> None:
    account = DemoAccount(4)
    activity = account.step()
    while not any(execution.exec_type == "trade" for execution in activity.executions):
        activity = account.step()
    trade = next(execution for execution in activity.executions if execution.exec_type == "trade")
    assert trade.fill is not None
    legs = [entry for entry in activity.ledger if entry.ref_id == trade.fill.exec_id]
    base, quote = legs
    pair = trade.order.pair
    assert (base.asset, quote.asset) == (pair.base.name, pair.quote.name)
    assert abs(base.amount) == trade.fill.volume == trade.order.volume
    assert (abs(quote.amount), quote.fee) == (trade.fill.cost, trade.fill.fee)


def test_untouched_assets_are_left_alone() -> None:
    account = DemoAccount(7)
    ada = account.wallets()[("ADA", "spot", "main")]
    for _ in range(1000):
        activity = account.step(untouched={"ADA", "DOT"})
        assert all(entry.asset not in {"ADA", "DOT"} for entry in activity.ledger)
        assert all("ADA" not in e.order.pair.symbol and "DOT" not in e.order.pair.symbol for e in activity.executions)
    assert account.wallets()[("ADA", "spot", "main")] == ada
    assert account.fund("ADA")[0].asset == "ADA"
