"""An agent's presence changes, kept as facts by event_id; intervals are derived.

Stored per agent and UTC day of the change, ``<agent_id>|<day>``, as
``{event_id: [t, state, away_state]}``, so that a change rewrites one day's
facts, not the agent's whole history. Readers merge an agent's days
(``agent_of``; a dict union) before deriving intervals.
"""
from __future__ import annotations


DAY_US = 86_400_000_000


def day_key(agent_id: str, t: int) -> str:
    """The stored key of the agent's UTC day of time ``t``."""
    return key_of_day(agent_id, t // DAY_US)


def key_of_day(agent_id: str, day: int) -> str:
    """The stored key of an agent's UTC day (``day``: days since the epoch)."""
    return f"{agent_id}|{day:06d}"


def agent_of(key: str) -> str:
    """The agent of a stored key (``<agent_id>|<day>``; a bare agent id is its own)."""
    return key.rsplit("|", 1)[0] if "|" in key else key


def apply(state: dict, event: dict) -> bool:
    eid = event["event_id"]
    if eid in state:
        return False
    # The away state names an AWAY period only; an empty name is no name.
    away = (event.get("away_state") or None) if event["state"] == "AWAY" else None
    state[eid] = [event["t"], event["state"], away]
    return True


def intervals(state: dict) -> list[tuple[int, int | None, str, str | None]]:
    """(from, to or None while ongoing, state, away_state) for every interval, OFFLINE included.

    A change repeating the current state and away state is ignored; an interval
    whose next change has the same time is dropped.
    """
    kept = []
    for change in _in_order(state):
        _, _, now, away = change
        if kept and kept[-1][2] == now and kept[-1][3] == away:
            continue  # the same state again
        kept.append(change)
    result = []
    for i, (t, _, now, away) in enumerate(kept):
        end = kept[i + 1][0] if i + 1 < len(kept) else None
        if end is not None and end == t:
            continue
        result.append((t, end, now, away))
    return result


def _in_order(state: dict) -> list[tuple[int, str, str, str | None]]:
    """(t, event_id, state, away_state) of every change, in time order (the event id orders a tie)."""
    return sorted([(t, eid, now, away) for eid, (t, now, away) in state.items()])


def available_away(state: dict, range_start: int, range_end: int, as_of: int) -> tuple[int, int, bool]:
    """(available µs, away µs, any such interval) of the AVAILABLE and AWAY intervals that meet
    [range_start, range_end), an ongoing one ending at as_of: what ``intervals``, ``clipped_end`` and
    ``overlaps`` give, in one pass without the intervals (an agent_metrics export reads every agent)."""
    available = away = 0
    present = False
    start = kind = away_state = None  # the interval under way: from its change's time, in its state
    # An agent has hundreds of changes a month: the loop compares in place of max() and min() calls.
    for t, _, state_now, away_now in _in_order(state):
        if start is not None:
            if state_now == kind and away_now == away_state:
                continue  # the same state again
            if t != start and (kind == "AVAILABLE" or kind == "AWAY"):
                lo = start if start > range_start else range_start
                hi = t if t < range_end else range_end
                if lo < hi:
                    present = True
                    if kind == "AVAILABLE":
                        available += hi - lo
                    else:
                        away += hi - lo
        start, kind, away_state = t, state_now, away_now
    if kind == "AVAILABLE" or kind == "AWAY":
        stop = max(start, as_of)
        if overlaps(start, stop, range_start, range_end):
            present = True
            overlap = max(0, min(stop, range_end) - max(start, range_start))
            if kind == "AVAILABLE":
                available += overlap
            else:
                away += overlap
    return available, away, present


def clipped_end(start: int, end: int | None, as_of: int) -> int:
    """Where an interval ends for durations: its end, or as_of while ongoing (never before its start)."""
    return end if end is not None else max(start, as_of)


def overlaps(start: int, until: int, range_start: int, range_end: int) -> bool:
    """Does [start, until) share an instant with the range? An empty interval (ongoing, started at
    or after as_of) counts when its start is in the range."""
    if until == start:
        return range_start <= start < range_end
    return max(start, range_start) < min(until, range_end)
