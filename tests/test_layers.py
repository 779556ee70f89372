"""The package's layers: imports only go downward and never in a circle.

core (``technob_fx/core``) < stages (``technob_fx/stages``) < the applications on top of them
(``technob_fx/synth``, ``technob_fx/blend``, ``technob_fx/report``, ``technob_fx/catalog`` and the
top-level ``bridge`` package) < the CLI and the demo. Every import counts, also one inside a
function; ``if TYPE_CHECKING:`` imports count for the layers but not for circles (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("technob_fx", "bridge")

#: group -> rank. A module may import its own group and any group of lower rank.
RANKS = {
    "core": 0,
    "stages": 1,
    "synth": 2, "blend": 2, "report": 2, "catalog": 2, "bridge": 2,
    "cli": 3, "demo": 3,
}  # fmt: skip
#: Imports allowed between two groups of the same rank: (importer, imported).
ALLOWED_ACROSS = {
    ("report", "bridge"),  # a report may show what the DAW export will write
    ("catalog", "bridge"),  # DJ-software exports reuse the bridge's grid/cue writers
    ("blend", "bridge"),  # the generator writes its MIDI with the one SMF builder
    ("cli", "demo"),  # `technob demo` runs the demo
}


def group_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "bridge":
        return "bridge"
    if parts[0] != "technob_fx":
        return None
    if len(parts) == 1:
        return None  # the package facade: lazy names only
    if parts[1] == "__main__":
        return "cli"
    if parts[1] == "preset_files":
        return "core"
    return parts[1] if parts[1] in RANKS else "?" + parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    p = ROOT.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def imports_of(path: Path) -> list[tuple[str, bool, int]]:
    """``(imported module, only under TYPE_CHECKING, line)`` for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    is_pkg = path.name == "__init__.py"
    base = me.split(".") if is_pkg else me.split(".")[:-1]
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                for n in ast.walk(sub):
                    typing_only.add(id(n))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append((alias.name, id(node) in typing_only, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(up + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                name = sub if _is_module(sub) else target
                out.append((name, id(node) in typing_only, node.lineno))
    return [(m, t, ln) for m, t, ln in out if m.split(".")[0] in PACKAGES]


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def test_every_module_is_in_a_known_layer():
    unknown = sorted(m for m in all_modules() if group_of(m) is not None and group_of(m) not in RANKS)
    assert not unknown, f"modules outside the known layers (add the folder to RANKS): {unknown}"


def test_imports_only_go_down():
    bad = []
    for mod, path in all_modules().items():
        g = group_of(mod)
        if g is None:
            continue
        for target, _typing, line in imports_of(path):
            h = group_of(target)
            if h is None or h == g:
                continue
            if RANKS[h] < RANKS[g] or (g, h) in ALLOWED_ACROSS:
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line}: {g} imports {h} ({target})")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    for mod, path in all_modules().items():
        graph[mod] = {t for t, typing_only, _ in imports_of(path) if not typing_only and t != mod}
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    # a package importing its own submodules (re-exports in __init__) is not a circle
    real = [c for c in cycles if not all(x.startswith(min(c, key=len) + ".") or x == min(c, key=len) for x in c)]
    assert not real, f"import circles: {real}"


@pytest.mark.parametrize("module", ["technob_fx.core", "technob_fx.stages"])
def test_lower_layers_do_not_name_higher_ones_in_strings(module):
    """Lazy imports by string (registries) are allowed only into stages, never into the CLI,
    demo or bridge, from the core and the stages."""
    folder = ROOT.joinpath(*module.split("."))
    bad = []
    for p in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                s = node.value
                if s.startswith(("technob_fx.cli", "technob_fx.demo", "bridge.")) and " " not in s:
                    bad.append(f"{p.relative_to(ROOT)}: {s!r}")
    assert not bad, "\n".join(bad)
