"""The asset chart's arithmetic: one value per column of time, marks where entries fall, round time ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from balance_tui.store.history import HistoryPoint
from balance_tui.store.tables import LedgerEntryRecord
from balance_tui.tui.chart import column_of, columns, mark_line, time_labels

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
D = Decimal


def point(minutes: float, total: str) -> HistoryPoint:
    return HistoryPoint(T0 + timedelta(minutes=minutes), D(total), D(0), "ws")


def entry(minutes: float, kind: str) -> LedgerEntryRecord:
    return LedgerEntryRecord(
        ledger_id=f"L{minutes}{kind}", ref_id="R", occurred_at=T0 + timedelta(minutes=minutes), type=kind,
        subtype="", category=kind, asset="BTC", wallet_type="spot", wallet_id="main", amount=D(1), fee=D(0),
        balance=D(1),
    )  # fmt: skip


def test_each_column_holds_the_balance_at_its_end_carried_forward_from_the_last_point() -> None:
    points = [point(0, "1"), point(25, "2"), point(30, "3"), point(59, "4")]
    # Ten columns of 6 minutes over 0..60: the points at 25 and 30 fall in columns 4 and 5.
    assert columns(points, T0, T0 + timedelta(minutes=60), 10) == [D(v) for v in "1111233334"]
    assert columns([point(0, "4")], T0, T0, 3) == [D(4)] * 3  # one moment: it fills the width
    assert columns([], T0, T0 + timedelta(hours=1), 10) == []


def test_an_entry_falls_in_the_column_of_its_time_and_the_most_telling_mark_wins() -> None:
    end = T0 + timedelta(minutes=60)
    assert [column_of(T0 + timedelta(minutes=m), T0, end, 10) for m in (0, 5.9, 6, 59.9, 60)] == [0, 0, 1, 9, 9]
    assert column_of(T0 - timedelta(seconds=1), T0, end, 10) is None
    line = mark_line([entry(1, "trade"), entry(2, "deposit"), entry(20, "staking"), entry(59, "withdrawal"),
                      entry(58, "deposit")], T0, end, 10)  # fmt: skip
    assert "".join(mark or "·" for mark in line) == "▲··●·····▼"


def test_time_ticks_fall_on_round_clock_times_with_room_for_each_label() -> None:
    start = T0 - timedelta(hours=23, minutes=10)  # 12:50 the day before
    ticks, labels = time_labels(start, T0, 120)
    assert labels.split() == ["15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"]  # 2 h: 10
    assert ticks[-1] == 119 and labels.endswith("12:00")  # at the end, as far right as it fits
    assert all(b - a >= 11 for a, b in pairwise(ticks))  # 5 characters and a gap of 6
    ticks, labels = time_labels(T0, T0 + timedelta(seconds=40), 100)
    assert labels.split() == ["12:00:00", "12:00:10", "12:00:20", "12:00:30", "12:00:40"]  # 5 s: 12.5 columns
    week = time_labels(T0 - timedelta(days=7), T0, 100)[1].split()
    assert week == ["11-14", "11-15", "11-16", "11-17", "11-18", "11-19", "11-20"]  # a day: 14 columns
    assert time_labels(T0, T0, 30) == ([29], f"{'12:00:00':>30}")
