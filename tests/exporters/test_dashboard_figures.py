"""The live dashboard's figures (exporters/dashboard_figures.py): first response times agree with the
teams report, and the queue and hourly figures are the rows' arithmetic."""
import random

from convoflow.tools import simulate
from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.dashboard_figures import (
    FIRST_RESPONSES, FRT_LABELS, first_response_summary, frt_class, queue_summary, responses_per_hour,
)
from convoflow.exporters.explain import find_report
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.reports import REPORTS, merge_parts, shard_part
from convoflow.exporters.request import ExportRequest
from convoflow.tables import contact
from convoflow.tables.directory import Directory
from tests.exporters.helpers import json_round_trip, run, stored
from tests.exporters.test_against_model import fed_in_batches

AS_OF = "2024-10-28T06:00:00Z"


def context(pipeline, tz: str) -> ReportContext:
    contacts = pipeline.tables["contacts"]
    req = ExportRequest("r", "teams", tz, "2024-10-26", "2024-10-27", (), AS_OF)
    return ReportContext(req, parse_time(AS_OF), Directory(pipeline.tables["directory"]),
                         lambda c: contact.identifiers(contacts.get(c)))


def test_first_response_classes_have_closed_lower_bounds():
    second = 1_000_000
    assert [frt_class(s * second) for s in (0, 59, 60, 299, 300, 899, 900, 3599, 3600, 4 * 3600 - 1, 4 * 3600)] \
        == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert len(FRT_LABELS) == 6


def test_shards_find_the_report_by_its_name():
    assert find_report(FIRST_RESPONSES.export_type) is FIRST_RESPONSES
    assert FIRST_RESPONSES.export_type not in REPORTS  # not an export a client can request


def test_first_response_times_agree_with_the_teams_report():
    events = simulate.generate(seed=13, agents=6, teams=3, conversations=120, days=2, start="2024-10-26T00:00:00Z")
    pipeline = fed_in_batches(events, random.Random(2))
    ctx = context(pipeline, "Europe/Amsterdam")
    shards = pipeline.shards(3, random.Random(3))
    parts = [json_round_trip(shard_part(FIRST_RESPONSES, ctx, (
        ("conversations", cid, stored(FIRST_RESPONSES, "conversations", state))
        for cid, state in shard.get("conversations", {}).items()))) for shard in shards]
    figures = first_response_summary([row for _, row in merge_parts(FIRST_RESPONSES, ctx, parts)])
    teams = {row["Team ID"]: row for row in (dict(zip(HEADERS["teams"], r)) for r in run("teams", ctx, shards))}
    assert len(figures["teams"]) >= 3 and set(figures["teams"]) <= set(teams)
    for team, figure in figures["teams"].items():
        assert figure["average_seconds"] == teams[team]["Average First Response Time"], team
    assert sum(figures["classes"]) == figures["count"] == sum(t["count"] for t in figures["teams"].values()) > 50


def test_first_response_summary_sums_classes_and_averages():
    rows = [{"team_id": "t-1", "count": 2, "sum_us": 90_000_000, "classes": [1, 1, 0, 0, 0, 0]},
            {"team_id": None, "count": 1, "sum_us": 30_000_000, "classes": [1, 0, 0, 0, 0, 0]}]
    got = first_response_summary(rows)
    assert got["classes"] == [2, 1, 0, 0, 0, 0] and got["count"] == 3
    assert got["average_seconds"] == "40.00"
    assert got["teams"] == {"t-1": {"count": 2, "average_seconds": "45.00"}, "": {"count": 1, "average_seconds": "30.00"}}
    assert first_response_summary([])["count"] == 0


def open_row(cid: str, status: str, created: str, team_name: str = "", team_id: str = "", channel: str = "ch-1"):
    row = dict.fromkeys(HEADERS["conversations_open"], "")
    row.update({"Conversation ID": cid, "Current Status": status, "Created at": created, "Channel": channel,
                "Last Status Change Team Name": team_name, "Last Status Change Team ID": team_id})
    return [row[h] for h in HEADERS["conversations_open"]]


def test_queue_summary_counts_by_status_and_team_and_lists_the_oldest():
    as_of = parse_time("2024-07-15T12:00:00Z")
    rows = [open_row("c-2", "PENDING", "2024-07-15T11:00:00+02:00", "Billing", "t-1"),
            open_row("c-1", "NEW", "2024-07-15T08:00:00+02:00", "", "t-2"),
            open_row("c-3", "NEW", "2024-07-15T13:30:00+02:00", "Billing", "t-1"),
            open_row("c-4", "NEW", "")]
    q = queue_summary(rows, as_of)
    assert (q["new"], q["pending"], q["open"]) == (3, 1, 4)
    assert [o["conversation_id"] for o in q["oldest_list"]] == ["c-1", "c-2", "c-3"]  # c-4 has no creation time
    assert q["oldest"]["conversation_id"] == "c-1" and q["oldest"]["waiting_seconds"] == 6 * 3600
    assert q["oldest_list"][2]["waiting_seconds"] == 30 * 60
    assert q["by_team"] == [{"team": "Billing", "new": 1, "pending": 1}, {"team": "(no team)", "new": 1, "pending": 0},
                            {"team": "t-2", "new": 1, "pending": 0}]


def test_responses_per_hour_by_the_local_hour_of_the_reply():
    to = HEADERS["agent_responses"].index("To")
    rows = []
    for when in ("2024-07-15T09:59:59+02:00", "2024-07-15T09:00:00+02:00", "2024-07-15T23:10:00+02:00", ""):
        row = [""] * len(HEADERS["agent_responses"])
        row[to] = when
        rows.append(row)
    hours = responses_per_hour(rows)
    assert len(hours) == 24 and hours[9] == 2 and hours[23] == 1 and sum(hours) == 3
