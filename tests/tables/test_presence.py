"""tables/presence.py: the one-pass Available/Away sums agree with the intervals they come from."""
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.tables import presence

STATES = ["AVAILABLE", "AWAY", "OFFLINE", "BUSY"]

changes = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3),  # event ids: ties in time are ordered by them
    st.tuples(st.integers(0, 40), st.sampled_from(STATES), st.sampled_from([None, "lunch", "meeting"])),
    max_size=12,
)


def by_intervals(state: dict, range_start: int, range_end: int, as_of: int) -> tuple[int, int, bool]:
    available = away = 0
    present = False
    for start, end, kind, _ in presence.intervals(state):
        if kind not in ("AVAILABLE", "AWAY"):
            continue
        stop = presence.clipped_end(start, end, as_of)
        if presence.overlaps(start, stop, range_start, range_end):
            present = True
            overlap = max(0, min(stop, range_end) - max(start, range_start))
            if kind == "AVAILABLE":
                available += overlap
            else:
                away += overlap
    return available, away, present


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
