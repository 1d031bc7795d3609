"""The dashboard on a live feed (`convoflow simulate --live`) in a real headless Chromium: `/` leads to it,
it shows today by default, its day can be chosen, and its numbers move while you watch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

NUMBERS = """() => [
  ...["queue-new", "queue-pending", "queue-oldest-age", "responses", "frt-avg"].map(id => document.getElementById(id).textContent),
  ...[...document.querySelectorAll("#agents td[data-col], #teams td[data-col]")].map(td => td.textContent),
]"""


def url(worker, path: str) -> str:
    return f"http://127.0.0.1:{worker.port}{path}"


@pytest.fixture(scope="module")
def live(ui_deployment):
    """A worker fed by the live feed: yesterday and today so far at once (UTC), then in real time. Agent a-1 of
    the simulator never logs off on a simulated day's last shift, so somebody's presence time always runs."""
    d = ui_deployment
    feed = subprocess.Popen(
        [sys.executable, "-m", "convoflow.cli", "simulate", "--live", "--rate", "30", "--agents", "6", "--seed", "11",
         "--backfill", "1", "--broker", d.settings.broker, "--topic-prefix", d.prefix, "--partitions",
         str(d.partitions)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    yield d
    feed.send_signal(signal.SIGTERM)
    _, err = feed.communicate(timeout=30)
    assert feed.returncode == 0 and b"live: stopped; published" in err, err.decode()[-2000:]


def today_utc() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def test_root_leads_to_the_dashboard_of_today(live, page):
    w = live.workers[0]
    page.goto(url(w, "/"))
    assert page.url.split("?")[0].endswith("/dashboard")
    assert page.input_value("#date") == today_utc()
    page.wait_for_selector("body[data-updates]", timeout=60_000)
    assert page.get_attribute("body", "data-date") == today_utc()


def test_two_screenshots_ten_seconds_apart_differ_in_their_numbers(live, page, artifacts):
    w = live.workers[0]
    page.goto(url(w, "/dashboard?refresh=1"))
    # the backfill is in once today's agents are shown
    page.wait_for_function("document.querySelectorAll('#agents tbody tr[data-id]').length > 0", timeout=180_000)
    page.wait_for_function("Number(document.body.dataset.updates) >= 2", timeout=30_000)
    before = page.evaluate(NUMBERS)
    first = page.screenshot(path=str(artifacts / "dashboard-live-1.png"), full_page=True)
    updates = int(page.get_attribute("body", "data-updates"))
    page.wait_for_timeout(10_000)
    page.wait_for_function(f"Number(document.body.dataset.updates) > {updates}", timeout=30_000)
    after = page.evaluate(NUMBERS)
    second = page.screenshot(path=str(artifacts / "dashboard-live-2.png"), full_page=True)
    assert len(before) > 10 and before != after
    assert first != second
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed, (before, after)


def test_the_date_picker_shows_another_day_and_today_again(live, page):
    w = live.workers[0]
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    page.goto(url(w, "/dashboard"))
    page.wait_for_selector("body[data-updates]", timeout=60_000)
    page.fill("#date", yesterday)
    page.dispatch_event("#date", "change")
    page.wait_for_url(f"**date={yesterday}**")
    page.wait_for_function(f"document.body.dataset.date === '{yesterday}'", timeout=60_000)
    status, body = w.get(f"/dashboard/data?tz=UTC&date={yesterday}")
    assert status == 200
    data = json.loads(body)
    assert data["date"] == yesterday and data["responses"] > 0  # yesterday was a whole simulated day
    page.wait_for_function(f"document.getElementById('responses').textContent === '{data['responses']}'",
                           timeout=30_000)
    page.click("#today")
    page.wait_for_function(f"document.body.dataset.date === '{today_utc()}'", timeout=60_000)
    assert "date=" not in page.url
    assert page.input_value("#date") == today_utc()
