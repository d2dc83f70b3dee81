from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from balance_tui.store import sessions
from balance_tui.store.migrate import upgrade
from balance_tui.store.tables import SessionStatus, TradingSession

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    upgrade(engine)
    return engine


def test_first_start_opens_a_session(migrated: Engine) -> None:
    opened = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    assert not opened.resumed
    assert (opened.session.exchange, opened.session.mode, opened.session.status) == (
        "sim",
        "paper",
        SessionStatus.ACTIVE,
    )
    assert opened.session.started_at == T0


def test_a_restart_resumes_the_active_session(migrated: Engine) -> None:
    first = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    again = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(hours=1))
    assert again.resumed
    assert again.session.id == first.session.id
    assert again.session.started_at == T0


def test_a_clean_exit_closes_it_and_the_next_start_opens_a_new_one(migrated: Engine) -> None:
    first = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    sessions.close(migrated, first.session, now=T0 + timedelta(minutes=5))
    with Session(migrated) as db:
        row = db.exec(select(TradingSession)).one()
    assert row.status == SessionStatus.CLOSED
    assert row.ended_at == T0 + timedelta(minutes=5)
    second = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0 + timedelta(minutes=6))
    assert not second.resumed and second.session.id != first.session.id


def test_sessions_are_per_exchange(migrated: Engine) -> None:
    sim = sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=T0)
    live = sessions.resume_or_start(migrated, exchange="kraken", mode="live", now=T0)
    assert sim.session.id != live.session.id and not live.resumed


def test_naive_times_are_refused(migrated: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        sessions.resume_or_start(migrated, exchange="sim", mode="paper", now=datetime(2026, 1, 1))
