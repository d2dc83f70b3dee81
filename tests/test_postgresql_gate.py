"""The PostgreSQL half of the store tests never goes missing quietly: unset, it skips and the run's summary
says how many and how to enable them; set to a server that does not answer, it is an error (CI set it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PG_SKIPPED, PG_URL_ENV

REPO = Path(__file__).resolve().parents[1]
ONE_STORE_TEST = "tests/store/test_schema.py::test_migrating_twice_is_harmless_and_downgrade_empties"


def run_pytest(pg_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PG_URL_ENV}
    env["PYTHONPATH"] = str(REPO)
    if pg_url is not None:
        env[PG_URL_ENV] = pg_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", ONE_STORE_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unset_the_postgresql_tests_skip_and_the_summary_says_so() -> None:
    run = run_pytest(None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"PostgreSQL: 1 test skipped: {PG_SKIPPED}" in run.stdout.splitlines()
    assert "1 passed, 1 skipped" in run.stdout


def test_set_to_a_server_that_does_not_answer_is_an_error_not_a_skip() -> None:
    run = run_pytest("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test")
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        f"{PG_URL_ENV}=postgresql+psycopg://postgres:***@127.0.0.1:1/test is set but the server does not answer: "
        "connection failed"
    ) in run.stdout
    assert "1 passed, 1 error" in run.stdout
    assert "PostgreSQL:" not in run.stdout and "hunter2" not in run.stdout
