"""Which co-partitioned input partitions sit out a fetch so that a partition's topics are read in step."""
from faust.types import TP

from convoflow.streams.faust_ext.alignment import Alignment

MSG0, STATUS0, LOCKS0 = TP("messages", 0), TP("status-changes", 0), TP("locks", 0)
MSG1, STATUS1 = TP("messages", 1), TP("status-changes", 1)
OTHER0 = TP("presence", 0)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def aligned(clock=None):
    a = Alignment(stall_seconds=2.0, clock=clock or Clock())
    a.add_topics(["messages", "status-changes", "locks"])
    return a


def lag_of(left: dict):
    return lambda tp: left.get(tp, 10)


ALL = {MSG0, STATUS0, LOCKS0, MSG1, STATUS1, OTHER0}


def test_a_partition_ahead_in_record_time_sits_out_until_the_others_of_its_number_catch_up():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 5_000)
    a.delivered(LOCKS0, 3_000)
    assert a.held(ALL, lag_of({})) == {STATUS0, LOCKS0}
    a.delivered(MSG0, 3_000)
    assert a.held(ALL, lag_of({})) == {STATUS0}
    a.delivered(MSG0, 6_000)
    assert a.held(ALL, lag_of({})) == {MSG0, STATUS0}  # locks is now the furthest behind
    a.delivered(LOCKS0, 6_000)
    assert a.held(ALL, lag_of({})) == {MSG0, LOCKS0}  # both at 6,000, ahead of STATUS0 at 5,000
    a.delivered(STATUS0, 6_000)
    assert a.held(ALL, lag_of({})) == set()


def test_partitions_of_other_numbers_and_topics_that_are_not_aligned_never_hold_anything_back():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS1, 9_000)  # alone for its number
    a.delivered(OTHER0, 500)  # not an aligned topic
    assert a.held(ALL, lag_of({})) == set()
    a.delivered(MSG1, 2_000)
    assert a.held(ALL, lag_of({})) == {STATUS1}


def test_the_furthest_behind_partition_is_never_held_so_reading_always_goes_on():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 1_000)
    a.delivered(LOCKS0, 2_000)
    held = a.held(ALL, lag_of({}))
    assert MSG0 not in held and STATUS0 not in held and held == {LOCKS0}


def test_a_partition_with_nothing_left_to_read_or_not_asked_for_does_not_hold_the_others_back():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 5_000)
    assert a.held(ALL, lag_of({MSG0: 0})) == set()  # messages is at its end: status goes on
    assert a.held(ALL, lag_of({MSG0: None})) == set()  # unknown
    assert a.held(ALL - {MSG0}, lag_of({})) == set()  # paused by Faust (a recovery): not asked for


def test_a_partition_whose_reading_has_not_moved_for_a_while_stops_holding_the_others_back():
    clock = Clock()
    a = aligned(clock)
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 5_000)
    clock.now += 1.5
    assert a.held(ALL, lag_of({})) == {STATUS0}
    clock.now += 1.0  # messages stuck for 2.5 s with records left (a partition whose leader is away)
    assert a.held(ALL, lag_of({})) == set()
    a.delivered(MSG0, 2_000)  # it moves again: in step again
    assert a.held(ALL, lag_of({})) == {STATUS0}


def test_a_seek_or_a_revocation_forgets_what_was_handed_over():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 5_000)
    a.forget([STATUS0])
    assert a.held(ALL, lag_of({})) == set()
    a.delivered(STATUS0, 5_000)
    a.forget()
    assert a.held(ALL, lag_of({})) == set()


def test_records_without_a_timestamp_leave_their_partition_unplaced():
    a = aligned()
    a.delivered(MSG0, 1_000)
    a.delivered(STATUS0, 5_000)
    a.delivered(STATUS0, -1)
    assert a.held(ALL, lag_of({})) == set()
