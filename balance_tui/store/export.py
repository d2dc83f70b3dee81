"""`balance-tui export`: adjustments and samples as CSV or JSON, amounts as exact decimal strings.

Rows are streamed, so exporting a million samples needs no more memory than exporting ten.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Literal, TextIO

from sqlalchemy import Engine
from sqlmodel import col, select

from balance_tui.store.engine import reading
from balance_tui.store.money import canonical
from balance_tui.store.tables import AccountBalance, BalanceAdjustment, BalanceSample

Format = Literal["csv", "json"]
ADJUSTMENT_FIELDS = (
    "id",
    "session_id",
    "asset",
    "kind",
    "before",
    "after",
    "delta",
    "reason",
    "operator",
    "sudo_user",
    "ssh_origin",
    "tty",
    "created_at",
    "idempotency_key",
    "reverses_id",
)
SAMPLE_FIELDS = ("id", "asset", "total", "held", "source", "observed_at")
# One CSV for both: a `record` column says which, and each row fills only its own fields.
CSV_FIELDS = ("record", *ADJUSTMENT_FIELDS, *(f for f in SAMPLE_FIELDS if f not in ADJUSTMENT_FIELDS))


def export(engine: Engine, out: TextIO, *, fmt: Format, since: datetime | None = None) -> dict[str, int]:
    """Write every adjustment and every sample (observed after `since`, if given); return the counts."""
    counts = {"adjustments": 0, "samples": 0}
    adjustments = (
        select(BalanceAdjustment, AccountBalance.session_id)
        .join(AccountBalance)
        .order_by(col(BalanceAdjustment.id))
        .execution_options(yield_per=1000)
    )
    samples = select(BalanceSample).order_by(col(BalanceSample.observed_at), col(BalanceSample.id))
    if since is not None:
        samples = samples.where(col(BalanceSample.observed_at) > since)
    with reading(engine) as db:

        def adjustment_records() -> Iterator[dict[str, str | int | None]]:
            for adjustment, session_id in db.exec(adjustments):
                counts["adjustments"] += 1
                values = adjustment.model_dump()
                values["session_id"] = session_id
                yield {name: _text(values[name]) for name in ADJUSTMENT_FIELDS}

        def sample_records() -> Iterator[dict[str, str | int | None]]:
            for sample in db.exec(samples.execution_options(yield_per=5000)):
                counts["samples"] += 1
                values = sample.model_dump()
                yield {name: _text(values[name]) for name in SAMPLE_FIELDS}

        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
            writer.writeheader()
            for record in adjustment_records():
                writer.writerow({"record": "adjustment", **record})
            for record in sample_records():
                writer.writerow({"record": "sample", **record})
        else:
            out.write("{")
            for index, (name, records) in enumerate(
                (("adjustments", adjustment_records()), ("samples", sample_records()))
            ):
                out.write(f'{", " if index else ""}"{name}": [')
                for n, record in enumerate(records):
                    out.write((",\n  " if n else "\n  ") + json.dumps(record))
                out.write("\n]")
            out.write("}\n")
    return counts


def _text(value: object) -> str | int | None:
    if isinstance(value, Decimal):
        return canonical(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value  # type: ignore[return-value]
