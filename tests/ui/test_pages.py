"""The dashboard and the export page in a real headless Chromium, against a real worker on the real broker."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from convoflow.tools import simulate

AGENT_COLUMNS = ["Replies", "Resolves - With Reply", "Resolves - No Reply", "Handle Time (s)", "Avg. Handle Time (s)",
                 "Contacts Helped"]
TEAM_COLUMNS = ["Replies", "Resolves with Reply", "Resolves without Reply", "Average First Response Time",
                "Average Handle Time", "Total Handle Time", "Contacts Helped"]
CSAT = [f"CSAT with Score {k}" for k in range(1, 6)]


def afternoon_zone(now: datetime) -> tuple[str, int]:
    """A fixed-offset zone where it is about 14:00 now, and its offset in hours: "today" there is
    well under way whenever the tests run (in UTC, just after midnight, today would be empty)."""
    hours = (14 - now.hour) % 24
    if hours > 14:
        hours -= 24
    return ("UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"), hours


TZ, TZ_HOURS = afternoon_zone(datetime.now(timezone.utc))


def off_loop(fn, *args, **kwargs):
    """Run a harness call (asyncio.run inside) in another thread: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def url(worker, path: str) -> str:
    return f"http://127.0.0.1:{worker.port}{path}"


def get_json(worker, path: str):
    status, body = worker.get(path)
    assert status == 200, body[:300]
    return json.loads(body)


@pytest.fixture(scope="module")
def scenario(ui_deployment):
    """A simulated contact centre whose day is today in TZ (where it is afternoon): the dashboard shows "today"."""
    local_now = datetime.now(timezone.utc) + timedelta(hours=TZ_HOURS)
    today = local_now.date().isoformat()
    midnight = datetime.fromisoformat(f"{today}T00:00:00+00:00") - timedelta(hours=TZ_HOURS)
    start = midnight.isoformat().replace("+00:00", "Z")
    events = simulate.generate(seed=5, agents=6, teams=3, conversations=80, days=1, start=start)
    summary = off_loop(ui_deployment.publish, events)
    assert not summary.rejected
    return ui_deployment, today


def cell(page, table: str, row_id: str, column: str) -> str:
    return page.locator(f'#{table} tbody tr[data-id="{row_id}"] td[data-col="{column}"]').inner_text().strip()


def test_dashboard_shows_the_numbers_of_the_api_and_the_reports(scenario, page, artifacts):
    d, today = scenario
    w = d.workers[0]
    page.goto(url(w, f"/dashboard?tz={urllib.parse.quote(TZ)}&refresh=2"))
    page.wait_for_selector("body[data-updates]", timeout=30_000)

    # The open queue: the conversations_open report.
    _, body = off_loop(d.export, "conversations_open", TZ, today, today)
    open_rows = rows(body)
    statuses = Counter(r["Current Status"] for r in open_rows)
    assert open_rows, "the scenario must leave conversations open"
    assert page.inner_text("#queue-new") == str(statuses["NEW"])
    assert page.inner_text("#queue-pending") == str(statuses["PENDING"])
    oldest = min(open_rows, key=lambda r: datetime.fromisoformat(r["Created at"]))
    assert oldest["Conversation ID"] in page.inner_text("#queue-oldest")

    # Agents: every row of today's agent_metrics report, each equal to the lookup API's answer.
    _, body = off_loop(d.export, "agent_metrics", TZ, today, today)
    agents = rows(body)
    shown = page.locator("#agents tbody tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert shown == [a["User ID"] for a in agents]
    query = urllib.parse.urlencode({"tz": TZ, "from": today, "to": today})
    for agent in agents:
        api = get_json(w, f"/agents/{urllib.parse.quote(agent['User ID'])}/metrics?{query}")
        for column in AGENT_COLUMNS:  # presence times are live (now), the rest is fixed
            assert cell(page, "agents", agent["User ID"], column) == api[column] == agent[column], column
        csat = page.locator(f'#agents tr[data-id="{agent["User ID"]}"] td[data-col="CSAT"]').get_attribute("data-values")
        assert csat == ",".join(api[c] for c in CSAT)

    # Teams: the same, with the teams report.
    _, body = off_loop(d.export, "teams", TZ, today, today)
    teams = rows(body)
    assert teams and page.locator("#teams tbody tr[data-id]").count() == len(teams)
    for team in teams:
        api = get_json(w, f"/teams/{urllib.parse.quote(team['Team ID'])}/metrics?{query}")
        for column in TEAM_COLUMNS:
            assert cell(page, "teams", team["Team ID"], column) == api[column] == team[column], column

    # The charts: responses per hour from agent_responses; first response times agree with the teams' averages.
    _, body = off_loop(d.export, "agent_responses", TZ, today, today)
    responses = rows(body)
    assert page.inner_text("#responses") == str(len(responses))
    per_hour = Counter(int(r["To"][11:13]) for r in responses)
    bars = page.locator("#chart-hours rect.bar").evaluate_all("bs => bs.map(b => Number(b.dataset.value))")
    assert bars == [per_hour.get(h, 0) for h in range(24)]
    data = get_json(w, f"/dashboard/data?tz={urllib.parse.quote(TZ)}")
    assert data["date"] == today
    frt = data["first_response"]
    assert sum(frt["classes"]) == frt["count"] > 0
    by_team = {t["Team ID"]: t["Average First Response Time"] for t in teams}
    replying = {team_id for team_id in frt["teams"] if team_id}  # "": replies without a team
    assert replying and replying <= by_team.keys(), (replying, by_team)
    for team_id in replying:
        assert frt["teams"][team_id]["average_seconds"] == by_team[team_id], team_id
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)


def test_dashboard_updates_by_itself_when_events_arrive(scenario, page, artifacts):
    d, today = scenario
    w = d.workers[0]
    page.goto(url(w, f"/dashboard?tz={urllib.parse.quote(TZ)}&refresh=1"))
    page.wait_for_selector("body[data-updates]", timeout=30_000)
    page.evaluate("window.notReloaded = true")
    new_before = int(page.inner_text("#queue-new"))
    responses_before = int(page.inner_text("#responses"))
    now = datetime.now(timezone.utc)
    t = lambda s: (now + timedelta(seconds=s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    off_loop(d.publish, [
        {"event_id": "ui-e1", "type": "message.created", "occurred_at": t(-2), "message_id": "ui-m1",
         "conversation_id": "ui-c1", "channel_id": "ch-1", "contact_profile_id": "ui-ct", "direction": "INBOUND",
         "message_type": "TEXT", "origin": "CONTACT", "content": "Hello?"},
        {"event_id": "ui-e2", "type": "conversation.status_changed", "occurred_at": t(-1), "conversation_id": "ui-c1",
         "status": "NEW", "started_by": "CONTACT_MESSAGE", "inbound_message_id": "ui-m1"},
    ])
    page.wait_for_function(f"document.getElementById('queue-new').textContent === '{new_before + 1}'", timeout=20_000)
    assert "ui-c1" not in page.inner_text("#queue-oldest")  # the newest is not the oldest
    off_loop(d.publish, [
        {"event_id": "ui-e3", "type": "message.created", "occurred_at": t(0), "message_id": "ui-m2",
         "conversation_id": "ui-c1", "channel_id": "ch-1", "contact_profile_id": "ui-ct", "direction": "OUTBOUND",
         "message_type": "TEXT", "origin": "AGENT", "outbound_message_type": "REPLY", "agent_id": "a-1",
         "team_id": "t-1", "content": "Hi, how can I help?"},
    ])
    page.wait_for_function(f"document.getElementById('responses').textContent === '{responses_before + 1}'",
                           timeout=20_000)
    assert page.evaluate("window.notReloaded") is True
    assert int(page.get_attribute("body", "data-updates")) >= 2
    page.screenshot(path=str(artifacts / "dashboard-updated.png"), full_page=True)


def test_dashboard_rejects_an_unknown_time_zone(scenario):
    d, _ = scenario
    status, body = d.workers[0].get("/dashboard/data?tz=Mars/Olympus")
    assert status == 400 and b"unknown time zone" in body


def test_export_page_produces_the_file_the_cli_does(scenario, page, artifacts, tmp_path):
    d, today = scenario
    w = d.workers[0]
    page.goto(url(w, "/exports"))
    page.wait_for_selector("#export_type option[value=messages]", state="attached")
    page.select_option("#export_type", "messages")
    page.fill("#time_zone", "Europe/Amsterdam")
    page.fill("#date_from", today)
    page.fill("#date_to", today)
    page.fill("#channels", "ch-1, ch-2")
    page.click("#submit")
    page.wait_for_selector("#download", timeout=60_000)
    rid = page.locator("#progress strong").inner_text()
    with page.expect_download() as info:
        page.click("#download")
    downloaded = (tmp_path / "page.csv")
    info.value.save_as(str(downloaded))

    out = tmp_path / "cli.csv"
    started = time.monotonic()
    cli = subprocess.run(
        [sys.executable, "-m", "convoflow.cli", "export", "--broker", d.settings.broker, "--topic-prefix", d.prefix,
         "--partitions", str(d.partitions), "--type", "messages", "--tz", "Europe/Amsterdam", "--from", today,
         "--to", today, "--channel", "ch-2", "--channel", "ch-1", "--out", str(out), "--timeout", "60"],
        capture_output=True, timeout=90, env={**os.environ})
    assert cli.returncode == 0, cli.stderr.decode()
    assert time.monotonic() - started < 60
    assert downloaded.read_bytes() == out.read_bytes()
    assert len(rows(out.read_bytes())) > 0

    # The recent list shows it, completed, with its link.
    page.wait_for_selector(f'#recent tr[data-id="{rid}"] td[data-col="status"] .badge.completed', timeout=10_000)
    status = get_json(w, f"/exports/status/{rid}")
    assert status["status"] == "completed" and status["export_type"] == "messages"
    assert status["channels"] == ["ch-1", "ch-2"] and "file" not in status
    page.screenshot(path=str(artifacts / "exports.png"), full_page=True)


def test_export_page_shows_a_rejected_request(scenario, page, artifacts):
    d, today = scenario
    page.goto(url(d.workers[0], "/exports"))
    page.wait_for_selector("#export_type option[value=teams]", state="attached")
    page.fill("#time_zone", "Mars/Olympus")
    page.fill("#date_from", today)
    page.fill("#date_to", today)
    page.click("#submit")
    page.wait_for_selector("#error")
    assert "unknown time zone" in page.inner_text("#error")
    status, body = d.workers[0].get("/exports/status/never-requested")
    assert status == 404


def test_the_same_dashboard_from_every_worker(scenario, page, artifacts):
    """Runs last in this module: a second worker joins; both serve the deployment's numbers."""
    d, today = scenario
    off_loop(d.start_worker)
    deadline = time.monotonic() + 90
    answers = {}
    while time.monotonic() < deadline:
        assigned = [json.loads(w.get("/health")[1]).get("assigned", []) for w in d.workers]
        if all(assigned) and set(sum(assigned, [])) == set(range(d.partitions)):
            answers = {w.index: w.get("/dashboard/data?tz=Asia/Kathmandu") for w in d.workers}
            if all(status == 200 for status, _ in answers.values()):
                break
        time.sleep(0.5)
    assert answers and all(status == 200 for status, _ in answers.values()), answers

    def stable(body: bytes) -> dict:
        data = json.loads(body)
        for live in ("as_of", "seconds"):
            data.pop(live)
        for agent in data["agents"]:  # presence times run with the clock
            for column in ("Available Time (s)", "Away Time (s)", "Utilization (%)"):
                agent.pop(column)
        for item in data["queue"]["oldest_list"]:
            item.pop("waiting_seconds")
        data["queue"]["oldest"].pop("waiting_seconds")
        return data

    first, second = (stable(body) for _, body in answers.values())
    assert first == second and first["teams"] and first["agents"]
    page.goto(url(d.workers[1], "/dashboard?tz=Asia/Kathmandu"))
    page.wait_for_selector("body[data-updates]", timeout=30_000)
    assert page.inner_text("#queue-new") == str(first["queue"]["new"])
    page.screenshot(path=str(artifacts / "dashboard-second-worker.png"), full_page=True)
