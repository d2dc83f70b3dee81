"""Any sequence of adjustments, retries, undos and refusals keeps the books adding up (SQLite, Hypothesis)."""

import uuid
from decimal import Decimal
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Engine

from balance_tui.store import books, sessions
from balance_tui.store.errors import InvalidInput
from balance_tui.store.maintenance import verify
from balance_tui.store.migrate import open_store
from balance_tui.store.tables import AdjustmentKind
from tests.store.support import ALICE, T0

ASSETS = st.sampled_from(["USD", "BTC"])
DELTAS = st.decimals(min_value=-60, max_value=60, places=2)
TARGETS = st.decimals(min_value=0, max_value=200, places=4)


class Books(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        opened = sessions.resume_or_start(
            self.engine, exchange=uuid.uuid4().hex[:12], mode="paper", now=T0, opening_balances={"USD": Decimal(100)}
        )
        assert opened.session.id is not None
        self.session_id = opened.session.id
        self.model = {"USD": Decimal(100), "BTC": Decimal(0)}
        self.requests: dict[str, tuple[str, Decimal, AdjustmentKind]] = {}  # key -> what was applied
        self.undoable: dict[int, tuple[str, Decimal]] = {}  # adjustment id -> (asset, delta)
        self.undos = 0

    def submit(self, asset: str, amount: Decimal, kind: AdjustmentKind, key: str) -> None:
        version = books.read_balance(self.engine, self.session_id, asset).version
        try:
            result = books.adjust(
                self.engine, session_id=self.session_id, asset=asset, amount=amount, kind=kind, reason="model",
                operator=ALICE, idempotency_key=key, now=T0, expected_version=version,
            )  # fmt: skip
        except InvalidInput:  # zero change, or below zero: refused, nothing written
            after = amount if kind is AdjustmentKind.SET else self.model[asset] + amount
            assert after == self.model[asset] or after < 0
            return
        assert not result.already_applied
        self.model[asset] = result.balance.total
        self.requests[key] = (asset, amount, kind)
        self.undoable[result.adjustment.id] = (asset, result.adjustment.delta)  # type: ignore[index]

    @rule(asset=ASSETS, amount=DELTAS)
    def add(self, asset: str, amount: Decimal) -> None:
        self.submit(asset, amount, AdjustmentKind.DELTA, uuid.uuid4().hex)

    @rule(asset=ASSETS, amount=TARGETS)
    def set_to(self, asset: str, amount: Decimal) -> None:
        self.submit(asset, amount, AdjustmentKind.SET, uuid.uuid4().hex)

    @precondition(lambda self: self.requests)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.requests)))
        asset, amount, kind = self.requests[key]
        result = books.adjust(
            self.engine, session_id=self.session_id, asset=asset, amount=amount, kind=kind, reason="model",
            operator=ALICE, idempotency_key=key, now=T0, expected_version=0,  # stale: the key wins anyway
        )  # fmt: skip
        assert result.already_applied

    @precondition(lambda self: self.undoable)
    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        adjustment_id = data.draw(st.sampled_from(sorted(self.undoable)))
        asset, delta = self.undoable.pop(adjustment_id)
        try:
            books.undo(
                self.engine, session_id=self.session_id, adjustment_id=adjustment_id, reason="model undo",
                operator=ALICE, idempotency_key=uuid.uuid4().hex, now=T0,
            )  # fmt: skip
        except InvalidInput:
            assert self.model[asset] - delta < 0  # undoing would go below zero
            return
        self.model[asset] -= delta
        self.undos += 1

    @invariant()
    def books_match_the_model(self) -> None:
        balances = {b.asset: b for b in books.read_balances(self.engine, self.session_id)}
        assert {asset: balances[asset].total if asset in balances else 0 for asset in self.model} == self.model
        deltas = [a.delta for a in books.adjustments(self.engine, session_id=self.session_id)]
        assert sum(deltas, Decimal(0)) == sum(b.total - b.opening for b in balances.values())
        assert len(deltas) == len(self.requests) + self.undos  # one row per distinct key, retries add none


def test_the_books_add_up_under_any_sequence_of_operations(tmp_path: Path) -> None:
    Books.engine = open_store(f"sqlite:///{tmp_path / 'machine.db'}")
    try:
        run_state_machine_as_test(Books, settings=settings(max_examples=25, stateful_step_count=15, deadline=None))
        assert verify(Books.engine).ok
    finally:
        Books.engine.dispose()
