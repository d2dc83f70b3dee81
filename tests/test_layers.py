"""DESIGN's layer rules, checked on the source so a stray import fails CI, not a code review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "balance_tui"
# What each layer may import from the project (besides itself).
ALLOWED = {
    "core": set(),
    "kraken": {"core"},
    "store": {"core"},
    "sim": {"core"},
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_design_allows(layer: str) -> None:
    offences = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] == "textual":
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
            if parts[0] == "balance_tui" and len(parts) > 1 and parts[1] not in ALLOWED[layer] | {layer}:
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offences == []


def test_the_engine_and_headless_paths_load_without_textual() -> None:
    code = (
        "import sys, balance_tui.core, balance_tui.kraken.stream, balance_tui.store.sessions, "
        "balance_tui.sim, balance_tui.backend, balance_tui.headless, balance_tui.recording; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_console_draws_before_the_backend_libraries_load() -> None:
    """Start-up: the app and its main screen import none of what only the running backend needs (tui/app.py
    loads it in threads), so the first frame does not wait for it; of the store, only its stdlib-only modules."""
    code = "import sys, balance_tui.cli, balance_tui.tui.app; print(*sorted(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    libraries = {"sqlalchemy", "sqlmodel", "alembic", "psycopg", "httpx", "websockets", "uvicorn"}
    assert libraries & {name.split(".")[0] for name in loaded} == set()
    ours = {
        name for name in loaded if name.startswith(("balance_tui.backend", "balance_tui.sim", "balance_tui.store."))
    }
    assert ours == {"balance_tui.store.errors", "balance_tui.store.identity", "balance_tui.store.money"}
