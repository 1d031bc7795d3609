"""Tests of the simulation's clock (convoflow/tools/simulate/clock.py)."""
from __future__ import annotations

import pytest

from convoflow.tools.simulate import check_start
from convoflow.tools.simulate.clock import DAY, HOUR, MIN, MS, SEC, Timestamps, parse_start

T = parse_start("2024-07-15T09:15:02.123Z")


def test_parse_start_reads_every_form_the_cli_accepts():
    assert T == 1_721_034_902_123_000
    assert parse_start("2024-07-15T11:15:02.123+02:00") == T
    assert parse_start("2024-07-15 09:15:02.123z") == T
    assert parse_start("2024-07-15T09:15:02.123") == T  # no zone: UTC
    assert parse_start("2024-07-16T00:00:00Z") - parse_start("2024-07-15T00:00:00Z") == DAY == 24 * HOUR


def test_timestamps_in_every_form():
    fmt = Timestamps()
    t = T + 456  # microseconds beyond the millisecond
    assert fmt.std(t) == "2024-07-15T09:15:02.123Z"
    assert fmt.ms(t, " ", "z") == "2024-07-15 09:15:02.123z"
    assert fmt.micro(t) == "2024-07-15T09:15:02.123456Z"
    assert fmt.whole(t) == "2024-07-15T09:15:02Z"
    assert fmt.offset(t, 120) == "2024-07-15T11:15:02.123+02:00"
    assert fmt.offset(t, -300) == "2024-07-15T04:15:02.123-05:00"
    assert fmt.std(T + 15 * HOUR) == "2024-07-16T00:15:02.123Z"  # the minute cache keeps dates apart
    assert (MIN, SEC, MS) == (60 * SEC, 1000 * MS, 1000)


def test_check_start_says_why_in_one_line():
    check_start("2024-07-15T00:00:00Z", 7)
    with pytest.raises(ValueError, match="is not a date-time"):
        check_start("yesterday")
    with pytest.raises(ValueError, match="must lie between 0010-01-01 and 9999-12-24"):
        check_start("9999-12-20T00:00:00Z", 7)
    with pytest.raises(ValueError, match="must lie between"):
        check_start("0009-12-31T00:00:00Z")
