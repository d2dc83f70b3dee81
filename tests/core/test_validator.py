from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balance_tui.core.events import HoldAmounts, Source, WalletBalance
from balance_tui.core.model import Balance
from balance_tui.core.validator import (
    BalanceValidator,
    LowBalanceConfig,
    PrecisionConfig,
    RestTotal,
    Rule,
    RuleConfig,
    Severity,
    UnrealisticBalanceConfig,
    ValidationIssue,
    ValidatorConfig,
)

D = Decimal
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def balance(
    asset: str,
    spot: str,
    held: str = "0",
    *,
    earn: str = "0",
    source: Source = Source.WS,
    at: datetime = T0,
) -> Balance:
    wallets = (WalletBalance("spot", "main", D(spot)), WalletBalance("earn", "flex", D(earn)))
    return Balance(asset, D(spot) + D(earn), wallets, source, at, HoldAmounts(hold_trade=D(held)))


def found(validator: BalanceValidator, *balances: Balance, now: datetime = T0, **kwargs: object) -> dict[Rule, str]:
    report = validator.validate({b.asset: b for b in balances}, now=now, **kwargs)  # type: ignore[arg-type]
    return {issue.rule: issue.message for issue in report.issues}


def test_a_healthy_account_is_valid_with_no_issues() -> None:
    report = BalanceValidator().validate({"BTC": balance("BTC", "1.5", "0.5")}, now=T0)
    assert report.is_valid
    assert report.issues == ()


def test_negative_balance_fires_below_zero_only() -> None:
    validator = BalanceValidator()
    report = validator.validate_single_balance("BTC", D("-0.5"), now=T0)
    assert report.issues == (
        ValidationIssue(Rule.NEGATIVE_BALANCE, Severity.CRITICAL, "BTC", "BTC total -0.5 is negative", T0, T0),
    )
    assert not report.is_valid
    assert validator.validate_single_balance("BTC", D("0"), now=T0).issues == ()


def test_negative_free_balance_fires_when_holds_exceed_the_spot_wallet() -> None:
    validator = BalanceValidator()
    # Total 6 covers the hold of 1.2, but only 1 is in spot: free is -0.2.
    assert found(validator, balance("DOT", "1", "1.2", earn="5")) == {
        Rule.NEGATIVE_FREE_BALANCE: "DOT free -0.2 is negative (total 6, held 1.2)"
    }
    assert found(validator, balance("DOT", "1", "1.0", earn="5")) == {}


def test_hold_exceeds_balance_fires_only_above_the_total() -> None:
    validator = BalanceValidator()
    report = validator.validate_single_balance("BTC", D("1"), D("1.2"), now=T0)
    assert {i.rule: i.message for i in report.issues} == {
        Rule.HOLD_EXCEEDS_BALANCE: "BTC held 1.2 exceeds total 1",
        Rule.NEGATIVE_FREE_BALANCE: "BTC free -0.2 is negative (total 1, held 1.2)",
    }
    assert validator.validate_single_balance("BTC", D("1"), D("1"), now=T0).issues == ()


class TestSourceInconsistency:
    rest_at = T0 - timedelta(seconds=10)

    def test_fires_when_fresh_totals_differ_over_the_threshold(self) -> None:
        # |100 - 102| / 102 = 1.96% > 1%
        assert found(
            BalanceValidator(), balance("USD", "100"), rest_totals={"USD": RestTotal(D(102), self.rest_at)}
        ) == {Rule.SOURCE_INCONSISTENCY: "USD WS total 100 differs from REST total 102 by 1.96% (limit 1%)"}

    def test_quiet_under_the_threshold(self) -> None:
        # |100 - 100.5| / 100.5 = 0.50% < 1%
        rest = {"USD": RestTotal(D("100.5"), self.rest_at)}
        assert found(BalanceValidator(), balance("USD", "100"), rest_totals=rest) == {}

    @pytest.mark.parametrize(("ws_age", "rest_age", "fires"), [(30, 30, True), (31, 0, False), (0, 31, False)])
    def test_compares_only_when_both_are_fresh(self, ws_age: int, rest_age: int, fires: bool) -> None:
        ws = balance("USD", "100", at=T0 - timedelta(seconds=ws_age))
        rest = {"USD": RestTotal(D(110), T0 - timedelta(seconds=rest_age))}
        assert (Rule.SOURCE_INCONSISTENCY in found(BalanceValidator(), ws, rest_totals=rest)) is fires

    def test_a_rest_sourced_balance_is_not_compared_with_rest(self) -> None:
        rest = {"USD": RestTotal(D(110), self.rest_at)}
        assert found(BalanceValidator(), balance("USD", "100", source=Source.REST), rest_totals=rest) == {}

    def test_feed_confirmation_makes_a_quiet_ws_balance_fresh(self) -> None:
        rest = {"USD": RestTotal(D(110), self.rest_at)}
        old = balance("USD", "100", at=T0 - timedelta(hours=1))
        issues = found(BalanceValidator(), old, rest_totals=rest, feed_confirmed_at=T0 - timedelta(seconds=1))
        assert Rule.SOURCE_INCONSISTENCY in issues


def test_unrealistic_balance_uses_the_asset_ceiling_or_the_default() -> None:
    config = ValidatorConfig(
        unrealistic_balance=UnrealisticBalanceConfig(severity=Severity.ERROR, ceilings={"BTC": D(21_000_000)})
    )
    validator = BalanceValidator(config)
    assert found(validator, balance("BTC", "21000000.1")) == {
        Rule.UNREALISTIC_BALANCE: "BTC total 21000000.1 is above the ceiling 21000000"
    }
    assert found(validator, balance("BTC", "21000000")) == {}
    assert found(validator, balance("USD", "1000000000")) == {}
    assert Rule.UNREALISTIC_BALANCE in found(validator, balance("USD", "1000000000.01"))


def test_stale_data_fires_past_the_age_limit_unless_the_feed_vouches() -> None:
    validator = BalanceValidator()
    btc = balance("BTC", "1")
    assert found(validator, btc, now=T0 + timedelta(seconds=300)) == {}
    late = T0 + timedelta(seconds=300.5)
    assert found(validator, btc, now=late) == {Rule.STALE_DATA: "BTC balance is 300.5 s old (limit 300.0 s)"}
    assert found(validator, btc, now=late, feed_confirmed_at=late - timedelta(seconds=2)) == {}


def test_precision_overflow_counts_significant_places_and_skips_unknown_assets() -> None:
    validator = BalanceValidator(ValidatorConfig(precision_overflow=PrecisionConfig(decimals={"BTC": 8})))
    assert found(validator, balance("BTC", "0.123456789")) == {
        Rule.PRECISION_OVERFLOW: "BTC total 0.123456789 has 9 decimal places; BTC allows 8"
    }
    assert found(validator, balance("BTC", "1", "0.000000001")) == {
        Rule.PRECISION_OVERFLOW: "BTC held 0.000000001 has 9 decimal places; BTC allows 8"
    }
    assert found(validator, balance("BTC", "0.1234567800000")) == {}  # trailing zeros carry no precision
    assert found(validator, balance("ETH", "0.123456789012")) == {}


def test_all_zero_balances_fires_account_wide() -> None:
    validator = BalanceValidator()
    report = validator.validate({"BTC": balance("BTC", "0"), "USD": balance("USD", "0")}, now=T0)
    assert [(i.rule, i.asset, i.message) for i in report.issues] == [
        (Rule.ALL_ZERO_BALANCES, None, "all 2 balances are zero")
    ]
    assert report.is_valid  # a warning
    assert found(validator, balance("BTC", "0"), balance("USD", "0.01")) == {}
    assert validator.validate({}, now=T0).issues == ()


def test_low_balance_looks_at_free_not_total() -> None:
    validator = BalanceValidator(ValidatorConfig(low_balance=LowBalanceConfig(floors={"USDT": D(10)})))
    assert found(validator, balance("USDT", "50", "40.01")) == {
        Rule.LOW_BALANCE: "USDT free 9.99 is below the floor 10"
    }
    assert found(validator, balance("USDT", "50", "40")) == {}
    assert found(validator, balance("USD", "1")) == {}  # no floor for USD
    report = validator.validate_single_balance("USDT", D(50), now=T0, free=D(5))  # e.g. Kraken's `available`
    assert [i.message for i in report.issues] == ["USDT free 5 is below the floor 10"]


def test_a_disabled_rule_does_not_fire_and_severity_is_configurable() -> None:
    off = BalanceValidator(ValidatorConfig(negative_balance=RuleConfig(enabled=False)))
    assert off.validate_single_balance("BTC", D(-1), now=T0).issues == ()
    mild = BalanceValidator(ValidatorConfig(negative_balance=RuleConfig(severity=Severity.INFO)))
    report = mild.validate_single_balance("BTC", D(-1), now=T0)
    assert report.is_valid
    assert report.issues[0].severity is Severity.INFO


def test_every_rule_has_its_config() -> None:
    config = ValidatorConfig()
    assert {rule: config.rule(rule).enabled for rule in Rule} == dict.fromkeys(Rule, True)


def test_a_persisting_issue_is_counted_and_a_resolved_one_dropped() -> None:
    validator = BalanceValidator()
    validator.validate({"BTC": balance("BTC", "-1")}, now=T0)
    later = T0 + timedelta(seconds=10)
    report = validator.validate({"BTC": balance("BTC", "-2", at=later)}, now=later)
    assert report.issues == (
        ValidationIssue(Rule.NEGATIVE_BALANCE, Severity.CRITICAL, "BTC", "BTC total -2 is negative", T0, later, 2),
    )
    validator.validate({"BTC": balance("BTC", "1", at=later)}, now=later)
    assert validator.active_issues == ()
    again = T0 + timedelta(seconds=20)
    report = validator.validate({"BTC": balance("BTC", "-1", at=again)}, now=again)
    assert (report.issues[0].first_seen, report.issues[0].count) == (again, 1)


def test_a_single_balance_run_resolves_only_its_own_amount_issues() -> None:
    validator = BalanceValidator()
    late = T0 + timedelta(minutes=10)
    validator.validate({"BTC": balance("BTC", "-1"), "ETH": balance("ETH", "-1")}, now=late)
    assert {(i.rule, i.asset) for i in validator.active_issues} == {
        (Rule.NEGATIVE_BALANCE, "BTC"),
        (Rule.STALE_DATA, "BTC"),
        (Rule.NEGATIVE_BALANCE, "ETH"),
        (Rule.STALE_DATA, "ETH"),
    }
    validator.validate_single_balance("BTC", D(1), now=late)
    assert {(i.rule, i.asset) for i in validator.active_issues} == {
        (Rule.STALE_DATA, "BTC"),
        (Rule.NEGATIVE_BALANCE, "ETH"),
        (Rule.STALE_DATA, "ETH"),
    }


def test_issues_come_most_severe_first() -> None:
    validator = BalanceValidator(ValidatorConfig(low_balance=LowBalanceConfig(floors={"BTC": D(5)})))
    report = validator.validate_single_balance("BTC", D(-1), D(1), now=T0)
    assert [(i.severity, i.rule) for i in report.issues] == [
        (Severity.CRITICAL, Rule.NEGATIVE_BALANCE),
        (Severity.ERROR, Rule.HOLD_EXCEEDS_BALANCE),
        (Severity.WARNING, Rule.LOW_BALANCE),
    ]
