"""Sanity rules over balances, so a wrong number is flagged before anyone trades on it.

The validator is a pure evaluation of the balances it is given at the `now` it is given; the only state it
keeps is the set of active issues, so a problem that persists is one issue with a count rather than a new
alarm on every run. A run decides for every (rule, asset) in its scope: firing again updates the issue,
no longer firing resolves and drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from balance_tui.core.events import Source
from balance_tui.core.exact import EXACT
from balance_tui.core.model import ZERO, Balance


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


BLOCKING = frozenset({Severity.ERROR, Severity.CRITICAL})
_RANK = {severity: rank for rank, severity in enumerate(Severity)}


class Rule(StrEnum):
    NEGATIVE_BALANCE = "negative_balance"
    NEGATIVE_FREE_BALANCE = "negative_free_balance"
    HOLD_EXCEEDS_BALANCE = "hold_exceeds_balance"
    SOURCE_INCONSISTENCY = "source_inconsistency"
    UNREALISTIC_BALANCE = "unrealistic_balance"
    STALE_DATA = "stale_data"
    PRECISION_OVERFLOW = "precision_overflow"
    ALL_ZERO_BALANCES = "all_zero_balances"
    LOW_BALANCE = "low_balance"


# The rules that need nothing but an asset's amounts: all that `validate_single_balance` can judge.
AMOUNT_RULES = frozenset(
    {
        Rule.NEGATIVE_BALANCE,
        Rule.NEGATIVE_FREE_BALANCE,
        Rule.HOLD_EXCEEDS_BALANCE,
        Rule.UNREALISTIC_BALANCE,
        Rule.PRECISION_OVERFLOW,
        Rule.LOW_BALANCE,
    }
)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    enabled: bool = True
    severity: Severity = Severity.WARNING


@dataclass(frozen=True, slots=True)
class SourceInconsistencyConfig(RuleConfig):
    """WS and REST totals of one asset may differ by `relative_threshold` of the larger, and are compared
    only when both were observed within `fresh_within` of now: an old figure differs for a reason."""

    relative_threshold: Decimal = Decimal("0.01")
    fresh_within: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class UnrealisticBalanceConfig(RuleConfig):
    """A total above its ceiling is more likely a parsing or unit bug than money."""

    default_ceiling: Decimal = Decimal(1_000_000_000)
    ceilings: Mapping[str, Decimal] = field(default_factory=dict)

    def ceiling(self, asset: str) -> Decimal:
        return self.ceilings.get(asset, self.default_ceiling)


@dataclass(frozen=True, slots=True)
class StaleDataConfig(RuleConfig):
    max_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PrecisionConfig(RuleConfig):
    """Decimal places each asset allows (Kraken's `AssetInfo.decimals`); assets not named are not checked."""

    decimals: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LowBalanceConfig(RuleConfig):
    """Floors on the FREE balance, per asset: what the bot needs to be able to place orders."""

    floors: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ValidatorConfig:
    negative_balance: RuleConfig = RuleConfig(severity=Severity.CRITICAL)
    negative_free_balance: RuleConfig = RuleConfig(severity=Severity.ERROR)
    hold_exceeds_balance: RuleConfig = RuleConfig(severity=Severity.ERROR)
    source_inconsistency: SourceInconsistencyConfig = SourceInconsistencyConfig()
    unrealistic_balance: UnrealisticBalanceConfig = UnrealisticBalanceConfig(severity=Severity.ERROR)
    stale_data: StaleDataConfig = StaleDataConfig()
    precision_overflow: PrecisionConfig = PrecisionConfig()
    all_zero_balances: RuleConfig = RuleConfig()
    low_balance: LowBalanceConfig = LowBalanceConfig()

    def rule(self, rule: Rule) -> RuleConfig:
        config: RuleConfig = getattr(self, rule.value)
        return config


class RestTotal(NamedTuple):
    """An asset's total as REST `Balance`/`BalanceEx` reported it, and when."""

    total: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    rule: Rule
    severity: Severity
    asset: str | None  # None for an account-wide issue
    message: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What one run found, most severe first; `is_valid` means nothing blocks trading."""

    is_valid: bool
    issues: tuple[ValidationIssue, ...]


_Key = tuple[Rule, str | None]
_Finding = tuple[Rule, str | None, str]


class BalanceValidator:
    def __init__(self, config: ValidatorConfig | None = None) -> None:
        self.config = config or ValidatorConfig()
        self._active: dict[_Key, ValidationIssue] = {}
        # The config is frozen: read each rule's switch and severity once, not on every update.
        self._on = {rule: self.config.rule(rule).enabled for rule in Rule}
        self._severity = {rule: self.config.rule(rule).severity for rule in Rule}

    @property
    def active_issues(self) -> tuple[ValidationIssue, ...]:
        return _ordered(self._active.values())

    def validate(
        self,
        balances: Mapping[str, Balance],
        *,
        now: datetime,
        rest_totals: Mapping[str, RestTotal] | None = None,
        feed_confirmed_at: datetime | None = None,
    ) -> ValidationReport:
        """Run every rule over the whole account.

        `feed_confirmed_at` is when the feed last vouched for every balance it carries (the latest WS message
        while live): a quiet asset is as fresh as that, not as old as its last change.
        """
        findings: list[_Finding] = []
        for asset, balance in balances.items():
            findings += self._amount_findings(asset, balance.total, balance.held, balance.free)
            seen_at = balance.updated_at if feed_confirmed_at is None else max(balance.updated_at, feed_confirmed_at)
            findings += self._freshness_findings(asset, balance.source, seen_at, balance.total, rest_totals or {}, now)
        findings += self._account_findings(balances)
        return self._record(findings, now, lambda key: True)

    def validate_single_balance(
        self, asset: str, balance: Decimal, hold: Decimal = ZERO, *, now: datetime, free: Decimal | None = None
    ) -> ValidationReport:
        """Run the amount rules over one asset: `balance` is its total, `free` defaults to total - hold.

        Only this asset's amount-rule issues are resolved here; a whole-account `validate` owns the rest.
        """
        findings = self._amount_findings(asset, balance, hold, balance - hold if free is None else free)
        return self._record(findings, now, lambda key: key[1] == asset and key[0] in AMOUNT_RULES)

    def _amount_findings(self, asset: str, total: Decimal, held: Decimal, free: Decimal) -> Iterator[_Finding]:
        config = self.config
        if self._on[Rule.NEGATIVE_BALANCE] and total < 0:
            yield Rule.NEGATIVE_BALANCE, asset, f"{asset} total {total:f} is negative"
        # A negative total already makes free negative, and a zero hold exceeds it: say it once, above.
        if self._on[Rule.NEGATIVE_FREE_BALANCE] and free < 0 <= total:
            message = f"{asset} free {free:f} is negative (total {total:f}, held {held:f})"
            yield Rule.NEGATIVE_FREE_BALANCE, asset, message
        if self._on[Rule.HOLD_EXCEEDS_BALANCE] and held > max(total, ZERO):
            yield Rule.HOLD_EXCEEDS_BALANCE, asset, f"{asset} held {held:f} exceeds total {total:f}"
        ceiling = config.unrealistic_balance.ceiling(asset)
        if self._on[Rule.UNREALISTIC_BALANCE] and total > ceiling:
            yield Rule.UNREALISTIC_BALANCE, asset, f"{asset} total {total:f} is above the ceiling {ceiling:f}"
        allowed = config.precision_overflow.decimals.get(asset)
        if self._on[Rule.PRECISION_OVERFLOW] and allowed is not None:
            amounts = (("total", total), ("held", held))
            excess = [f"{name} {value:f} has {_places(value)}" for name, value in amounts if _places(value) > allowed]
            if excess:
                places = " and ".join(excess)
                yield Rule.PRECISION_OVERFLOW, asset, f"{asset} {places} decimal places; {asset} allows {allowed}"
        floor = config.low_balance.floors.get(asset)
        if self._on[Rule.LOW_BALANCE] and floor is not None and free < floor:
            yield Rule.LOW_BALANCE, asset, f"{asset} free {free:f} is below the floor {floor:f}"

    def _freshness_findings(
        self,
        asset: str,
        source: Source,
        seen_at: datetime,
        total: Decimal,
        rest_totals: Mapping[str, RestTotal],
        now: datetime,
    ) -> Iterator[_Finding]:
        stale = self.config.stale_data
        age = now - seen_at
        if stale.enabled and age > stale.max_age:
            yield (
                Rule.STALE_DATA,
                asset,
                f"{asset} balance is {_seconds(age)} s old (limit {_seconds(stale.max_age)} s)",
            )
        check = self.config.source_inconsistency
        rest = rest_totals.get(asset)
        if not check.enabled or source != Source.WS or rest is None:
            return
        if now - seen_at > check.fresh_within or now - rest.at > check.fresh_within:
            return
        difference = abs(EXACT.subtract(total, rest.total))
        larger = max(abs(total), abs(rest.total))
        if difference > EXACT.multiply(check.relative_threshold, larger):
            share = _percent(difference / larger)
            limit = _percent(check.relative_threshold)
            message = f"{asset} WS total {total:f} differs from REST total {rest.total:f} by {share}% (limit {limit}%)"
            yield Rule.SOURCE_INCONSISTENCY, asset, message

    def _account_findings(self, balances: Mapping[str, Balance]) -> Iterator[_Finding]:
        # No balances at all means nothing is known yet, not an empty account.
        if self._on[Rule.ALL_ZERO_BALANCES] and balances and all(b.total == 0 for b in balances.values()):
            yield Rule.ALL_ZERO_BALANCES, None, f"all {len(balances)} balances are zero"

    def _record(
        self, findings: Iterable[_Finding], now: datetime, in_scope: Callable[[_Key], bool]
    ) -> ValidationReport:
        fired: dict[_Key, ValidationIssue] = {}
        for rule, asset, message in findings:
            key = (rule, asset)
            severity = self._severity[rule]
            previous = self._active.get(key)
            if previous is None:
                fired[key] = ValidationIssue(rule, severity, asset, message, now, now)
            else:
                fired[key] = replace(
                    previous, severity=severity, message=message, last_seen=now, count=previous.count + 1
                )
        if not fired and not self._active:
            return _VALID  # the usual case, on every update: nothing wrong before or now
        self._active = {key: issue for key, issue in self._active.items() if not in_scope(key)} | fired
        issues = _ordered(fired.values())
        return ValidationReport(not any(issue.severity in BLOCKING for issue in issues), issues)


_VALID = ValidationReport(True, ())


def _ordered(issues: Iterable[ValidationIssue]) -> tuple[ValidationIssue, ...]:
    return tuple(sorted(issues, key=lambda i: (-_RANK[i.severity], i.rule, i.asset or "")))


def _places(value: Decimal) -> int:
    """Decimal places that carry a digit: 1.10 has 1, 100 has 0 (and so has infinity: the ceiling catches it)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.01')).normalize():f}"


def _seconds(age: timedelta) -> str:
    return f"{age.total_seconds():.1f}"
