"""The repository is self-contained: no code, test or doc reads or cites a path outside it."""
import os
import re
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", ".kafka", ".kafka-cluster", "node_modules", "__pycache__", ".hypothesis", ".pytest_cache"}
SKIP_AT_TOP = {"data", "exports", "test-artifacts"}  # what `make run` and the tests write
SUFFIXES = {".py", ".md", ".sh", ".toml", ".yaml", ".yml", ".json", ".txt", ".cfg", ".ini", ""}


def outside_patterns() -> re.Pattern:
    """What names a path outside the repository: a folder beside it (``../NAME``, or its absolute
    path), as this checkout finds them, so no path is written here either."""
    parent = ROOT.parent
    siblings = sorted(p.name for p in parent.iterdir() if p.is_dir() and p != ROOT and not p.name.startswith("."))
    names = "|".join(re.escape(name) for name in siblings) or r"(?!)"
    relative = rf"\.\./(?:{names})/"
    if parent == Path(tempfile.gettempdir()).resolve():  # a scratch checkout: its neighbours are anyone's
        return re.compile(relative)
    return re.compile(rf"{relative}|{re.escape(str(parent))}/(?:{names})\b")


def files():
    # A walk that never enters a skipped folder: the broker's data dir (.kafka) changes while it runs.
    for folder, dirs, names in os.walk(ROOT):
        top = Path(folder) == ROOT
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                         and not (top and d in SKIP_AT_TOP))
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix in SUFFIXES or name in {"Makefile", "Dockerfile", "run"}:
                yield path, path.relative_to(ROOT)


def test_nothing_refers_to_a_path_outside_the_repository():
    outside, found = outside_patterns(), []
    for path, rel in files():
        if rel == Path(__file__).relative_to(ROOT):
            continue
        for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line):
                found.append(f"{rel}:{no}: {line.strip()[:120]}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_seed_copy_the_header_tests_read_is_in_the_repository():
    seed = ROOT / "tests" / "reference" / "seed" / "sparkcentral-data-exports.txt"
    assert seed.read_text(encoding="utf-8").count("Header | Description") == 12
