"""Operators' adjustments: audited, exact, idempotent, never overwriting each other, never half-written."""

from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from balance_tui.store import books, positions
from balance_tui.store.errors import AdjustmentConflict, IdempotencyMismatch, InvalidInput, SessionError
from balance_tui.store.maintenance import verify
from balance_tui.store.money import canonical
from balance_tui.store.tables import AdjustmentKind, PositionSide
from tests.store.support import ALICE, BOB, T0, row_counts

SET, DELTA = AdjustmentKind.SET, AdjustmentKind.DELTA
D = Decimal


def adjust(engine: Engine, session_id: int, asset: str, amount: str, kind=DELTA, **kw):  # type: ignore[no-untyped-def]
    values = {"reason": "reconcile with bank statement", "operator": ALICE, "idempotency_key": "k1", "now": T0}
    values.update(kw)
    return books.adjust(engine, session_id=session_id, asset=asset, amount=D(amount), kind=kind, **values)


def test_a_set_is_recorded_with_before_after_delta_and_who(migrated: Engine, session_id: int) -> None:
    seen = books.read_balance(migrated, session_id, "USD")
    result = adjust(migrated, session_id, "USD", "1250.5", SET, expected_version=seen.version)
    row = result.adjustment
    assert (row.kind, row.before, row.after, row.delta) == ("set", D("1000"), D("1250.5"), D("250.5"))
    assert (row.operator, row.ssh_origin, row.tty, row.reason) == (
        "alice",
        "203.0.113.7 port 50022",
        "/dev/pts/3",
        "reconcile with bank statement",
    )
    assert row.created_at == T0 and not result.already_applied
    now = books.read_balance(migrated, session_id, "USD")
    assert (now.total, now.available, now.version, now.updated_by) == (
        D("1250.5"),
        D("1250.5"),
        seen.version + 1,
        "alice",
    )


def test_a_delta_adds_to_whatever_is_there(migrated: Engine, session_id: int) -> None:
    adjust(migrated, session_id, "BTC", "-0.0000000001", idempotency_key="a")
    adjust(migrated, session_id, "BTC", "0.5", idempotency_key="b")
    assert books.read_balance(migrated, session_id, "BTC").total == D("2.4999999999")
    assert verify(migrated).ok


def test_a_zero_balance_can_be_adjusted(migrated: Engine, session_id: int) -> None:
    absent = books.read_balance(migrated, session_id, "ETH")
    assert (absent.total, absent.version) == (D(0), 0)
    adjust(migrated, session_id, "ETH", "1.5", SET, expected_version=0, idempotency_key="eth-1")
    emptied = adjust(migrated, session_id, "ETH", "-1.5", idempotency_key="eth-2").balance
    assert emptied.total == 0
    adjust(migrated, session_id, "ETH", "0.25", SET, expected_version=emptied.version, idempotency_key="eth-3")
    assert books.read_balance(migrated, session_id, "ETH").total == D("0.25")
    assert verify(migrated).ok


def test_two_operators_interleaved_the_later_gets_a_conflict_naming_the_earlier(
    migrated: Engine, session_id: int
) -> None:
    alice_saw = books.read_balance(migrated, session_id, "USD")  # A reads
    bob_saw = books.read_balance(migrated, session_id, "USD")  # B reads
    adjust(migrated, session_id, "USD", "1100", SET, reason="fee refund", expected_version=alice_saw.version)  # A
    before = row_counts(migrated)
    with pytest.raises(AdjustmentConflict) as conflict:  # B commits against what it read
        adjust(
            migrated,
            session_id,
            "USD",
            "900",
            SET,
            operator=BOB,
            idempotency_key="k2",
            expected_version=bob_saw.version,
        )
    message = str(conflict.value)
    assert "alice" in message and "2026-11-20 12:00:00Z" in message  # who and when
    assert "1000 -> 1100" in message and "fee refund" in message  # what
    assert "Nothing was written" in message and conflict.value.current_version == alice_saw.version + 1
    assert row_counts(migrated) == before
    assert books.read_balance(migrated, session_id, "USD").total == D("1100")

    fresh = books.read_balance(migrated, session_id, "USD")  # B re-confirms against the new value
    result = adjust(
        migrated, session_id, "USD", "900", SET, operator=BOB, idempotency_key="k2", expected_version=fresh.version
    )
    assert (result.adjustment.before, result.adjustment.after, result.adjustment.operator) == (D(1100), D(900), "bob")


def test_a_delta_confirmed_against_an_old_version_conflicts_too(migrated: Engine, session_id: int) -> None:
    seen = books.read_balance(migrated, session_id, "USD")
    adjust(migrated, session_id, "USD", "5", idempotency_key="first")
    with pytest.raises(AdjustmentConflict):
        adjust(migrated, session_id, "USD", "5", idempotency_key="second", expected_version=seen.version)


def test_a_trade_in_between_is_named_in_the_conflict(migrated: Engine, session_id: int) -> None:
    seen = books.read_balance(migrated, session_id, "USD")
    positions.open_position(
        migrated, session_id=session_id, symbol="BTC/USD", side=PositionSide.LONG, size=D("0.01"),
        entry_price=D("50000"), now=T0, by="bot",
    )  # fmt: skip
    with pytest.raises(AdjustmentConflict, match=r"bot at .*position 1 opened"):
        adjust(migrated, session_id, "USD", "10", SET, expected_version=seen.version)


def test_a_set_needs_the_version_it_was_confirmed_against(migrated: Engine, session_id: int) -> None:
    with pytest.raises(InvalidInput, match="needs the version"):
        adjust(migrated, session_id, "USD", "10", SET)


def test_resubmitting_a_key_answers_already_applied(migrated: Engine, session_id: int) -> None:
    first = adjust(migrated, session_id, "USD", "10")
    before = row_counts(migrated)
    again = adjust(migrated, session_id, "USD", "10.0")  # same content, written differently
    assert again.already_applied and again.adjustment.id == first.adjustment.id
    assert row_counts(migrated) == before
    assert books.read_balance(migrated, session_id, "USD").total == D("1010")


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "11"},
        {"asset": "BTC"},
        {"kind": SET, "expected_version": 2},
        {"reason": "another reason"},
    ],
)
def test_the_same_key_for_different_content_is_an_error(migrated: Engine, session_id: int, change: dict) -> None:
    adjust(migrated, session_id, "USD", "10")
    before = row_counts(migrated)
    values = {"asset": "USD", "amount": "10", "kind": DELTA, **change}
    with pytest.raises(IdempotencyMismatch, match=r"key 'k1' was already used for adjustment #1 \(delta USD 10"):
        adjust(migrated, session_id, values.pop("asset"), values.pop("amount"), values.pop("kind"), **values)
    assert row_counts(migrated) == before


@pytest.mark.parametrize(
    ("asset", "amount", "reason", "error"),
    [
        ("USD", "0.00001", "why", "USD allows at most 4 decimal places; 0.00001 has 5"),
        ("BTC", "0.00000000001", "why", "BTC allows at most 10 decimal places"),
        ("USD", "5", "", "a reason is required"),
        ("USD", "5", "   \t ", "a reason is required"),
        ("USD", "5", "two\nlines", "one line"),
        ("USD", "5", "x" * 501, "at most 500"),
        ("FOO", "5", "why", "unknown asset 'FOO': the books know ADA, BTC"),
        ("usd", "5", "why", "unknown asset 'usd'"),
        ("USD", "0", "why", "this changes nothing: USD is already 1000"),
        ("USD", "-1000.0001", "why", "USD would become -0.0001: a balance cannot go below zero"),
        ("USD", "NaN", "why", "finite Decimal"),
        ("USD", "1E+20", "why", "does not fit"),
    ],
)
def test_bad_input_is_rejected_naming_the_problem_and_writes_nothing(
    migrated: Engine, session_id: int, asset: str, amount: str, reason: str, error: str
) -> None:
    before = row_counts(migrated)
    with pytest.raises(InvalidInput) as rejected:
        adjust(migrated, session_id, asset, amount, reason=reason)
    assert error in str(rejected.value)
    assert row_counts(migrated) == before


def test_an_unknown_asset_is_refused_in_one_line_however_many_the_books_know(migrated: Engine, session_id: int) -> None:
    books.register_assets(migrated, {f"A{n:03d}": 8 for n in range(400)})  # Kraken lists hundreds
    with pytest.raises(InvalidInput) as refused:
        adjust(migrated, session_id, "FOO", "5")
    assert str(refused.value) == (
        "unknown asset 'FOO': the books know " + ", ".join(f"A{n:03d}" for n in range(20)) + " and 393 more "
        "(Kraken's asset list, as a console last fetched it)"
    )


@pytest.mark.parametrize("decimals", [0, 1, 2, 4, 5, 8, 10, 18])
def test_precision_gate_per_asset_decimals(migrated: Engine, session_id: int, decimals: int) -> None:
    books.register_assets(migrated, {"TST": decimals})
    fits = D(1).scaleb(-decimals)
    adjust(migrated, session_id, "TST", format(fits, "f"), idempotency_key="fits")
    before = row_counts(migrated)
    too_fine = format(D("1.1").scaleb(-decimals), "f")  # one place more than allowed
    with pytest.raises(InvalidInput, match=f"TST allows at most {decimals} decimal places"):
        adjust(migrated, session_id, "TST", too_fine, idempotency_key="too-fine")
    assert row_counts(migrated) == before


def test_a_balance_cannot_drop_below_what_positions_reserve(migrated: Engine, session_id: int) -> None:
    positions.open_position(
        migrated, session_id=session_id, symbol="BTC/USD", side=PositionSide.LONG, size=D("0.01"),
        entry_price=D("60000"), now=T0, by="bot",
    )  # fmt: skip
    before = row_counts(migrated)
    with pytest.raises(InvalidInput, match="below the 600 open positions reserve"):
        adjust(migrated, session_id, "USD", "-400.0001")
    assert row_counts(migrated) == before


def test_only_the_active_session_takes_adjustments(migrated: Engine, session_id: int) -> None:
    with pytest.raises(SessionError, match="trading session 99 does not exist"):
        adjust(migrated, 99, "USD", "1")


def test_an_undo_is_a_reversing_entry_and_the_original_stays(migrated: Engine, session_id: int) -> None:
    original = adjust(migrated, session_id, "USD", "250", idempotency_key="orig").adjustment
    adjust(migrated, session_id, "USD", "1", idempotency_key="later")
    undo = books.undo(
        migrated, session_id=session_id, adjustment_id=original.id, reason="typo", operator=BOB,
        idempotency_key="undo", now=T0,
    ).adjustment  # fmt: skip
    assert (undo.kind, undo.delta, undo.reverses_id, undo.before, undo.after) == (
        "undo",
        D(-250),
        original.id,
        D(1251),
        D(1001),
    )
    assert [a.delta for a in books.adjustments(migrated, session_id=session_id)] == [D(250), D(1), D(-250)]
    before = row_counts(migrated)
    with pytest.raises(InvalidInput, match=f"#{original.id} was already undone by #{undo.id}") as twice:
        books.undo(
            migrated, session_id=session_id, adjustment_id=original.id, reason="again", operator=BOB,
            idempotency_key="undo-2", now=T0,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="is itself an undo") as of_an_undo:
        books.undo(
            migrated, session_id=session_id, adjustment_id=undo.id, reason="redo", operator=BOB,
            idempotency_key="undo-3", now=T0,
        )  # fmt: skip
    # What the console says before asking for a reason is the store's refusal, word for word.
    assert books.undo_refusal(original, undone_by=undo.id) == str(twice.value)
    assert books.undo_refusal(undo, undone_by=None) == str(of_an_undo.value)
    assert books.undo_refusal(original, undone_by=None) == ""
    assert row_counts(migrated) == before
    assert verify(migrated).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE balance_adjustments SET delta = '1000000'",
        "UPDATE balance_adjustments SET reason = 'nothing to see'",
        "DELETE FROM balance_adjustments",
    ],
)
def test_the_database_itself_refuses_to_rewrite_the_audit_trail(
    migrated: Engine, session_id: int, statement: str
) -> None:
    adjust(migrated, session_id, "USD", "10")
    before = row_counts(migrated)
    with pytest.raises(DBAPIError, match="balance_adjustments is append-only"), migrated.begin() as conn:
        conn.execute(text(statement))
    assert row_counts(migrated) == before
    assert books.adjustments(migrated)[0].delta == D(10)


@pytest.mark.parametrize(
    ("amount", "kind", "result"),
    [
        ("250.5", SET, "250.5"),
        ("-0.25", DELTA, "999.75"),
        ("1000", SET, "this changes nothing: USD is already 1000"),
        ("-1001", DELTA, "USD would become -1: a balance cannot go below zero"),
        ("0.00001", DELTA, "USD allows at most 4 decimal places; 0.00001 has 5"),
    ],
)
def test_what_a_form_previews_is_what_adjust_writes_or_refuses(
    migrated: Engine, session_id: int, amount: str, kind: AdjustmentKind, result: str
) -> None:
    seen = books.read_balance(migrated, session_id, "USD")
    decimals = books.asset_decimals(migrated)["USD"]
    try:
        preview = canonical(books.resulting_total(seen, D(amount), kind, decimals))
    except InvalidInput as exc:
        preview = str(exc)
    try:
        written = canonical(
            adjust(migrated, session_id, "USD", amount, kind, expected_version=seen.version).balance.total
        )
    except InvalidInput as exc:
        written = str(exc)
    assert preview == written == result
