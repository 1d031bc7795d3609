"""The live feed's schedule (convoflow/tools/live.py), with a controlled clock: no broker."""
from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest

from convoflow.tools import live
from convoflow.cli import main
from convoflow.contract.config import ConfigError
from convoflow.contract.events import parse_record, topic_of
from convoflow.contract.times import parse_time

DAY = date(2025, 3, 1)
HOUR_US = 3600 * 1_000_000


def test_a_day_is_valid_deterministic_and_namespaced_by_its_date():
    first = live.day_events(DAY, seed=3, rate=10, agents=6)
    again = live.day_events(DAY, seed=3, rate=10, agents=6)
    assert [e for _, e in first] == [e for _, e in again]
    times = [t for t, _ in first]
    assert times == sorted(times)
    assert all(t == parse_time(e["occurred_at"]) for t, e in first)
    for _, e in first:
        parse_record(topic_of(e["type"]), orjson.dumps(e))  # raises Rejected for an invalid event
        assert "-20250301-" in e["event_id"]
        if "conversation_id" in e:
            assert e["conversation_id"].startswith("c-20250301-")
    types = {e["type"] for _, e in first}
    assert {"presence.changed", "message.created", "conversation.status_changed", "lock.acquired"} <= types
    assert first[0][0] >= live.day_start_us(DAY)


def test_consecutive_days_share_people_but_not_conversations():
    one = [e for _, e in live.day_events(DAY, seed=3, rate=10, agents=6)]
    two = [e for _, e in live.day_events(DAY + timedelta(days=1), seed=3, rate=10, agents=6)]

    def ids(events, field):
        return {e[field] for e in events if field in e}

    for field in ("event_id", "conversation_id", "message_id", "lock_id"):
        assert ids(one, field) and not ids(one, field) & ids(two, field), field
    assert ids(one, "agent_id") & ids(two, "agent_id")
    # different days are different days, not the same day shifted
    assert [e["type"] for e in one[:300]] != [e["type"] for e in two[:300]]


def test_the_feed_hands_out_the_past_at_once_then_each_event_at_its_time():
    feed = live.Feed(DAY, seed=3, rate=10, agents=6)
    now = live.day_start_us(DAY + timedelta(days=1)) + 10 * HOUR_US  # 10:00 on the second day
    backfill = feed.due(now)
    times = [parse_time(e["occurred_at"]) for e in backfill]
    assert times == sorted(times) and times[-1] <= now
    assert {e["event_id"][2:10] for e in backfill} == {"20250301", "20250302"}
    assert feed.days == [DAY, DAY + timedelta(days=1)]  # the third day is not generated yet

    seen = {e["event_id"] for e in backfill}
    handed = 0
    for minute in range(1, 121):
        step = feed.due(now + minute * 60 * 1_000_000)
        for e in step:
            t = parse_time(e["occurred_at"])
            assert now + (minute - 1) * 60 * 1_000_000 < t <= now + minute * 60 * 1_000_000
            assert e["event_id"] not in seen
            seen.add(e["event_id"])
        handed += len(step)
    assert handed > 20  # two busy morning hours
    nxt = feed.next_at()
    assert nxt is not None and nxt > now + 120 * 60 * 1_000_000

    # Shortly before midnight the next day is generated; its events come after midnight.
    midnight = live.day_start_us(DAY + timedelta(days=2))
    feed.due(midnight - 60 * 1_000_000)
    assert feed.days[-1] == DAY + timedelta(days=2)
    after = feed.due(midnight + HOUR_US)
    assert any(e["event_id"].startswith("e-20250303-") for e in after)


@pytest.mark.parametrize("rate, backfill", [(0, 0), (-5, 0), (5000, 0), (10, -1), (10, 400)])
def test_bad_rate_or_backfill_is_a_config_error(rate, backfill):
    with pytest.raises(ConfigError):
        live.check(rate, backfill)


def test_cli_rejects_a_bad_rate_with_exit_2(capsys):
    assert main(["simulate", "--live", "--rate", "0", "--broker", "kafka://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--rate must be more than 0" in err and "Traceback" not in err


def test_conversations_left_open_are_resolved_by_the_system_a_day_later():
    events = live.day_events(DAY, seed=3, rate=10, agents=6)
    last: dict[str, tuple[int, dict]] = {}
    for t, e in events:
        if e["type"] == "conversation.status_changed":
            last[e["conversation_id"]] = (t, e)
    assert last and all(e["status"] == "RESOLVED" for _, e in last.values())
    auto = [(t, e) for t, e in events if "-auto-" in e["event_id"]]
    assert auto  # the simulator leaves some open
    for t, e in auto:
        assert e["resolved_by"] == "SYSTEM" and e["resolve_trigger"] == "AUTO_RESOLVE"
        before = [u for u, f in events if f.get("conversation_id") == e["conversation_id"]
                  and f["type"] == "conversation.status_changed" and f is not e]
        assert before and 0 <= t - (max(before) + live.AUTO_RESOLVE_US) < 1000  # to the millisecond
        assert parse_time(e["occurred_at"]) == t
