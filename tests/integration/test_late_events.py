"""Late events change earlier answers: a lock re-classified, a CSAT answer before its survey,
a rename in the directory, a header row for every report over a simulated month."""
import csv
import io
import re
from pathlib import Path

import pytest

from convoflow.tools import simulate
from convoflow.contract.export_types import EXPORT_TYPES

# The seed article (Sparkcentral's "Data Exports" page), kept in the repository for its header tables.
SEED = Path(__file__).resolve().parents[1] / "reference" / "seed" / "sparkcentral-data-exports.txt"


def ev(eid, typ, at, **fields):
    return {"event_id": eid, "type": typ, "occurred_at": f"2024-07-18T{at}Z", **fields}


def rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


@pytest.fixture(scope="module")
def worker(deployment):
    deployment.start_worker()
    return deployment


def agent_row(d, agent_id):
    result, body = d.export("agent_metrics", "UTC", "2024-07-18", "2024-07-18", as_of="2024-07-19T00:00:00Z")
    assert result["status"] == "completed", result
    return next(r for r in rows(body) if r["User ID"] == agent_id)


def test_late_outbound_reclassifies_a_lock_session(worker):
    d = worker
    base = dict(conversation_id="late-c1")
    d.publish([
        ev("late-1", "message.created", "10:00:00", message_id="late-m1", channel_id="ch", contact_profile_id="ct",
           direction="INBOUND", message_type="TEXT", **base),
        ev("late-2", "lock.acquired", "10:01:00", lock_id="late-l1", agent_id="late-a1", team_id="late-t1", **base),
        ev("late-3", "lock.released", "10:05:00", lock_id="late-l1", agent_id="late-a1", **base),
    ])
    before = agent_row(d, "late-a1")
    assert (before["Cherry-Picking Time (s)"], before["Handle Time (s)"]) == ("240", "0")
    d.publish([ev("late-4", "message.created", "10:03:00", message_id="late-m2", channel_id="ch", contact_profile_id="ct",
                  direction="OUTBOUND", message_type="TEXT", agent_id="late-a1", team_id="late-t1", **base)])
    after = agent_row(d, "late-a1")
    assert (after["Cherry-Picking Time (s)"], after["Handle Time (s)"], after["Replies"]) == ("0", "240", "1")
    assert after["Avg. Handle Time (s)"] == "240.00"


def test_csat_answer_before_its_survey_is_attributed(worker):
    d = worker
    base = dict(conversation_id="late-c2")
    d.publish([
        ev("late-10", "message.created", "11:00:00", message_id="late-m10", channel_id="ch", contact_profile_id="ct",
           direction="INBOUND", message_type="TEXT", **base),
        ev("late-11", "csat.answered", "11:30:00", survey_id="late-s1", completed_status="COMPLETED", score=4, **base),
    ])
    result, body = d.export("agent_metrics", "UTC", "2024-07-18", "2024-07-18", as_of="2024-07-19T00:00:00Z")
    assert "late-a2" not in {r["User ID"] for r in rows(body)}
    d.publish([ev("late-12", "csat.sent", "11:20:00", survey_id="late-s1", agent_id="late-a2", team_id="late-t2", **base)])
    assert agent_row(d, "late-a2")["CSAT with Score 4"] == "1"


def test_directory_rename_shows_in_the_next_report(worker):
    d = worker
    base = dict(conversation_id="late-c3")
    d.publish([
        ev("late-20", "agent.upserted", "09:00:00", agent_id="late-a3", name="Old Name", email="a3@example.com"),
        ev("late-21", "message.created", "12:00:00", message_id="late-m20", channel_id="ch", contact_profile_id="ct",
           direction="OUTBOUND", message_type="TEXT", agent_id="late-a3", **base),
        ev("late-22", "topic.upserted", "09:00:00", topic_id="late-tp1", name="Billing"),
        ev("late-23", "topic.applied", "12:01:00", topic_id="late-tp1", agent_id="late-a3", **base),
    ])
    assert agent_row(d, "late-a3")["User Name"] == "Old Name"
    result, body = d.export("topics", "UTC", "2024-07-18", "2024-07-18")
    assert next(r for r in rows(body) if r["Topic ID"] == "late-tp1")["Active"] == "true"
    d.publish([
        ev("late-24", "agent.upserted", "13:00:00", agent_id="late-a3", name="New Name"),
        ev("late-25", "topic.deleted", "13:00:00", topic_id="late-tp1"),
    ])
    renamed = agent_row(d, "late-a3")
    assert (renamed["User Name"], renamed["User Email Address"]) == ("New Name", "")  # an upsert replaces every field
    result, body = d.export("messages", "UTC", "2024-07-18", "2024-07-18")
    assert next(r for r in rows(body) if r["Message ID"] == "late-m20")["Agent Name"] == "New Name"
    result, body = d.export("topics", "UTC", "2024-07-18", "2024-07-18")
    topic = next(r for r in rows(body) if r["Topic ID"] == "late-tp1")
    assert (topic["Topic Name"], topic["Active"]) == ("Billing", "false")


def seed_headers() -> list[list[str]]:
    """Every header table of the seed article, in its order."""
    tables, current = [], None
    for line in SEED.read_text().splitlines():
        if line.startswith("Header | Description"):
            current = []
            tables.append(current)
        elif current is not None and line.startswith("---|"):
            continue
        elif current is not None and re.match(r"^[^|]+ \|", line):
            current.append(line.split(" |", 1)[0])
        elif current is not None and line and not line.startswith(("|", "The type")) and "|" not in line:
            if line.startswith("This export") or line.startswith("Can't find"):
                current = None
        elif current is not None and line.endswith(" |"):
            current.append(line[:-2])
    return tables


def test_all_twelve_reports_over_a_month_have_the_seed_headers(worker):
    d = worker
    d.publish(simulate.generate(seed=41, agents=6, teams=2, conversations=120, days=30, start="2024-06-01T00:00:00Z"))
    expected = seed_headers()
    assert len(expected) == 12
    order = ["conversations_resolved", "conversations_open", "messages", "teams", "contacts", "topics", "tags",
             "agent_presence", "agent_metrics", "agent_responses", "virtual_agents", "contact_attributes"]
    assert sorted(order) == sorted(EXPORT_TYPES)
    for export_type, header in zip(order, expected):
        result, body = d.export(export_type, "Europe/Amsterdam", "2024-06-01", "2024-06-30")
        assert result["status"] == "completed", result
        assert next(csv.reader(io.StringIO(body.decode()))) == header, export_type
        assert result["rows"] > 0, export_type
