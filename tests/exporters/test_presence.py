"""agent_presence on hand-made presence states, run the way the coordinator runs a row report."""
import random

from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.request import ExportRequest
from convoflow.tables import presence
from tests.exporters.helpers import ev, make_directory, run







def context(export_type, date_from, date_to, tz="UTC", channels=(), as_of=None, dir_events=(), identifiers=None):
    req = ExportRequest("r1", export_type, tz, date_from, date_to, tuple(channels), as_of)
    ids = identifiers or {}
    return ReportContext(req, parse_time(as_of) if as_of else parse_time("2030-01-01T00:00:00Z"),
                         make_directory(dir_events), lambda c: ids.get(c, (None, None)))




def agents(events):
    states = {}
    for e in events:
        presence.apply(states.setdefault(e["agent_id"], {}), e)
    return states


def change(agent, when, state, away=None, **kw):
    return ev("presence.changed", when, agent_id=agent, state=state, away_state=away, **kw)


DIR = [ev("agent.upserted", "2024-01-01T00:00:00Z", agent_id="a1", name="Ann", email="ann@example.com")]

DAY = [
    # a1: an AWAY before R, OFFLINE, AVAILABLE across R's start, a repeated AWAY, an
    # OFFLINE gap, an AVAILABLE cut by a change at the same time, away states, ongoing at the end
    change("a1", "2024-07-17T20:00:00Z", "AWAY", "Break"),
    change("a1", "2024-07-17T22:00:00Z", "OFFLINE"),
    change("a1", "2024-07-17T23:00:00Z", "AVAILABLE"),
    change("a1", "2024-07-18T01:00:00Z", "AWAY", "Lunch"),
    change("a1", "2024-07-18T02:00:00Z", "AWAY", "Lunch"),  # repeat: ignored
    change("a1", "2024-07-18T03:00:00Z", "OFFLINE"),
    change("a1", "2024-07-18T05:00:00Z", "AVAILABLE", event_id="z1"),  # next change at the same time
    change("a1", "2024-07-18T05:00:00Z", "AWAY", "Meeting", event_id="z2"),
    change("a1", "2024-07-18T06:00:00Z", "AWAY"),  # another away state: a new interval
    change("a1", "2024-07-18T23:00:00Z", "AVAILABLE"),  # ongoing, across R's end
    # a2: an interval ending exactly at R's start and one starting exactly at R's end
    change("a2", "2024-07-17T21:00:00Z", "AWAY", "Break"),
    change("a2", "2024-07-18T00:00:00Z", "OFFLINE"),
    change("a2", "2024-07-19T00:00:00Z", "AVAILABLE"),
    # a0: sorts first; unknown to the directory; a sub-second interval
    change("a0", "2024-07-18T10:00:00Z", "AVAILABLE"),
    change("a0", "2024-07-18T10:00:00.4Z", "OFFLINE"),
    # -x: a User ID that needs spreadsheet safety
    change("-x", "2024-07-18T12:00:00Z", "AWAY", "=cmd"),
    change("-x", "2024-07-18T12:30:00Z", "OFFLINE"),
]

DAY_ROWS = [
    ["'-x", "", "", "Away", "'=cmd", "2024-07-18T12:00:00+00:00", "2024-07-18T12:30:00+00:00", "1800"],
    ["a0", "", "", "Available", "", "2024-07-18T10:00:00+00:00", "2024-07-18T10:00:00+00:00", "0"],
    ["a1", "Ann", "ann@example.com", "Available", "", "2024-07-17T23:00:00+00:00", "2024-07-18T01:00:00+00:00", "7200"],
    ["a1", "Ann", "ann@example.com", "Away", "Lunch", "2024-07-18T01:00:00+00:00", "2024-07-18T03:00:00+00:00", "7200"],
    ["a1", "Ann", "ann@example.com", "Away", "Meeting", "2024-07-18T05:00:00+00:00", "2024-07-18T06:00:00+00:00", "3600"],
    ["a1", "Ann", "ann@example.com", "Away", "", "2024-07-18T06:00:00+00:00", "2024-07-18T23:00:00+00:00", "61200"],
    # ongoing: To empty, Duration up to as_of (9015.6 s, half up), not clipped to R
    ["a1", "Ann", "ann@example.com", "Available", "", "2024-07-18T23:00:00+00:00", "", "9016"],
]


def test_intervals_crossing_the_edges_repeats_gaps_and_ongoing():
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-19T01:30:15.6Z", dir_events=DIR)
    assert run("agent_presence", ctx, [{"presence": agents(DAY)}]) == DAY_ROWS


def test_rows_do_not_depend_on_how_agents_are_spread_over_shards():
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-19T01:30:15.6Z", dir_events=DIR)
    states = agents(DAY)
    rng = random.Random(7)
    for _ in range(10):
        shards = [{"presence": {}} for _ in range(3)]
        for key, state in states.items():
            shards[rng.randrange(3)]["presence"][key] = state
        assert run("agent_presence", ctx, shards) == DAY_ROWS


def test_arrival_order_of_changes_does_not_matter():
    shuffled = list(DAY)
    random.Random(3).shuffle(shuffled)
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-19T01:30:15.6Z", dir_events=DIR)
    assert run("agent_presence", ctx, [{"presence": agents(shuffled + DAY[:4])}]) == DAY_ROWS


def test_dst_fall_back_day_is_25_hours_and_rows_follow_from_as_written():
    events = [
        change("d1", "2024-10-26T21:30:00Z", "AVAILABLE"),  # 23:30+02:00 on the 26th, before R
        change("d1", "2024-10-27T00:30:00Z", "AWAY", "Coffee"),  # 02:30+02:00
        change("d1", "2024-10-27T01:10:00Z", "AVAILABLE"),  # 02:10+01:00, after the AWAY
        change("d1", "2024-10-27T22:59:59Z", "AWAY", "Late"),  # 23:59:59+01:00, last second of R
        change("d1", "2024-10-27T23:00:00Z", "OFFLINE"),  # 00:00+01:00 on the 28th = R's end
        change("d2", "2024-10-26T21:00:00Z", "AWAY"),  # ends exactly at R's start (00:00+02:00)
        change("d2", "2024-10-26T22:00:00Z", "OFFLINE"),
        change("d2", "2024-10-27T23:00:00Z", "AVAILABLE"),  # starts exactly at R's end
    ]
    ctx = context("agent_presence", "2024-10-27", "2024-10-27", tz="Europe/Amsterdam", as_of="2024-10-28T12:00:00Z")
    assert ctx.end_us - ctx.start_us == 25 * 3600 * 1_000_000
    assert run("agent_presence", ctx, [{"presence": agents(events)}]) == [
        ["d1", "", "", "Available", "", "2024-10-26T23:30:00+02:00", "2024-10-27T02:30:00+02:00", "10800"],
        # the cells as written: 02:10+01:00 (later) comes before 02:30+02:00 (earlier)
        ["d1", "", "", "Available", "", "2024-10-27T02:10:00+01:00", "2024-10-27T23:59:59+01:00", "78599"],
        ["d1", "", "", "Away", "Coffee", "2024-10-27T02:30:00+02:00", "2024-10-27T02:10:00+01:00", "2400"],
        ["d1", "", "", "Away", "Late", "2024-10-27T23:59:59+01:00", "2024-10-28T00:00:00+01:00", "1"],
    ]


def test_ongoing_interval_ends_at_as_of():
    events = [change("a1", "2024-07-18T08:00:00Z", "AWAY", "Lunch"), change("a2", "2024-07-18T20:00:00Z", "AVAILABLE")]
    # as_of inside R: a1's ongoing interval runs to as_of; a2's starts after as_of: listed (its From is
    # in R) with Duration 0
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-18T10:00:00.5Z")
    assert run("agent_presence", ctx, [{"presence": agents(events)}]) == [
        ["a1", "", "", "Away", "Lunch", "2024-07-18T08:00:00+00:00", "", "7201"],
        ["a2", "", "", "Available", "", "2024-07-18T20:00:00+00:00", "", "0"],
    ]
    # as_of long after R: Duration is not clipped to R
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-20T08:00:00Z")
    assert run("agent_presence", ctx, [{"presence": agents(events)}]) == [
        ["a1", "", "", "Away", "Lunch", "2024-07-18T08:00:00+00:00", "", str(48 * 3600)],
        ["a2", "", "", "Available", "", "2024-07-18T20:00:00+00:00", "", str(36 * 3600)],
    ]
    # a range after the change: the ongoing interval still overlaps it
    ctx = context("agent_presence", "2024-07-19", "2024-07-19", tz="Asia/Kathmandu", as_of="2024-07-20T08:00:00Z")
    assert run("agent_presence", ctx, [{"presence": agents(events)}])[0][5:] == ["2024-07-18T13:45:00+05:45", "", str(48 * 3600)]


def test_presence_ignores_the_channel_filter_and_lists_nothing_for_offline_only():
    events = [change("a1", "2024-07-18T08:00:00Z", "AVAILABLE"), change("a1", "2024-07-18T09:00:00Z", "OFFLINE"),
              change("a3", "2024-07-18T08:00:00Z", "OFFLINE")]
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", channels=["ch-unknown"], as_of="2024-07-19T00:00:00Z")
    assert run("agent_presence", ctx, [{"presence": agents(events)}]) == [
        ["a1", "", "", "Available", "", "2024-07-18T08:00:00+00:00", "2024-07-18T09:00:00+00:00", "3600"],
    ]


def test_away_state_only_names_away_intervals():
    events = [
        change("a1", "2024-07-18T08:00:00Z", "AVAILABLE", "Lunch"),  # a name with AVAILABLE is no name
        change("a1", "2024-07-18T09:00:00Z", "AWAY", ""),  # an empty name is no name ...
        change("a1", "2024-07-18T09:30:00Z", "AWAY"),  # ... so this repeats it: ignored
        change("a1", "2024-07-18T10:00:00Z", "AWAY", "Lunch"),
        change("a1", "2024-07-18T11:00:00Z", "OFFLINE"),
    ]
    ctx = context("agent_presence", "2024-07-18", "2024-07-18", as_of="2024-07-19T00:00:00Z")
    assert [r[3:] for r in run("agent_presence", ctx, [{"presence": agents(events)}])] == [
        ["Available", "", "2024-07-18T08:00:00+00:00", "2024-07-18T09:00:00+00:00", "3600"],
        ["Away", "", "2024-07-18T09:00:00+00:00", "2024-07-18T10:00:00+00:00", "3600"],
        ["Away", "Lunch", "2024-07-18T10:00:00+00:00", "2024-07-18T11:00:00+00:00", "3600"],
    ]
