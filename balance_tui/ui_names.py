"""What a config file may name in the UI, known without importing Textual: bindings, keys and theme names.

`load_config` checks `[keymap]` and `[ui] theme` against these, so every command (not only the TUI) refuses
a bad one and names the file. The bindings (id, default keys, the class declaring them) are read from the
TUI's source (its `Binding(..., id=...)` calls, with `ast`), only when a config has a `[keymap]`; the key
names and themes Textual brings are listed here, and tests/tui check them against the pinned Textual.
"""

from __future__ import annotations

import ast
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from itertools import combinations

THEME_DIR = files("balance_tui") / "themes"
TUI_DIR = files("balance_tui") / "tui"


@dataclass(frozen=True, slots=True)
class DeclaredBinding:
    """A `Binding(...)` of the TUI as its source declares it: where, and on which keys by default."""

    id: str
    keys: tuple[str, ...]
    owner: str  # the class declaring it (a screen, a widget or the app), or the module outside any class
    app_wide: bool  # declared on an App: active on every screen
    screens: frozenset[str]  # the outermost classes composing its owner (the owner itself if none): where it works


@cache
def bindings() -> tuple[DeclaredBinding, ...]:
    """Every Binding with an id in balance_tui/tui, for `[keymap]`: read from the TUI's source, not imported."""
    return read_bindings(TUI_DIR)


def binding_ids() -> frozenset[str]:
    return frozenset(binding.id for binding in bindings())


def read_binding_ids(directory: Traversable) -> frozenset[str]:
    return frozenset(binding.id for binding in read_bindings(directory))


def read_bindings(directory: Traversable) -> tuple[DeclaredBinding, ...]:
    """The `Binding(...)` calls with an `id=` in the modules of `directory`. The id and the key must be string
    literals, so that they can be read here; any other is refused, naming where it is."""
    calls: list[tuple[str, str, ast.Call]] = []  # file, owner, call
    bases: dict[str, set[str]] = {}
    composes: dict[str, set[str]] = {}  # class -> the names it calls: the widgets it builds among them
    for path in directory.iterdir():
        if path.name.endswith(".py"):
            tree = ast.parse(path.read_text(), path.name)
            owners = {}
            for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
                bases[cls.name] = {ast.unparse(base).partition("[")[0] for base in cls.bases}
                owners |= {id(node): cls.name for node in ast.walk(cls)}
                composes[cls.name] = {n.func.id for n in _calls(cls) if isinstance(n.func, ast.Name)} - {cls.name}
            for node in _calls(tree):
                if isinstance(node.func, ast.Name) and node.func.id == "Binding":
                    calls.append((path.name, owners.get(id(node), path.name.removesuffix(".py")), node))
    apps, pushed = _subclasses(bases, {"App"}), _subclasses(bases, {"Screen", "ModalScreen"})

    def screens(owner: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        """A screen is pushed, and works on its own; a widget works on the screens composing it."""
        outer = {name for name, built in composes.items() if owner in built and name not in apps | seen}
        if owner in pushed or not outer:
            return frozenset({owner})
        return frozenset().union(*(screens(name, seen | {owner}) for name in outer))

    declared = []
    for filename, owner, call in calls:
        arguments = {keyword.arg: keyword.value for keyword in call.keywords}
        if "id" in arguments:
            binding_id = _literal(filename, arguments["id"], "id")
            keys = _literal(filename, call.args[0] if call.args else arguments["key"], "key")
            declared.append(DeclaredBinding(binding_id, tuple(keys.split(",")), owner, owner in apps, screens(owner)))
    return tuple(declared)


def _subclasses(bases: dict[str, set[str]], roots: set[str]) -> set[str]:
    """`roots` and every class deriving from them, however indirectly (ReplayApp from BalanceApp from App)."""
    found = set(roots)
    while grown := {name for name, parents in bases.items() if parents & found} - found:
        found |= grown
    return found


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _literal(filename: str, node: ast.expr, what: str) -> str:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        raise ValueError(
            f"{filename} line {node.lineno}: a Binding {what} must be a string literal,"
            " so that [keymap] can be checked without importing the TUI"
        )
    return node.value


# textual.keys of the Textual version pyproject.toml pins: the keys that are not characters (its `Keys`, less
# the pseudo keys), and the modifiers its input parser puts before a key.
TEXTUAL_KEY_NAMES = frozenset(
    {"backspace", "delete", "down", "end", "enter", "escape", "home", "insert", "left", "pagedown", "pageup"}
    | {"return", "right", "space", "tab", "up"}
    | {f"f{n}" for n in range(1, 25)}
)
KEY_MODIFIERS = frozenset({"alt", "ctrl", "hyper", "meta", "shift", "super"})
_KEY_NAME_REPLACEMENTS = {  # textual.keys.KEY_NAME_REPLACEMENTS: Unicode's names, as Textual shortens them
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}


def character_key(character: str) -> str:
    """The name Textual gives the key that types `character` (textual.keys._character_to_key): 'slash' for '/'.
    A keymap must spell it so: Textual matches a remapped key by name, as it arrives."""
    if character.isalnum():
        return character
    try:
        key = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        key = {"\t": "tab"}.get(character, character)
    return _KEY_NAME_REPLACEMENTS.get(key, key)


_ASCII_KEYS = frozenset(character_key(chr(code)) for code in range(32, 127))


def key_problem(key: str) -> str | None:
    """Why Textual would never match `key` (one key of a `[keymap]` entry), or None. A key is a name Textual
    gives keys (`escape`, `f5`, `slash`), one character, or modifiers and one of those (`ctrl+shift+f5`)."""
    *modifiers, name = key.split("+")
    if unknown := [modifier for modifier in modifiers if modifier not in KEY_MODIFIERS]:
        return (
            f"{key!r} is not a key Textual knows: {unknown[0]!r} is not a modifier ({', '.join(sorted(KEY_MODIFIERS))})"
        )
    if len(name) == 1 and name.isprintable():
        named = character_key(name)
        return (
            None
            if named == name
            else f"Textual names the key {name!r} {named!r}: write {'+'.join([*modifiers, named])!r}"
        )
    if name in TEXTUAL_KEY_NAMES or name in _ASCII_KEYS or _names_a_character(name):
        return None
    return (
        f"{key!r} is not a key Textual knows: {name!r} is neither a character nor a key name such as "
        "'escape', 'f5' or 'slash'"
    )


def _names_a_character(name: str) -> bool:
    """`pound_sign`: the name Textual gives a character beyond ASCII."""
    try:
        character = unicodedata.lookup(name.replace("_", " "))
    except KeyError:
        return False
    return character_key(character) == name


def keymap_clashes(keymap: Mapping[str, str]) -> list[str]:
    """The bindings active together (the app's, with one screen's and its widgets') that `keymap` puts on one
    key. A key the defaults already share stays allowed: a screen's `t` going back where the app's `t` opened it."""
    declared = bindings()
    keys = {b: set(keymap[b.id].split(",")) if b.id in keymap else set(b.keys) for b in declared}
    app = [b for b in declared if b.app_wide]
    clashes = set()
    for screen in frozenset().union(*(b.screens for b in declared if not b.app_wide)):
        for first, second in combinations([*app, *(b for b in declared if screen in b.screens)], 2):
            shared = (keys[first] & keys[second]) - (set(first.keys) & set(second.keys))
            if shared and first.id != second.id:
                clashes.add((*sorted((first.id, second.id)), min(shared)))
    return [
        f"{a} and {b} would both be {key!r} where both work; give each its own key" for a, b, key in sorted(clashes)
    ]


# textual.theme.BUILTIN_THEMES of the Textual version pyproject.toml pins.
TEXTUAL_THEMES = frozenset(
    {
        "ansi-dark",
        "ansi-light",
        "atom-one-dark",
        "atom-one-light",
        "catppuccin-frappe",
        "catppuccin-latte",
        "catppuccin-macchiato",
        "catppuccin-mocha",
        "dracula",
        "flexoki",
        "gruvbox",
        "monokai",
        "nord",
        "rose-pine",
        "rose-pine-dawn",
        "rose-pine-moon",
        "solarized-dark",
        "solarized-light",
        "textual-dark",
        "textual-light",
        "tokyo-night",
    }
)


def bundled_theme_names() -> set[str]:
    """The `name` of each `themes/*.toml` (the TUI checks the rest of each file when it loads it)."""
    names = set()
    for path in THEME_DIR.iterdir():
        if path.name.endswith(".toml"):
            try:
                name = tomllib.loads(path.read_text()).get("name")
            except tomllib.TOMLDecodeError:
                continue  # the TUI refuses the file itself, naming it
            if isinstance(name, str):
                names.add(name)
    return names


def theme_names() -> set[str]:
    return bundled_theme_names() | TEXTUAL_THEMES
