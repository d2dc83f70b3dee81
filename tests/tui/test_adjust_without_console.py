"""`balance-tui adjust` with no console running, then a real console: it shows the adjustment (issue 11 item 3)."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import DataTable

from balance_tui import cli
from balance_tui.store import books
from balance_tui.tui.app import BalanceApp
from balance_tui.tui.sessions_screen import SessionsScreen
from tests.integration.conftest import eventually


async def test_the_next_console_continues_the_session_the_cli_wrote_to(make_config, tmp_path, capsys) -> None:
    config = make_config()
    argv = ["--config", str(tmp_path / "config.toml")]
    assert cli.main(["db", "migrate", *argv]) == 0  # a new store: adjust refuses a file that does not exist
    assert cli.main(["adjust", "USD", "7", "--reason", "wire before the console", "--key", "k1", *argv]) == 0
    assert cli.main(["adjust", "EUR", "2.5", "--set", "--reason", "new asset, set", *argv]) == 0
    out = capsys.readouterr().out
    assert "in session 1," in out and "in session 2," in out and "continuing session 1 (closed)" in out
    app = BalanceApp(config)
    async with app.run_test(size=(120, 32)) as pilot:
        await eventually(lambda: app.backend is not None and app.backend.manager.has_snapshot, what="the console")
        opened = app.backend.opened
        assert opened.continued_from is not None and opened.continued_from.id == 2 and not opened.interrupted
        figures = {b.asset: b.total for b in books.read_balances(app.backend.store, opened.session.id)}
        assert figures == {"EUR": Decimal("2.5"), "USD": Decimal(7)}
        await pilot.press("t")
        await eventually(lambda: isinstance(app.screen, SessionsScreen), what="the sessions")
        table = app.screen.query_one("#sessions", DataTable)
        await eventually(lambda: table.row_count == 3, what="all three sessions")
        rows = [[c.plain.strip() for c in table.get_row_at(i)] for i in range(3)]
        assert [r[:2] for r in rows] == [["3", "active"], ["2", "closed"], ["1", "closed"]]  # no interrupted one
        assert rows[0][6] == "#2" and rows[1][8] == "1" and rows[2][8] == "1"  # one adjustment in each CLI session
        balances = app.screen.query_one("#session-balances", DataTable)
        await eventually(lambda: balances.row_count == 2, what="the console's session balances")
        # asset, opening, latest: the console opens at the figures the CLI left
        assert [[c.plain.strip() for c in balances.get_row_at(i)][:3] for i in range(2)] == [
            ["EUR", "2.5", "2.5"],
            ["USD", "7", "7"],
        ]
        await pilot.press("escape")
        await pilot.press("q")
