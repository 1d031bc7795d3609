"""Explanations from two workers: GET /explain and `convoflow explain` give the exported cell as their
total, and the conversations they list are real ones."""
import csv
import io
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from convoflow.tools import simulate
from tests.integration.harness import BROKER, workers_running

FIRST, LAST, AS_OF, TZ = "2024-07-15", "2024-07-17", "2024-07-18T06:00:00Z", "Europe/Amsterdam"
CELLS = [
    ("agent_metrics", "User ID", "Handle Time (s)"),
    ("agent_metrics", "User ID", "Avg. Handle Time (s)"),
    ("agent_metrics", "User ID", "Utilization (%)"),
    ("teams", "Team ID", "Resolves without Reply"),
    ("teams", "Team ID", "Contacts Helped"),
    ("topics", "Topic ID", "Total Conversations"),
    ("tags", "Tag ID", "Total Contacts"),
    ("virtual_agents", "Agent ID", "Total Conversations"),
    ("contacts", "Contact Profile ID", "Number of Inbound Messages"),
]
CHANNEL = "ch-1"  # with one channel, a topic, tag or virtual agent has one row


@pytest.fixture(scope="module")
def deployment(broker, tmp_path_factory):
    with workers_running(tmp_path_factory.mktemp("explain"), workers=2) as d:
        events = simulate.generate(seed=41, agents=6, teams=2, conversations=150, days=3)
        d.publish(simulate.disorder(events, seed=4, duplicate_rate=0.1, window=200))
        yield d


def get(worker, params: dict) -> tuple[int, dict]:
    query = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(worker.request(f"/explain?{query}"), timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def exported(d, export_type) -> list[dict]:
    result, body = d.export(export_type, TZ, FIRST, LAST, channels=[CHANNEL], as_of=AS_OF)
    assert result["status"] == "completed", result
    return list(csv.DictReader(io.StringIO(body.decode())))


def params(export_type, row, column) -> dict:
    return {"type": export_type, "tz": TZ, "from": FIRST, "to": LAST, "channel": [CHANNEL], "as_of": AS_OF,
            "row": row, "column": column}


@pytest.mark.parametrize("export_type,id_column,column", CELLS)
def test_explanations_from_either_worker_add_up_to_the_exported_cell(deployment, export_type, id_column, column):
    rows = exported(deployment, export_type)
    rows = [r for r in rows if r[column] not in ("", "0", "0.00")] or rows
    assert rows, "the scenario must produce rows"
    listed = 0
    for i, row in enumerate(rows[:2]):
        worker = deployment.workers[i % 2]
        status, got = get(worker, params(export_type, row[id_column], column))
        assert status == 200, got
        assert got["total"] == row[column], (row[id_column], got)
        listed += len(got["conversations"])
        for c in got["conversations"]:
            assert set(c) >= {"conversation_id", "contribution", "counts_at", "url"}
    assert listed, "every cell chosen has contributors"
    status, one = deployment.workers[1].get(f"/conversations/{urllib.parse.quote(got['conversations'][0]['conversation_id'])}"
                                            if got["conversations"] else "/health")
    assert status == 200


def test_the_command_prints_and_writes_the_explanation(deployment, tmp_path):
    row = next(r for r in exported(deployment, "agent_metrics") if r["Handle Time (s)"] not in ("", "0"))
    worker = deployment.workers[0]
    base = [sys.executable, "-m", "convoflow.cli", "explain", "--type", "agent_metrics", "--tz", TZ, "--from", FIRST,
            "--to", LAST, "--channel", CHANNEL, "--as-of", AS_OF, "--row", row["User ID"], "--column", "Handle Time (s)",
            "--web-url", f"http://127.0.0.1:{worker.port}"]
    out = tmp_path / "explained.csv"
    done = subprocess.run(base + ["--json", "--out", str(out)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    explanation = json.loads(done.stdout)
    assert explanation["total"] == row["Handle Time (s)"]
    lines = list(csv.reader(io.StringIO(out.read_text())))
    assert lines[0][:2] == ["Conversation ID", "Contribution"]
    assert lines[-1][:2] == ["Total", row["Handle Time (s)"]]
    assert [line[0] for line in lines[1:-1]] == [c["conversation_id"] for c in explanation["conversations"]]
    printed = subprocess.run(base, capture_output=True, text=True, timeout=180)
    assert printed.returncode == 0 and printed.stdout.splitlines()[-1].split()[:2] == ["Total", row["Handle Time (s)"]]


def test_bad_cells_get_their_reason(deployment):
    worker = deployment.workers[1]
    status, got = get(worker, params("agent_metrics", "agent-1", "User Name"))
    assert status == 400 and "not an aggregate" in got["error"]
    status, got = get(worker, params("messages", "m-1", "Content"))
    assert status == 400 and "messages cannot be explained" in got["error"]
    status, got = get(worker, {**params("teams", "t-1", "Replies"), "from": "9999-12-31", "to": "9999-12-31"})
    assert status == 400 and "cannot be used" in got["error"]
    status, got = get(worker, params("teams", "no-such-team", "Replies"))
    assert status == 404 and "no row 'no-such-team'" in got["error"]
    done = subprocess.run([sys.executable, "-m", "convoflow.cli", "explain", "--type", "teams", "--tz", TZ, "--from", FIRST,
                           "--to", LAST, "--row", "t", "--column", "Nope", "--broker", BROKER][:-2],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "teams has no column 'Nope'" in done.stderr and "Traceback" not in done.stderr
