"""Validation issues an operator acknowledged, with a reason: append-only, the latest per issue counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import col, select

from balance_tui.store.books import require_reason
from balance_tui.store.engine import reading, writing
from balance_tui.store.errors import InvalidInput
from balance_tui.store.identity import Operator
from balance_tui.store.tables import ValidationAck


def acknowledge(engine: Engine, *, issue: str, reason: str, operator: Operator, now: datetime) -> ValidationAck:
    """Record that `operator` saw `issue` (the validator's key for it, e.g. "BTC:held-mismatch") and why it is fine."""
    if not (0 < len(issue) <= 128 and issue.isprintable()):
        raise InvalidInput(f"issue {issue!r}: expected the validator's key, 1-128 printable characters")
    ack = ValidationAck(
        issue=issue,
        reason=require_reason(reason),
        created_at=now,
        operator=operator.name,
        sudo_user=operator.sudo_user,
        ssh_origin=operator.ssh_origin,
        tty=operator.tty,
    )
    with writing(engine) as db:
        db.add(ack)
    return ack


def acknowledgements(engine: Engine) -> dict[str, ValidationAck]:
    """The latest acknowledgement of each issue."""
    latest = select(func.max(ValidationAck.id)).group_by(col(ValidationAck.issue))
    with reading(engine) as db:
        return {ack.issue: ack for ack in db.exec(select(ValidationAck).where(col(ValidationAck.id).in_(latest))).all()}


def acknowledgements_after(engine: Engine, after_id: int) -> list[ValidationAck]:
    """The acknowledgements after an id, in id order: what another console wrote since (`store.watch`)."""
    query = select(ValidationAck).where(col(ValidationAck.id) > after_id).order_by(col(ValidationAck.id))
    with reading(engine) as db:
        return list(db.exec(query).all())
