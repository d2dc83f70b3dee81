"""Validation issues acknowledged with a reason and an attested operator; the audit of them is append-only."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from balance_tui.store import acks
from balance_tui.store.errors import InvalidInput
from tests.store.support import ALICE, BOB, T0, row_counts


def test_the_latest_acknowledgement_of_each_issue_counts(migrated: Engine) -> None:
    acks.acknowledge(migrated, issue="BTC:held-mismatch", reason="open order on the web UI", operator=ALICE, now=T0)
    acks.acknowledge(migrated, issue="ETH:stale", reason="maintenance window", operator=ALICE, now=T0)
    later = T0 + timedelta(minutes=5)
    acks.acknowledge(migrated, issue="BTC:held-mismatch", reason="  still the same order ", operator=BOB, now=later)
    latest = acks.acknowledgements(migrated)
    assert sorted(latest) == ["BTC:held-mismatch", "ETH:stale"]
    btc = latest["BTC:held-mismatch"]
    assert (btc.reason, btc.operator, btc.ssh_origin, btc.created_at) == (
        "still the same order",
        "bob",
        "198.51.100.4 port 41000",
        later,
    )


@pytest.mark.parametrize(("issue", "reason", "error"), [("BTC:x", " ", "a reason is required"), ("", "r", "issue ''")])
def test_an_acknowledgement_needs_an_issue_and_a_reason(migrated: Engine, issue: str, reason: str, error: str) -> None:
    before = row_counts(migrated)
    with pytest.raises(InvalidInput, match=error):
        acks.acknowledge(migrated, issue=issue, reason=reason, operator=ALICE, now=T0)
    assert row_counts(migrated) == before


def test_acknowledgements_cannot_be_rewritten(migrated: Engine) -> None:
    acks.acknowledge(migrated, issue="BTC:x", reason="fine", operator=ALICE, now=T0)
    for statement in ("UPDATE validation_acks SET operator = 'mallory'", "DELETE FROM validation_acks"):
        with pytest.raises(DBAPIError, match="validation_acks is append-only"), migrated.begin() as conn:
            conn.execute(text(statement))
    assert acks.acknowledgements(migrated)["BTC:x"].operator == "alice"
