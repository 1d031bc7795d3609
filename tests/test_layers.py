"""One-way layers: no module of convoflow imports from a layer above its own.

Bottom to top (a module may import its own layer and those below it):

0. ``convoflow.contract``   the event contract, topics, settings, time (convoflow/contract/)
1. ``convoflow.tables``     pure state rules (tables/)
2. ``convoflow.exporters``  pure reports (exporters/)
3. ``convoflow.streams``    the worker: agents, export engine, Faust extensions, state (streams/)
4. ``convoflow.web``        HTTP API, lookups, explanations, dashboard, export page (web/)
5. ``convoflow``            the app that wires worker and web, the CLI and the tools (convoflow/)

Every import counts, also one inside a function. The folders' old top-level import names
(``streams``, ``tables``, ``exporters``, ``web``) must not be imported at all: they are not installed,
and ``tables`` is PyTables'.
"""
from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import pytest

LAYERS = {
    "convoflow.contract": 0,
    "convoflow.tables": 1,
    "convoflow.exporters": 2,
    "convoflow.streams": 3,
    "convoflow.web": 4,
    "convoflow": 5,
}
NAMES = {0: "contract", 1: "tables", 2: "exporters", 3: "streams", 4: "web", 5: "convoflow (app, cli, tools)"}
OLD_TOP = {"streams", "tables", "exporters", "web"}


def layer_of(module: str) -> int | None:
    """The layer of a dotted name inside convoflow (the longest package prefix), else None."""
    best = None
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, found where Python finds it."""
    out = {}
    for package in LAYERS:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, f"{package} is not importable"
        base = Path(next(iter(spec.submodule_search_locations)))
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if (Path(folder) / d / "__init__.py").exists()]
            rel = Path(folder).relative_to(base).parts
            for f in files:
                if f.endswith(".py"):
                    parts = [*rel] if f == "__init__.py" else [*rel, f[:-3]]
                    out[".".join([package, *parts])] = Path(folder) / f
    return out


def imports(module: str, path: Path, known: set[str]):
    """(line, imported dotted name) of every import in the module, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                yield node.lineno, full if full in known else source


def violations(found: dict[str, Path]) -> list[str]:
    known = set(found)
    problems = []
    for module, path in sorted(found.items()):
        own = layer_of(module)
        for line, target in imports(module, path, known):
            top = target.split(".")[0]
            if top in OLD_TOP:
                problems.append(f"{module} (line {line}) imports {target}: an old top-level name; "
                                f"use convoflow.{target}")
                continue
            other = layer_of(target)
            if other is not None and own is not None and other > own:
                problems.append(f"{module} (line {line}, layer {NAMES[own]}) imports {target} "
                                f"(layer {NAMES[other]}, above it)")
    return problems


def test_every_layer_is_found():
    found = modules()
    for package in LAYERS:
        assert package in found, f"no {package}/__init__.py found"
    assert len(found) > 50, sorted(found)


def test_no_module_imports_from_a_layer_above_it():
    problems = violations(modules())
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize("module,source,expected", [
    ("convoflow.tables.x", "from convoflow.exporters.request import BadRequest", "above it"),
    ("convoflow.exporters.x", "def f():\n    from convoflow.web import dashboard\n", "above it"),
    ("convoflow.contract.x", "import convoflow.cli", "above it"),
    ("convoflow.streams.x", "from tables import conversation", "old top-level name"),
    ("convoflow.web.x", "from convoflow.streams.runtime import Runtime", None),
    ("convoflow.tables.x", "from convoflow.contract.times import parse_time", None),
])
def test_the_check_finds_an_upward_import(tmp_path, module, source, expected):
    path = tmp_path / "x.py"
    path.write_text(source)
    problems = violations({module: path, "convoflow.web.dashboard": path})
    problems = [p for p in problems if p.startswith(module)]
    if expected is None:
        assert not problems
    else:
        assert len(problems) == 1 and expected in problems[0], problems
