"""tables/presence.py: the one-pass Available/Away sums agree with the intervals they come from."""
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.exporters import people
from convoflow.tables import presence

STATES = ["AVAILABLE", "AWAY", "OFFLINE", "BUSY"]

changes = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3),  # event ids: ties in time are ordered by them
    st.tuples(st.integers(0, 40), st.sampled_from(STATES), st.sampled_from([None, "lunch", "meeting"])),
    max_size=12,
)


def by_intervals(state: dict, range_start: int, range_end: int, as_of: int) -> tuple[int, int, bool]:
    """The same sums from the intervals, as an explanation lists them (exporters.people.presence_overlaps)."""
    ctx = SimpleNamespace(start_us=range_start, end_us=range_end, as_of_us=as_of)
    overlaps = list(people.presence_overlaps(ctx, state))
    return (sum(o for _, _, kind, o in overlaps if kind == "AVAILABLE"),
            sum(o for _, _, kind, o in overlaps if kind == "AWAY"), bool(overlaps))


@settings(max_examples=500)
@given(changes, st.integers(-5, 45), st.integers(0, 30), st.integers(-5, 50))
def test_available_away_is_the_sum_over_the_intervals(raw, range_start, length, as_of):
    state = {eid: [t, now, away if now == "AWAY" else None] for eid, (t, now, away) in raw.items()}
    expected = by_intervals(state, range_start, range_start + length, as_of)
    assert presence.available_away(state, range_start, range_start + length, as_of) == expected


def test_an_ongoing_interval_ends_at_as_of_and_an_empty_one_still_counts():
    state = {"a": [10, "AVAILABLE", None], "b": [20, "AWAY", "lunch"], "c": [30, "AWAY", "lunch"]}
    assert presence.available_away(state, 0, 100, 50) == (10, 30, True)  # c repeats b: away from 20 to as_of
    assert presence.available_away(state, 0, 100, 15) == (10, 0, True)  # started after as_of: empty, counted
    assert presence.available_away({"a": [10, "OFFLINE", None]}, 0, 100, 50) == (0, 0, False)


def test_a_day_key_names_the_agent_and_the_utc_day_of_the_time():
    t = presence.DAY_US * 19_905 + 86_399_999_999  # 2024-07-01T23:59:59.999999Z
    assert presence.day_key("a-1", t) == "a-1|019905" == presence.key_of_day("a-1", 19_905)
    assert presence.day_key("a-1", t + 1) == "a-1|019906"
