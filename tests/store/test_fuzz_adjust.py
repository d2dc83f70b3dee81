"""Fuzzing `balance-tui adjust`: the amount, the asset and the reason an operator types, on SQLite and PostgreSQL.

Contract, per input: exit 0 having written exactly the adjustment typed, or exit 1 with one `balance-tui:`
line saying why and nothing written; no traceback, no other exception. The parsers underneath
(`parse_amount`, `books.require_reason`, `books.require_asset`) answer with a value or their own error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from balance_tui import cli
from balance_tui.config import Config
from balance_tui.kraken.assets import asset_code
from balance_tui.store import books, sessions
from balance_tui.store.errors import InvalidInput
from balance_tui.store.money import AmountError, parse_amount
from balance_tui.store.tables import AdjustmentKind
from tests.store.support import row_counts

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNDECODABLE = "\udcff"  # a byte that is not UTF-8, as Python hands it over from argv
CLASSIC_AMOUNTS = [
    "1e400", "NaN", "Infinity", "-Infinity", "-0", "\u0661\u0662\u0663", "\uff11\uff12", "0." + "1" * 30,
    "1" * 30, "1\x00", "1_000", " 1.5", "0x10", "+", "", UNDECODABLE, "12" + UNDECODABLE,
]  # fmt: skip
CLASSIC_TEXT = ["x" * 100_000, "a\x00b", "line\nbreak", "   ", "", UNDECODABLE, "\u0661\u0662\u0663", "US\x00D"]

amounts = st.one_of(
    st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=3).map(lambda d: f"{d:f}"),
    st.sampled_from(CLASSIC_AMOUNTS),
    st.text(max_size=24),
)
assets = st.one_of(st.sampled_from(["USD", "usd", "xbt", "XXBT", "dot.s", "FOO"]), st.sampled_from(CLASSIC_TEXT))
reasons = st.one_of(st.just("counted by hand"), st.sampled_from(CLASSIC_TEXT), st.text(max_size=40))

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(
    make_config: Callable[..., Config],
    store_url: str,
    migrated: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Run]:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    make_config(store={"database_url": store_url})
    sessions.resume_or_start(
        migrated, exchange="sim", mode="paper", now=datetime.now(UTC), opening_balances={"USD": Decimal(1000)}
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def run(command: str, *argv: str) -> tuple[int, str, str]:
        try:
            code = cli.main([command, "--config", str(tmp_path / "config.toml"), *argv])
        finally:  # each run adds its log handler to the root logger: one process, many runs
            root.handlers[:], root.level = handlers, level
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def must_be_refused(asset: str, amount: str, reason: str) -> bool:
    """Input refused whatever the books hold: not an amount, not an asset name, no usable reason."""
    try:
        parse_amount(amount)
        books.require_asset(asset_code(asset))
        books.require_reason(reason)
    except (AmountError, InvalidInput):
        return True
    return False


def must_be_written(asset: str, amount: str, reason: str, set_to: bool) -> bool:
    """Input no rule refuses: USD (4 places), a positive delta of up to three places, a reason."""
    if must_be_refused(asset, amount, reason) or asset_code(asset) != "USD" or set_to:
        return False
    return parse_amount(amount) > 0


@FUZZ
@given(asset=assets, amount=amounts, reason=reasons, set_to=st.booleans())
@example(asset="usd", amount="12.5", reason="counted by hand", set_to=False)  # the control: written
@example(asset="USD", amount="1e400", reason="x", set_to=False)
@example(asset="USD", amount="NaN", reason="x", set_to=True)
@example(asset="USD", amount="Infinity", reason="x", set_to=False)
@example(asset="USD", amount="-0", reason="x", set_to=False)
@example(asset="USD", amount="-0", reason="emptied", set_to=True)
@example(asset="USD", amount="\u0661\u0662\u0663", reason="x", set_to=False)
@example(asset="USD", amount="\uff11\uff12", reason="x", set_to=False)
@example(asset="USD", amount="0." + "1" * 30, reason="x", set_to=False)
@example(asset="USD", amount="1", reason="x" * 100_000, set_to=False)
@example(asset="USD", amount="1", reason="a\x00b", set_to=False)
@example(asset="USD", amount="1", reason=UNDECODABLE, set_to=False)
@example(asset=UNDECODABLE, amount="1", reason="x", set_to=False)
@example(asset="US\x00D", amount="1", reason="x", set_to=False)
@example(asset="USD", amount=UNDECODABLE, reason="x", set_to=False)
@example(asset="BTC", amount="0.12345678901", reason="more places than BTC has", set_to=False)
@example(asset="USD", amount="-5000", reason="below zero", set_to=False)
def test_adjust_writes_what_was_typed_or_says_why_not_in_one_line(
    run: Run, migrated: Engine, asset: str, amount: str, reason: str, set_to: bool
) -> None:
    before, adjustments = row_counts(migrated), books.adjustments(migrated)
    # `--reason=` and `--`: the values reach the parsers as typed, even one starting with '-'.
    code, out, err = run("adjust", f"--reason={reason}", *(["--set"] if set_to else []), "--", asset, amount)
    assert "Traceback" not in err
    if code != 0:
        assert code == cli.EXIT_REFUSED, (code, err)
        lines = err.splitlines()
        assert lines and all(line.startswith("balance-tui: ") for line in lines), err
        assert row_counts(migrated) == before, f"refused ({err.strip()}) yet written"
        assert not must_be_written(asset, amount, reason, set_to), f"refused: {err.strip()}"
        return
    assert not must_be_refused(asset, amount, reason), f"accepted {asset!r} {amount!r} {reason!r}"
    assert out.startswith("applied: adjustment #")
    (written,) = books.adjustments(migrated)[len(adjustments) :]
    assert (written.asset, written.reason) == (asset_code(asset), reason.strip())
    if set_to:
        assert (written.kind, written.after) == (AdjustmentKind.SET, parse_amount(amount))
    else:
        assert (written.kind, written.delta) == (AdjustmentKind.DELTA, parse_amount(amount))


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.text(), st.sampled_from(CLASSIC_TEXT + CLASSIC_AMOUNTS)))
def test_reasons_and_asset_names_are_taken_as_typed_or_refused_with_the_stores_error(text: str) -> None:
    try:
        reason = books.require_reason(text)
    except InvalidInput as exc:
        assert "reason" in str(exc)
    else:
        assert reason == text.strip() and reason.isprintable() and 0 < len(reason) <= books.MAX_REASON
    try:
        name = books.require_asset(text)
    except InvalidInput as exc:
        assert "is not an asset name" in str(exc) and len(str(exc)) < 1000  # not a 100 KB paste
    else:
        assert name == text and name.isascii() and name.isprintable() and " " not in name
