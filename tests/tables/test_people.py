"""Per-day records of agents and teams: totals always equal the sum of the partials they hold."""
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.tables import people
from convoflow.tables.people import BUCKETS_PER_DAY

DAY = 20_000


def partial(replies=0, handle=0, contacts=()):
    p = {}
    if replies:
        p["replies"] = replies
    if handle:
        p["handle_us"] = handle
    if contacts:
        p["contacts"] = {c: 1 for c in contacts}
    return p


def key(channel, bucket):
    return f"{channel}|{DAY * BUCKETS_PER_DAY + bucket}"


def expected_totals(latest: dict) -> dict:
    record = people.new_day()
    for cid, partials in latest.items():
        people.replace_in_day(record, cid, partials)
    return {"b": record["b"], "t": record["t"]}


partials_st = st.dictionaries(
    st.builds(key, st.sampled_from(["ch-1", "ch-2"]), st.integers(0, 3)),
    st.builds(partial, st.integers(0, 3), st.integers(0, 5), st.lists(st.sampled_from("xyz"), max_size=2)),
    max_size=3,
).map(lambda m: {k: v for k, v in m.items() if v})
updates_st = st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3"]), partials_st), max_size=12)


def test_a_replacement_moves_the_totals_and_an_empty_map_removes_them():
    record = people.new_day()
    assert people.replace_in_day(record, "c1", {key("ch-1", 0): partial(2, contacts="x")})
    assert people.replace_in_day(record, "c2", {key("ch-1", 0): partial(1, contacts="x")})
    assert record["t"]["ch-1"] == {"replies": 3, "contacts": {"x": 2}}
    assert people.replace_in_day(record, "c1", {key("ch-2", 5): partial(1)})
    assert record["b"] == {key("ch-1", 0): partial(1, contacts="x"), key("ch-2", 5): partial(1)}
    assert not people.replace_in_day(record, "c1", {key("ch-2", 5): partial(1)})
    assert people.replace_in_day(record, "c1", {}) and people.replace_in_day(record, "c2", {})
    assert record == people.new_day()


@settings(max_examples=200, deadline=None)
@given(updates=updates_st, replay_from=st.integers(0, 12))
def test_replaying_any_suffix_after_a_crash_gives_the_same_record(updates, replay_from):
    """A crash after the record was written but before the offsets were: the updates since the
    last commit arrive again, and the record ends where it would have."""
    record = people.new_day()
    latest = {}
    for cid, partials in updates:
        people.replace_in_day(record, cid, partials)
        latest[cid] = partials
    stored = people.decode_day(people.encode_day(record))
    for cid, partials in updates[min(replay_from, len(updates)):]:
        people.replace_in_day(stored, cid, partials)
    assert {"b": stored["b"], "t": stored["t"]} == expected_totals(latest)
    assert stored["c"] == {cid: p for cid, p in latest.items() if p}


@settings(max_examples=100, deadline=None)
@given(updates=updates_st)
def test_totals_do_not_depend_on_the_order_of_conversations(updates):
    latest = dict(updates)
    record = people.new_day()
    for cid, partials in reversed(list(latest.items())):
        people.replace_in_day(record, cid, partials)
    assert {"b": record["b"], "t": record["t"]} == expected_totals(latest)


def test_a_report_reads_only_the_totals_line():
    record = people.new_day()
    people.replace_in_day(record, "c1", {key("ch-1", 1): partial(1)})
    value = people.encode_day(record)
    assert people.decode_day_totals(value) == {"b": record["b"], "t": record["t"]}
    assert orjson.loads(value.split(b"\n")[1]) == {"c1": {key("ch-1", 1): partial(1)}}


def test_by_day_splits_a_map_at_utc_midnight():
    m = {key("ch-1", 95): partial(1), f"ch-1|{(DAY + 1) * BUCKETS_PER_DAY}": partial(2)}
    assert people.by_day(m) == {DAY: {key("ch-1", 95): partial(1)}, DAY + 1: {f"ch-1|{(DAY + 1) * BUCKETS_PER_DAY}": partial(2)}}


def test_agents_keep_one_record_per_day_and_teams_spread_theirs():
    assert {people.shard_of("agent:a-1", f"c{i}") for i in range(50)} == {0}
    assert len({people.shard_of("team:t-1", f"c{i}") for i in range(200)}) == people.TEAM_SHARDS
