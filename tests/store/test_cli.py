"""`balance-tui db | adjust | history | export | --fresh`: clear output, exit 1 with a reason, nothing half-written."""

import io
import json
import os
import pwd
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from balance_tui import cli
from balance_tui.config import Config
from balance_tui.core.events import Source
from balance_tui.core.model import Balance
from balance_tui.store import sessions
from balance_tui.store.history import HistoryWriter
from tests.store.support import row_counts

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def config(make_config: Callable[..., Config], store_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return make_config(store={"database_url": store_url})


@pytest.fixture
def run(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main([*argv, "--config", str(tmp_path / "config.toml")])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def active(migrated: Engine) -> int:
    opened = sessions.resume_or_start(
        migrated, exchange="sim", mode="paper", now=datetime.now(UTC), opening_balances={"USD": Decimal(1000)}
    )
    assert opened.session.id is not None
    return opened.session.id


def test_db_migrate_and_verify(run: Run) -> None:
    code, out, _ = run("db", "migrate")
    assert code == 0 and out.startswith("schema at revision 0003 (newest)")
    code, out, _ = run("db", "verify")
    assert (code, out) == (0, "ok: checked 0 sessions, 0 balances, 0 adjustments, 0 positions\n")


def test_adjust_records_the_attested_operator(
    run: Run, active: int, migrated: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    code, out, _ = run("adjust", "USD", "5.25", "--reason", "card refund", "--key", "refund-1")
    me = pwd.getpwuid(os.getuid()).pw_name
    assert (code, out) == (
        0,
        f"applied: adjustment #1 USD 1000 -> 1005.25 (delta 5.25) by {me} in session {active}, key refund-1\n",
    )
    code, out, _ = run("adjust", "USD", "5.25", "--reason", "card refund", "--key", "refund-1")
    assert code == 0 and out.startswith("already applied: adjustment #1")
    code, out, _ = run("adjust", "USD", "0", "--set", "--reason", "bank closed")
    assert code == 0 and "USD 1005.25 -> 0 (delta -1005.25)" in out
    code, out, _ = run("db", "verify")
    assert code == 0 and out.startswith("ok: checked 1 sessions, 1 balances, 2 adjustments")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("USD", "abc"), "'abc' is not an amount"),
        (("USD", "1e5"), "'1e5' is not an amount"),
        (("USD", " 5"), "' 5' is not an amount"),
        (("USD", "0.00001"), "USD allows at most 4 decimal places; 0.00001 has 5"),
        (("FOO", "5"), "unknown asset 'FOO'"),
        (("foo", "5"), "unknown asset 'FOO': the books know ADA, BTC"),
        (("USD", "5", "--reason", "  "), "a reason is required"),
        (("USD", "-2000"), "USD would become -1000: a balance cannot go below zero"),
    ],
)
def test_bad_adjustments_exit_1_naming_the_problem_and_write_nothing(
    run: Run, active: int, migrated: Engine, argv: tuple[str, ...], error: str
) -> None:
    before = row_counts(migrated)
    if "--reason" not in argv:
        argv = (*argv, "--reason", "test")
    code, out, err = run("adjust", *argv)
    assert (code, out) == (1, "")
    assert err.startswith("balance-tui: ") and error in err
    assert row_counts(migrated) == before


def test_adjust_reads_kraken_names_in_any_case(run: Run, active: int, migrated: Engine) -> None:
    code, out, _ = run("adjust", "xbt", "0.5", "--reason", "found in cold storage")
    assert code == 0 and "adjustment #1 BTC 0 -> 0.5 (delta 0.5)" in out
    code, out, _ = run("adjust", "XXBT", "0.25", "--reason", "x")
    assert code == 0 and "BTC 0.5 -> 0.75" in out
    code, out, _ = run("adjust", "zusd", "1", "--reason", "x")
    assert code == 0 and "USD 1000 -> 1001" in out


def test_adjusting_an_asset_the_account_does_not_hold_says_so(run: Run, active: int, migrated: Engine) -> None:
    # Accepted (the books may track a deposit before it lands), with a note: the account holds no GBP.
    now = datetime.now(UTC)
    record_samples(migrated, now)  # the console saw BTC
    writer = HistoryWriter(migrated, retention=timedelta(days=1), clock=lambda: now)
    writer.start()
    writer.record_balance(Balance("ETH", Decimal(0), (), Source.WS, datetime(2026, 11, 20, 12, tzinfo=UTC)))
    writer.close()
    code, out, err = run("adjust", "GBP", "5", "--reason", "wire on its way")
    assert code == 0 and out.startswith("applied: adjustment #1 GBP 0 -> 5")
    assert err == (
        "balance-tui: note: the exchange account does not hold GBP (no console has recorded a GBP balance "
        "in the last 168 h); the books track it anyway\n"
    )
    code, _, err = run("adjust", "ETH", "1", "--reason", "x")
    assert code == 0 and "does not hold ETH (its last recorded balance is 0, at 2026-11-20T12:00:00Z)" in err
    code, _, err = run("adjust", "BTC", "1", "--reason", "x")
    assert (code, err) == (0, "")


def test_adjust_without_a_console_opens_a_session_and_closes_it_again(run: Run, migrated: Engine) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    code, out, _ = run("adjust", "USD", "5", "--reason", "wire in", "--key", "w1")
    assert (code, out) == (
        0,
        f"applied: adjustment #1 USD 0 -> 5 (delta 5) by {me} in session 1, key w1\n"
        "wrote to session 1, opened for this adjustment as no console is running on sim (a new one: no earlier "
        "session, balances start at zero) and closed again; the next console continues it\n",
    )
    (only,) = sessions.latest(migrated)
    assert (only.status, only.ended_at is not None) == ("closed", True)
    code, out, _ = run("adjust", "USD", "5", "--reason", "wire in", "--key", "w1")  # a retry opens nothing
    assert code == 0 and out.startswith("already applied: adjustment #1") and "in session 1," in out
    assert len(sessions.latest(migrated)) == 1
    code, out, _ = run("db", "verify")
    assert code == 0, out


def test_adjust_without_a_console_continues_the_last_session(run: Run, active: int, migrated: Engine) -> None:
    sessions.close(migrated, sessions.active(migrated, "sim"), now=datetime.now(UTC))
    code, out, _ = run("adjust", "USD", "-100", "--reason", "fee")
    assert code == 0 and "USD 1000 -> 900 (delta -100)" in out and "in session 2," in out
    assert f"(continuing session {active} (closed))" in out
    # --set on an asset no session has held: from zero, in the next continuation
    code, out, _ = run("adjust", "EUR", "7.5", "--set", "--reason", "new account")
    assert code == 0 and "EUR 0 -> 7.5 (delta 7.5)" in out and "continuing session 2 (closed)" in out
    newest = sessions.overview(migrated)[0]
    assert newest.session.status == "closed" and newest.session.continues_id == 2
    assert {b.asset: b.total for b in newest.balances} == {"EUR": Decimal("7.5"), "USD": Decimal(900)}
    assert sessions.active(migrated, "sim") is None
    code, out, _ = run("db", "verify")
    assert code == 0, out


def test_adjust_while_a_console_runs_goes_to_its_session(run: Run, active: int, migrated: Engine) -> None:
    code, out, _ = run("adjust", "USD", "1", "--reason", "x")
    assert code == 0 and f"in session {active}," in out and "wrote to" not in out
    assert sessions.active(migrated, "sim").id == active  # still the console's, still active


def test_adjust_marks_a_dead_consoles_session_interrupted_and_continues_it(
    run: Run, active: int, migrated: Engine
) -> None:
    from sqlalchemy import update

    from balance_tui.store.engine import writing
    from balance_tui.store.tables import TradingSession

    with writing(migrated) as db:  # its owner is a pid that no longer exists
        db.exec(update(TradingSession).where(TradingSession.id == active).values(owner_pid=2**22 + 1))
    code, out, _ = run("adjust", "USD", "1", "--reason", "x")
    assert code == 0 and "USD 1000 -> 1001" in out
    assert f"continuing session {active} (interrupted: its console had died; marked interrupted just now)" in out
    assert [s.status for s in sessions.latest(migrated)] == ["closed", "interrupted"]


def test_adjust_refuses_when_the_next_console_would_not_carry_it_over(
    make_config: Callable[..., Config], store_url: str, migrated: Engine, run: Run
) -> None:
    make_config(store={"database_url": store_url, "resume_from_last_balance": False})
    before = row_counts(migrated)
    code, _, err = run("adjust", "USD", "5", "--reason", "x")
    assert code == 1 and "resume_from_last_balance = false" in err and "start the console and adjust there" in err
    assert row_counts(migrated) == before


def test_a_refused_adjustment_without_a_console_leaves_no_session(run: Run, migrated: Engine) -> None:
    code, _, err = run("adjust", "USD", "-5", "--reason", "x")
    assert code == 1 and "cannot go below zero" in err
    assert sessions.latest(migrated) == []


def test_the_same_key_for_another_adjustment_is_refused(run: Run, active: int, migrated: Engine) -> None:
    run("adjust", "USD", "5", "--reason", "x", "--key", "k")
    before = row_counts(migrated)
    code, _, err = run("adjust", "USD", "6", "--reason", "x", "--key", "k")
    assert code == 1 and "key 'k' was already used for adjustment #1" in err
    assert row_counts(migrated) == before


def record_samples(engine: Engine, now: datetime) -> None:
    writer = HistoryWriter(engine, retention=timedelta(days=1), clock=lambda: now)
    writer.start()
    for minutes, total in ((90, "1"), (30, "1.5"), (10, "12345678.12345678")):
        writer.record_balance(Balance("BTC", Decimal(total), (), Source.WS, now - timedelta(minutes=minutes)))
    writer.close()


def test_history_prints_the_recorded_samples(run: Run, migrated: Engine) -> None:
    now = datetime.now(UTC)
    record_samples(migrated, now)
    code, out, _ = run("history", "xbt", "--hours", "1")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0] == "BTC: 2 samples in the last 1 h, all shown"
    assert lines[2].endswith("  12345678.12345678  held 0  ws")
    code, out, _ = run("history", "ETH")
    assert (code, out) == (0, "no samples of ETH in the last 24 h\n")
    code, out, err = run("history", "NOPE")  # QA: "no samples", exit 0, as if it were an asset
    assert (code, out) == (1, "") and err.startswith("balance-tui: unknown asset 'NOPE': the books know ADA, BTC")


def test_history_of_minutes_in_a_day_shows_a_useful_number_of_points(run: Run, migrated: Engine) -> None:
    # Issue 13 item 8: 811 samples in the last 7 minutes of a 24 h range were printed as 2 lines.
    now = datetime.now(UTC)
    writer = HistoryWriter(migrated, retention=timedelta(days=1), clock=lambda: now)
    writer.start()
    for n in range(811):
        at = now - timedelta(seconds=(811 - n) / 2)
        writer.record_balance(Balance("BTC", Decimal(n).scaleb(-4), (), Source.WS, at))
    writer.close()
    code, out, _ = run("history", "BTC", "--hours", "24")
    header, *lines = out.splitlines()
    assert (
        code == 0
        and header == f"BTC: 811 samples in the last 24 h merged into {len(lines)} points, the last of each 10 s bucket"
    )
    assert 41 <= len(lines) <= 42 and lines[-1].endswith("  0.081  held 0  ws")
    code, out, _ = run("history", "BTC", "--points", "500")
    assert out.startswith("BTC: 811 samples in the last 24 h merged into ") and "the last of each 1 s bucket" in out


def test_history_never_shows_fewer_points_than_hours_of_data(run: Run, migrated: Engine) -> None:
    now = datetime.now(UTC)
    writer = HistoryWriter(migrated, retention=timedelta(days=3), clock=lambda: now)
    writer.start()
    for n in range(100):  # one every 20 minutes: 33 hours, touching 34 clock hours
        writer.record_balance(Balance("ETH", Decimal(n), (), Source.WS, now - timedelta(minutes=20 * (100 - n))))
    writer.close()
    code, out, _ = run("history", "ETH", "--hours", "48", "--points", "10")
    header, *lines = out.splitlines()
    assert code == 0 and len(lines) == 34
    assert header == (
        "ETH: 100 samples in the last 48 h merged into 34 points, the last of each 1 h bucket; "
        "--points 10 raised to 34, one per hour"
    )


def test_export_json_on_stdout(run: Run, active: int, migrated: Engine) -> None:
    record_samples(migrated, datetime.now(UTC))
    run("adjust", "USD", "0.0001", "--reason", "x")
    code, out, err = run("export", "--format", "json")
    data = json.loads(out)
    assert code == 0 and err == "exported 1 adjustments and 3 samples\n"
    assert data["adjustments"][0]["after"] == "1000.0001"
    assert [s["total"] for s in data["samples"]] == ["1", "1.5", "12345678.12345678"]
    code, out, _ = run("export", "--format", "csv", "--hours", "1")
    assert code == 0 and len(out.splitlines()) == 1 + 1 + 2


def test_db_backup(run: Run, active: int, tmp_path: Path) -> None:
    target = tmp_path / "copy.bak"
    code, out, _ = run("db", "backup", "--output", str(target))
    assert (code, out) == (0, f"backup written to {target}\n") and target.stat().st_size > 0
    code, _, err = run("db", "backup", "--output", str(target))
    assert code == 1 and "exists; choose a new file" in err


def test_database_url_overrides_the_config(
    run: Run, store_url: str, tmp_path: Path, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_config(store={"database_url": f"sqlite:///{tmp_path / 'not-this.db'}"})
    monkeypatch.setenv("DATABASE_URL", store_url)
    code, out, _ = run("db", "migrate")
    assert code == 0 and "not-this.db" not in out
    assert not (tmp_path / "not-this.db").exists()


def test_a_fresh_start_needs_the_word(
    config: Config, active: int, migrated: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert not cli._fresh_start(config)
    assert "not confirmed; nothing changed" in capsys.readouterr().err
    assert sessions.active(migrated, "sim") is not None

    monkeypatch.setattr("sys.stdin", io.StringIO("fresh\n"))
    assert cli._fresh_start(config)
    assert f"session(s) {active} will not be continued" in capsys.readouterr().out
    assert sessions.active(migrated, "sim") is None
    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=datetime.now(UTC))
    assert opened.continued_from is None and opened.balances == ()


def test_a_console_starting_during_a_cli_adjustment_continues_the_cli_session(active: int, migrated: Engine) -> None:
    """The console waits for the CLI's transaction and then continues the session it closed, not the one
    before (on PostgreSQL the lock wait re-reads only the locked row; the console looks again)."""
    import threading
    import time

    from balance_tui.store import books
    from balance_tui.store.engine import writing
    from balance_tui.store.identity import Operator
    from balance_tui.store.tables import AdjustmentKind

    sessions.close(migrated, sessions.active(migrated, "sim"), now=datetime.now(UTC))
    console: list[sessions.OpenedSession] = []
    start = threading.Thread(
        target=lambda: console.append(
            sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=datetime.now(UTC))
        )
    )
    with writing(migrated) as db:
        done = sessions._adjust_latest(
            db,
            books.adjustment_request(AdjustmentKind.DELTA, "USD", Decimal(5), "x", "during-start"),
            "sim",
            "paper",
            datetime.now(UTC),
            Operator.current(),
            sessions.SessionRules(),
        )
        start.start()
        time.sleep(0.5)  # the console is waiting for this transaction
    start.join()
    (opened,) = console
    assert opened.continued_from is not None and opened.continued_from.id == done.session.id != active
    assert {b.asset: b.total for b in opened.balances} == {"USD": Decimal(1005)}


@pytest.mark.parametrize(
    "argv",
    [
        ("db", "verify"),
        ("db", "backup"),
        ("history", "BTC"),
        ("export", "--format", "csv"),
        ("adjust", "USD", "100", "--reason", "t"),
    ],
)
def test_a_store_command_on_a_mistyped_sqlite_path_creates_nothing(
    argv: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # QA: `DATABASE_URL=sqlite:////tmp/qa-typo/x.db balance-tui adjust ...` answered "applied" into a new store.
    missing = tmp_path / "qa-typo" / "x.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        f"balance-tui: no store at {missing}: start the console once or run `balance-tui db migrate` "
        "(from $DATABASE_URL)\n"
    )
    assert not missing.parent.exists()


def test_db_migrate_creates_a_new_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    new = tmp_path / "new" / "store.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{new}")
    assert cli.main(["db", "migrate"]) == 0
    assert new.is_file() and capsys.readouterr().out.startswith("schema at revision")
    assert cli.main(["db", "verify"]) == 0
