"""The bot-tracked balances and the operators' adjustments to them.

How two adjustments never overwrite each other:
1. Inside the transaction the balance is locked before it is read: SQLite's BEGIN IMMEDIATE takes the
   database write lock, PostgreSQL's `SELECT ... FOR UPDATE` the row lock (READ COMMITTED). Read, check
   and write are one step, so concurrent deltas all apply, none is lost, and no retry loop is needed.
2. Across the operator's think time (form shown -> confirmed) the check is optimistic: the operator
   confirms against the `version` they saw (`expected_version`). If the balance changed since, the
   adjustment is refused with `AdjustmentConflict` naming the change in between (who, when, what) and
   nothing is written until they confirm again against the fresh value. A set-to always needs it (it
   replaces whatever is there); a delta may go without, since deltas commute.
3. The UPDATE itself carries SQLAlchemy's version check (`version_id_col`) as a last guard.

An adjustment never lands in a session that has ended, nor after its balances were carried over: the
session row is share-locked (`SELECT ... FOR SHARE`) before its status is checked, and ending or
continuing a session locks that row for update, so the two take turns (`locked_session_status`).

Every adjustment carries a caller-made idempotency key, unique in the database. Submitting a key again
answers "already applied" with the original; the same key for different content is `IdempotencyMismatch`.
So a caller that lost the answer (crash, timeout) resubmits safely.

Bad input (unknown asset, more places than the asset allows, empty reason, a change to nothing, a balance
taken below zero or below what positions reserve) raises `InvalidInput` before anything is written.
The assets the books know, and their precision, are the `assets` table: Kraken's `decimals`, seeded by
migration 0002 and brought up to the exchange's whole list (REST `Assets`) by `register_assets` each time
a console opens its session, so `balance-tui adjust` knows every listed asset without asking the exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from balance_tui.core.exact import EXACT
from balance_tui.store.engine import reading, require_writable, writing
from balance_tui.store.errors import AdjustmentConflict, IdempotencyMismatch, InvalidInput, SessionError
from balance_tui.store.identity import Operator
from balance_tui.store.money import canonical, places
from balance_tui.store.tables import (
    AccountBalance,
    AdjustmentKind,
    Asset,
    BalanceAdjustment,
    SessionStatus,
    TradingSession,
)

ZERO = Decimal(0)
MAX_REASON = 500
MAX_KEY = 64
MAX_ASSET = 16  # characters in an asset name (the `assets` table's key)
_NAMES_SHOWN = 20  # known assets a refusal lists (Kraken lists hundreds)


@dataclass(frozen=True, slots=True)
class BalanceView:
    """A balance as read: what the operator confirms against. `version` 0 means no row yet (zero)."""

    session_id: int
    asset: str
    opening: Decimal
    total: Decimal
    reserved: Decimal
    available: Decimal
    version: int
    updated_at: datetime | None
    updated_by: str
    update_reason: str

    @classmethod
    def of(cls, row: AccountBalance) -> BalanceView:
        assert row.session_id is not None
        return cls(
            row.session_id,
            row.asset,
            row.opening,
            row.total,
            row.reserved,
            row.available,
            row.version,
            row.updated_at,
            row.updated_by,
            row.update_reason,
        )

    @classmethod
    def zero(cls, session_id: int, asset: str) -> BalanceView:
        return cls(session_id, asset, ZERO, ZERO, ZERO, ZERO, 0, None, "", "")


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    adjustment: BalanceAdjustment
    balance: BalanceView
    already_applied: bool  # the key had been applied before: nothing new was written


@dataclass(frozen=True, slots=True)
class AdjustmentRequest:
    """What an adjustment asks for, its input checked (`adjustment_request`) before anything is read or written."""

    kind: AdjustmentKind
    asset: str
    amount: Decimal  # the set-to value or the delta (for an undo: minus the reversed delta)
    reason: str
    key: str
    reverses_id: int | None = None


def adjust(
    engine: Engine,
    *,
    session_id: int,
    asset: str,
    amount: Decimal,
    kind: AdjustmentKind,
    reason: str,
    operator: Operator,
    idempotency_key: str,
    now: datetime,
    expected_version: int | None = None,
) -> AdjustmentResult:
    """Set a balance to `amount` (kind SET) or add `amount` to it (kind DELTA), in the session given."""
    if kind is AdjustmentKind.SET and expected_version is None:
        raise InvalidInput("setting a balance needs the version the operator confirmed against")
    request = adjustment_request(kind, asset, amount, reason, idempotency_key)
    return _submit(engine, session_id, request, operator, now, expected_version)


def adjust_in(
    db: Session,
    session_id: int,
    request: AdjustmentRequest,
    *,
    operator: Operator,
    now: datetime,
    expected_version: int | None = None,
) -> tuple[BalanceAdjustment, AccountBalance, bool]:
    """`adjust` inside a write transaction the caller holds (its own rules and refusals), for a caller that
    must open the session in the same transaction (`sessions.adjust_latest`). Returns the adjustment, its
    balance row (flushed, not committed) and whether the key had been applied already."""
    adjustment, row, already = _apply(db, session_id, request, operator, now, expected_version)
    db.flush()
    return adjustment, row, already


def key_session(db: Session, idempotency_key: str) -> int | None:
    """The session an idempotency key was applied in, or None if it was never used."""
    return db.exec(
        select(AccountBalance.session_id)
        .join(BalanceAdjustment, col(BalanceAdjustment.balance_id) == col(AccountBalance.id))
        .where(BalanceAdjustment.idempotency_key == _key(idempotency_key))
    ).first()


def adjustment_request(kind: AdjustmentKind, asset: str, amount: Decimal, reason: str, key: str) -> AdjustmentRequest:
    """A set-to or delta request, its input checked before anything is read or written."""
    if kind not in (AdjustmentKind.SET, AdjustmentKind.DELTA):
        raise InvalidInput(f"an adjustment sets or adds an amount; {kind!r} is neither (use undo())")
    _check_amount(amount)
    return AdjustmentRequest(kind, require_asset(asset), amount, require_reason(reason), _key(key))


def confirmed_version(kind: AdjustmentKind, seen: BalanceView) -> int | None:
    """What an operator's adjustment, from the console or the CLI alike, confirms against: a set-to replaces
    the figure they saw, so that figure must still be there; a delta commutes, so it applies to whatever is
    there when it commits."""
    return seen.version if kind is AdjustmentKind.SET else None


def undo(
    engine: Engine,
    *,
    session_id: int,
    adjustment_id: int,
    reason: str,
    operator: Operator,
    idempotency_key: str,
    now: datetime,
    expected_version: int | None = None,
) -> AdjustmentResult:
    """Reverse an adjustment with a new one adding minus its delta; the original row is never touched."""
    require_writable(engine)
    reason, key = require_reason(reason), _key(idempotency_key)
    with reading(engine) as db:  # adjustments never change: reading the original outside the write is safe
        original = db.get(BalanceAdjustment, adjustment_id)
    if original is None:
        raise InvalidInput(f"there is no adjustment #{adjustment_id} to undo")
    if refusal := undo_refusal(original, undone_by=None):
        raise InvalidInput(refusal)
    request = AdjustmentRequest(AdjustmentKind.UNDO, original.asset, -original.delta, reason, key, adjustment_id)
    return _submit(engine, session_id, request, operator, now, expected_version)


def undo_refusal(adjustment: BalanceAdjustment, *, undone_by: int | None) -> str:
    """Why `undo` refuses this adjustment, in its words, for a caller that has the list at hand (the
    console's books): an undo is not undone, nor is an adjustment twice. Empty when it may be undone."""
    if adjustment.kind == AdjustmentKind.UNDO:
        return f"adjustment #{adjustment.id} is itself an undo; make a new adjustment instead"
    if undone_by is not None:
        return f"adjustment #{adjustment.id} was already undone by #{undone_by}"
    return ""


def read_balance(engine: Engine, session_id: int, asset: str) -> BalanceView:
    require_asset(asset)
    with reading(engine) as db:
        row = db.exec(
            select(AccountBalance).where(AccountBalance.session_id == session_id, AccountBalance.asset == asset)
        ).first()
    return BalanceView.of(row) if row else BalanceView.zero(session_id, asset)


def read_balances(engine: Engine, session_id: int) -> list[BalanceView]:
    with reading(engine) as db:
        rows = db.exec(
            select(AccountBalance).where(AccountBalance.session_id == session_id).order_by(col(AccountBalance.asset))
        ).all()
    return [BalanceView.of(row) for row in rows]


def adjustments(
    engine: Engine, *, session_id: int | None = None, after_id: int = 0, limit: int | None = None
) -> list[BalanceAdjustment]:
    """Adjustments in id order, optionally of one session and only those after an id (what a watcher missed)."""
    query = select(BalanceAdjustment).where(col(BalanceAdjustment.id) > after_id).order_by(col(BalanceAdjustment.id))
    if session_id is not None:
        query = query.join(AccountBalance).where(AccountBalance.session_id == session_id)
    with reading(engine) as db:
        return list(db.exec(query.limit(limit)).all())


def last_adjustment_id(engine: Engine) -> int:
    """The newest adjustment's id, 0 if there is none: a watcher starting now reads those after it."""
    with reading(engine) as db:
        return db.exec(select(func.coalesce(func.max(BalanceAdjustment.id), 0))).one()


def asset_decimals(engine: Engine) -> dict[str, int]:
    with reading(engine) as db:
        return {row.asset: row.decimals for row in db.exec(select(Asset)).all()}


def register_assets(engine: Engine, decimals: Mapping[str, int]) -> None:
    """Add or update assets and their precision (Kraken `AssetInfo.decimals`)."""
    for asset, value in decimals.items():
        if not (asset and len(asset) <= MAX_ASSET and 0 <= value <= 18):
            raise ValueError(
                f"asset {asset!r} with {value} decimals: need a name of 1-{MAX_ASSET} chars and 0-18 decimals"
            )
    if not decimals:
        return
    with writing(engine) as db:
        insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(Asset).values([{"asset": a, "decimals": d} for a, d in decimals.items()])
        db.exec(
            statement.on_conflict_do_update(index_elements=["asset"], set_={"decimals": statement.excluded.decimals})
        )


def unknown_asset(asset: str, known: Iterable[str], what: str = "unknown asset") -> InvalidInput:
    """The refusal of an asset the books do not know: one line, naming it and (some of) those they do."""
    names = sorted(known)
    shown = ", ".join(names[:_NAMES_SHOWN]) + (f" and {len(names) - _NAMES_SHOWN} more" if names[_NAMES_SHOWN:] else "")
    return InvalidInput(
        f"{what} {asset!r}: the books know {shown or 'no assets'} (Kraken's asset list, as a console last fetched it)"
    )


def new_balance(
    session_id: int, asset: str, *, total: Decimal, reserved: Decimal, now: datetime, by: str, reason: str
) -> AccountBalance:
    """A balance row opening at `total`: a session's first value of an asset (carried over, or zero)."""
    return AccountBalance(
        session_id=session_id,
        asset=asset,
        opening=total,
        total=total,
        reserved=reserved,
        available=EXACT.subtract(total, reserved),
        updated_at=now,
        updated_by=by[:64],
        update_reason=reason[:600],
    )


def locked_balance(db: Session, session_id: int, asset: str) -> AccountBalance | None:
    """The balance row, locked for this transaction (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite)."""
    return db.exec(
        select(AccountBalance)
        .where(AccountBalance.session_id == session_id, AccountBalance.asset == asset)
        .with_for_update()
    ).first()


def locked_session_status(db: Session, session_id: int) -> str | None:
    """The session's status (None: no such session), share-locked until this transaction ends.

    Whatever ends a session (sweep, close, a fresh start) updates or locks its row FOR UPDATE, and the
    carry-over to a continuing session locks it too, so it waits for a write that saw the session active,
    and a write that comes later sees it ended. On SQLite, BEGIN IMMEDIATE already serialises the two.
    """
    return db.exec(
        select(TradingSession.status).where(TradingSession.id == session_id).with_for_update(read=True)
    ).first()


def change(row: AccountBalance, *, total: Decimal, reserved: Decimal, now: datetime, by: str, reason: str) -> None:
    """Change a locked balance: available follows total and reserved; who and why are kept for conflicts."""
    row.total, row.reserved, row.available = total, reserved, EXACT.subtract(total, reserved)
    row.updated_at, row.updated_by, row.update_reason = now, by[:64], reason[:600]


def _submit(
    engine: Engine,
    session_id: int,
    request: AdjustmentRequest,
    operator: Operator,
    now: datetime,
    expected_version: int | None,
) -> AdjustmentResult:
    # On PostgreSQL two writers can race to insert the same key or an asset's first balance row; the
    # loser's retry then finds the winner's row (already applied, or a row to lock and update).
    for attempt in (1, 2):
        try:
            with writing(engine) as db:
                adjustment, balance, already_applied = _apply(db, session_id, request, operator, now, expected_version)
            return AdjustmentResult(adjustment, BalanceView.of(balance), already_applied)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply(
    db: Session,
    session_id: int,
    request: AdjustmentRequest,
    operator: Operator,
    now: datetime,
    expected_version: int | None,
) -> tuple[BalanceAdjustment, AccountBalance, bool]:
    """The adjustment and its balance, written (not yet committed), and whether the key had been applied already."""
    asset, amount = request.asset, request.amount
    status = locked_session_status(db, session_id)
    existing_id, decimals = db.exec(
        select(
            select(BalanceAdjustment.id).where(BalanceAdjustment.idempotency_key == request.key).scalar_subquery(),
            select(Asset.decimals).where(Asset.asset == asset).scalar_subquery(),
        )
    ).one()
    if existing_id is not None:
        existing = db.get_one(BalanceAdjustment, existing_id)
        return existing, _already_applied(db, existing, request), True
    if request.reverses_id is not None:
        undone = db.exec(select(BalanceAdjustment).where(BalanceAdjustment.reverses_id == request.reverses_id)).first()
        if undone is not None:
            raise InvalidInput(f"adjustment #{request.reverses_id} was already undone by #{undone.id}")
    if decimals is None:
        raise unknown_asset(asset, db.exec(select(Asset.asset)).all())
    if status != SessionStatus.ACTIVE:
        state = "does not exist" if status is None else f"is {status}"
        raise SessionError(f"trading session {session_id} {state}: adjustments go to the active session")
    _check_places(asset, amount, decimals)
    try:
        canonical(amount)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None

    row = locked_balance(db, session_id, asset)
    current = BalanceView.of(row) if row else BalanceView.zero(session_id, asset)
    if expected_version is not None and expected_version != current.version:
        raise AdjustmentConflict(
            conflict_message(current, expected_version),
            asset=asset,
            expected_version=expected_version,
            current_version=current.version,
            current=current,
        )
    before = current.total
    after, delta = _result(request.kind, before, amount)
    _check_result(asset, before, after, delta, current.reserved)

    first = row is None  # the session's first figure of this asset: the row opens at zero
    if row is None:
        row = new_balance(session_id, asset, total=ZERO, reserved=ZERO, now=now, by=operator.name, reason="")
    change(
        row,
        total=after,
        reserved=current.reserved,
        now=now,
        by=operator.name,
        reason=f"{request.kind} {_signed(delta)} ({canonical(before)} -> {canonical(after)}): {request.reason}",
    )
    if first:
        db.add(row)  # one INSERT with the changed figure: the version goes 0 -> 1, as for any adjustment
        db.flush()  # for its id
    adjustment = BalanceAdjustment(
        balance_id=row.id,
        asset=asset,
        kind=request.kind,
        before=before,
        after=after,
        delta=delta,
        reason=request.reason,
        created_at=now,
        idempotency_key=request.key,
        reverses_id=request.reverses_id,
        operator=operator.name,
        sudo_user=operator.sudo_user,
        ssh_origin=operator.ssh_origin,
        tty=operator.tty,
    )
    db.add(adjustment)
    return adjustment, row, False


def _already_applied(db: Session, existing: BalanceAdjustment, request: AdjustmentRequest) -> AccountBalance:
    requested = existing.after if existing.kind == AdjustmentKind.SET else existing.delta
    same = (existing.kind, existing.asset, requested, existing.reverses_id, existing.reason) == (
        request.kind,
        request.asset,
        request.amount,
        request.reverses_id,
        request.reason,
    )
    if not same:
        raise IdempotencyMismatch(
            f"idempotency key {request.key!r} was already used for adjustment #{existing.id} "
            f"({existing.kind} {existing.asset} {canonical(requested)}, reason {existing.reason!r}, "
            f"by {existing.operator} at {existing.created_at:%Y-%m-%d %H:%M:%S}Z); "
            "a different adjustment needs a new key"
        )
    row = db.get(AccountBalance, existing.balance_id)
    assert row is not None
    return row


def conflict_message(current: BalanceView, expected_version: int, figure: Callable[[Decimal], str] = canonical) -> str:
    """What a conflict says, its figures as `figure` writes them (a console groups them)."""
    if current.updated_at is None:
        what = "it has no balance row any more"
    else:
        what = f"{current.updated_by} at {current.updated_at:%Y-%m-%d %H:%M:%S}Z: {current.update_reason}"
    return (
        f"{current.asset} changed after you read it (version {expected_version}, now {current.version}): {what}. "
        f"It is now {figure(current.total)} ({figure(current.available)} available). "
        "Nothing was written; confirm again against the new value."
    )


def resulting_total(current: BalanceView, amount: Decimal, kind: AdjustmentKind, decimals: int) -> Decimal:
    """What `adjust` would leave from `current`, or the `InvalidInput` it would raise, in its words: for a
    form that checks as the operator types. Nothing is read or written; the write checks all again."""
    _check_places(current.asset, amount, decimals)
    after, delta = _result(kind, current.total, amount)
    _check_result(current.asset, current.total, after, delta, current.reserved)
    return after


def _result(kind: AdjustmentKind, before: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """The balance after, and the delta, of setting to or adding `amount`."""
    if kind is AdjustmentKind.SET:
        return amount, EXACT.subtract(amount, before)
    return EXACT.add(before, amount), amount


def _check_places(asset: str, amount: Decimal, decimals: int) -> None:
    if places(amount) > decimals:
        raise InvalidInput(f"{asset} allows at most {decimals} decimal places; {amount:f} has {places(amount)}")


def _check_amount(amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput(f"the amount must be a finite Decimal, got {amount!r}")


def _check_result(asset: str, before: Decimal, after: Decimal, delta: Decimal, reserved: Decimal) -> None:
    if delta == 0:
        raise InvalidInput(f"this changes nothing: {asset} is already {canonical(before)}")
    try:
        canonical(after)
    except ValueError as exc:
        raise InvalidInput(f"{asset} would become {after}: {exc}") from None
    if after < 0:
        raise InvalidInput(f"{asset} would become {canonical(after)}: a balance cannot go below zero")
    if after < reserved:
        raise InvalidInput(
            f"{asset} would become {canonical(after)}, below the {canonical(reserved)} open positions reserve"
        )


def require_asset(asset: str) -> str:
    """`asset` if it can name an asset (1-16 printable ASCII characters, no spaces, as Kraken's do), else
    `InvalidInput`. Checked before any query: a database cannot be asked about text it cannot hold (a NUL on
    PostgreSQL, an undecodable byte from the command line, which Python keeps as a lone surrogate)."""
    if 0 < len(asset) <= MAX_ASSET and asset.isascii() and asset.isprintable() and " " not in asset:
        return asset
    raise InvalidInput(
        f"{asset[:40]!r} is not an asset name: expected 1-{MAX_ASSET} printable ASCII characters, like USD or BTC"
    )


def require_reason(reason: str) -> str:
    """The reason, stripped; `InvalidInput` if it is empty or not one printable line."""
    text = reason.strip()
    if not text:
        raise InvalidInput("a reason is required: say why the balance changes")
    if len(text) > MAX_REASON or not text.isprintable():
        raise InvalidInput(f"the reason must be one line of at most {MAX_REASON} printable characters")
    return text


def _key(key: str) -> str:
    if not (0 < len(key) <= MAX_KEY and key.isascii() and key.isprintable() and " " not in key):
        raise InvalidInput(f"idempotency key {key!r}: expected 1-{MAX_KEY} printable ASCII characters, no spaces")
    return key


def _signed(value: Decimal) -> str:
    text = canonical(value)
    return text if text.startswith("-") else f"+{text}"
