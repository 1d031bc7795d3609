"""Browser tests: a real headless Chromium (Debian's ``chromium``) driven by Playwright for Python.

The session fixture installs what is missing, by itself, on a fresh machine:
``apt-get install chromium`` (as root, where apt-get exists) and
``pip install playwright`` into the running interpreter. Playwright drives the
system browser (``executable_path``); ``playwright install`` (a browser
download) is never run. Only when installing is impossible are the tests
skipped, with the reason. Screenshots go to ``test-artifacts/`` (git-ignored).
"""
from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.harness import Deployment, broker_reachable, problems_in_log
from tests.tools import run_tool

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/ui" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.ui)


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None




def ensure_browser() -> tuple[str, object]:
    """(chromium path, playwright.sync_api module), installing them if needed; pytest.skip if impossible."""
    chromium = _chromium()
    notes = []
    if chromium is None:
        if shutil.which("apt-get") and os.geteuid() == 0:
            ok, out = run_tool(["apt-get", "update", "-qq"], 600)
            if ok:
                ok, out = run_tool(["apt-get", "install", "-y", "-qq", "chromium"], 900)
            if not ok:
                notes.append(f"apt-get install chromium failed: {out[-400:]}")
        else:
            notes.append("no /usr/bin/chromium, and apt-get is unavailable or not root")
        chromium = _chromium()
    try:
        sync_api = importlib.import_module("playwright.sync_api")
    except ImportError:
        ok, out = run_tool([sys.executable, "-m", "pip", "install", "-q", "playwright>=1.40"], 600)
        if not ok:
            notes.append(f"pip install playwright failed: {out[-400:]}")
        importlib.invalidate_caches()
        try:
            sync_api = importlib.import_module("playwright.sync_api")
        except ImportError:
            sync_api = None
    if chromium is None or sync_api is None:
        pytest.skip("browser tests need Chromium and Playwright, which could not be installed: " + "; ".join(notes))
    return chromium, sync_api


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API runs an event loop in this thread while it is open, and the
    # other tests' asyncio.run() must not find it running after the browser tests.
    chromium, sync_api = ensure_browser()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def ui_deployment(tmp_path_factory):
    if not broker_reachable():
        pytest.fail("no Kafka broker: run `make kafka-up` (or `make test`, which starts one)")
    d = Deployment(tmp_path_factory.mktemp("ui"), partitions=4)
    d.start_worker()
    yield d
    d.stop()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])
