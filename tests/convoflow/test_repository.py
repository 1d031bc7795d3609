"""The repository is self-contained: no code, test or doc reads or cites a path outside it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", ".kafka", "data", "exports", "test-artifacts", "node_modules", "__pycache__",
             ".hypothesis", ".pytest_cache"}
SUFFIXES = {".py", ".md", ".sh", ".toml", ".yaml", ".yml", ".json", ".txt", ".cfg", ".ini", ""}
# An absolute path into this machine's work area, or into the specification folder beside the repository.
OUTSIDE = re.compile(r"/work/|\bshared/(?:seed|spec)\b|\.\./shared\b")


def files():
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in SUFFIXES or path.name in {"Makefile", "Dockerfile", "run"}):
            yield path, rel


def test_nothing_refers_to_a_path_outside_the_repository():
    found = []
    for path, rel in files():
        if rel == Path(__file__).relative_to(ROOT):
            continue
        for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{no}: {line.strip()[:120]}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_seed_copy_the_header_tests_read_is_in_the_repository():
    seed = ROOT / "tests" / "reference" / "seed" / "sparkcentral-data-exports.txt"
    assert seed.read_text(encoding="utf-8").count("Header | Description") == 12
