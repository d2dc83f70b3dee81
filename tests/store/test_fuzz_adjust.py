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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from balance_tui import cli
from balance_tui.config import Config
from balance_tui.kraken.assets import asset_code
from balance_tui.store import books, sessions
from balance_tui.store.errors import InvalidInput
from balance_tui.store.money import AmountError, parse_amount
from balance_tui.store.tables import AdjustmentKind
from tests import hostile_input as hostile
from tests.store.support import row_counts

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNDECODABLE = "\udcff"  # a byte that is not UTF-8, as Python hands it over from argv

amounts = st.one_of(
    st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=2).map(lambda d: f"{d:f}"),
    st.sampled_from([*hostile.AMOUNTS, UNDECODABLE, "12" + UNDECODABLE]),
    st.text(max_size=24),
)
hostile_text = st.sampled_from([*hostile.TEXT, UNDECODABLE])
assets = st.one_of(st.sampled_from(["USD", "usd", "xbt", "XXBT", "dot.s", "FOO"]), hostile_text)
reasons = st.one_of(st.just("counted by hand"), hostile_text, st.text(max_size=40))

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


@FUZZ
@given(asset=assets, amount=amounts, reason=reasons, set_to=st.booleans())
@hostile.with_examples(
    [
        *hostile.ADJUSTMENTS,
        ("USD", "1", UNDECODABLE, False),
        (UNDECODABLE, "1", "x", False),
        ("USD", UNDECODABLE, "x", False),
    ]
)
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
        assert not hostile.written_whatever_the_books_hold(asset, amount, reason, set_to), f"refused: {err.strip()}"
        return
    assert not hostile.refused_whatever_the_books_hold(asset, amount, reason), f"accepted {asset!r} {amount!r}"
    assert out.startswith("applied: adjustment #")
    (written,) = books.adjustments(migrated)[len(adjustments) :]
    assert (written.asset, written.reason) == (asset_code(asset), reason.strip())
    if set_to:
        assert (written.kind, written.after) == (AdjustmentKind.SET, parse_amount(amount))
    else:
        assert (written.kind, written.delta) == (AdjustmentKind.DELTA, parse_amount(amount))


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.text(), st.sampled_from([*hostile.TEXT, *hostile.AMOUNTS, UNDECODABLE])))
def test_amounts_reasons_and_asset_names_are_taken_as_typed_or_refused_with_their_own_error(text: str) -> None:
    try:
        amount = parse_amount(text)
    except AmountError as exc:
        assert "is not an amount" in str(exc)
    else:
        assert amount == Decimal(text) and text.isascii() and text.strip() == text
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
