"""Timestamps of the contract: ``parse_time``, RFC 3339 -> int microseconds since the epoch (UTC).

The grammar is the event contract's (``convoflow/contract/events.py``, "Timestamps"). It lives in a
module of its own because the state rules (``tables/``), the reports (``exporters/``) and the worker
use it without the rest of the contract.
"""
from __future__ import annotations

import re

__all__ = ["parse_time"]

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
).fullmatch

# days before month m (1-based) in a common year
_DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_BAD_FORMAT = (
    "not RFC 3339 (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM)"
)

# offset text -> µs to add to the local time to get UTC (every valid offset)
_OFFSET_US: dict[str, int] = {"Z": 0, "z": 0}
for _h in range(24):
    for _m in range(60):
        _OFFSET_US[f"+{_h:02d}:{_m:02d}"] = -(_h * 3600 + _m * 60) * 1_000_000
        _OFFSET_US[f"-{_h:02d}:{_m:02d}"] = (_h * 3600 + _m * 60) * 1_000_000
del _h, _m

# Validated pieces of timestamps, so that a timestamp of an hour and an ending seen before is four
# dict lookups: the text of the local hour ("YYYY-MM-DD?HH:") -> µs since the epoch, the minutes
# ("MM:") and seconds ("SS") -> µs, and the ending (".fraction" and offset, or the offset alone) ->
# µs to add. The grammar is exactly a valid hour, minutes, seconds and ending one after the other,
# so a string made of four known pieces is valid. Event times cluster (a month has 720 hours;
# millisecond fractions have 1,000 endings per offset); the caches of hours and endings are plain
# dicts, safe under the GIL, each cleared when it reaches _CACHE_MAX entries.
_HOURS: dict[str, int] = {}
_MINUTES: dict[str, int] = {f"{n:02d}:": n * 60_000_000 for n in range(60)}
_SECONDS: dict[str, int] = {f"{n:02d}": n * 1_000_000 for n in range(60)}
_ENDINGS: dict[str, int] = {}
_CACHE_MAX = 8192


def _hour_us(k: str) -> int:
    """Validate and convert 'YYYY-MM-DD?HH' (digits already checked)."""
    y = int(k[0:4])
    mo = int(k[5:7])
    d = int(k[8:10])
    h = int(k[11:13])
    if y == 0:
        raise ValueError("year 0000 out of range")
    if not 1 <= mo <= 12:
        raise ValueError(f"month {k[5:7]} out of range")
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= d <= _DAYS_IN_MONTH[mo] + (leap and mo == 2):
        raise ValueError(f"day {k[8:10]} out of range for {k[0:7]}")
    if h > 23:
        raise ValueError(f"hour {k[11:13]} out of range")
    y1 = y - 1
    days = (
        y1 * 365 + y1 // 4 - y1 // 100 + y1 // 400
        + _DAYS_BEFORE_MONTH[mo] + (leap and mo > 2) + d
        - _EPOCH_ORDINAL
    )
    return (days * 86400 + h * 3600) * 1_000_000


def parse_time(s: str) -> int:
    """RFC 3339 timestamp -> integer microseconds since the Unix epoch, UTC.

    Raises ValueError for anything that is not a valid RFC 3339 date-time with
    an offset (see the module docstring for the exact grammar).
    """
    hour = _HOURS.get(s[:14])
    minute = _MINUTES.get(s[14:17])
    second = _SECONDS.get(s[17:19])
    ending = _ENDINGS.get(s[19:])
    if hour is None or minute is None or second is None or ending is None:
        return _parse(s)
    return hour + minute + second + ending


def _parse(s: str) -> int:
    """``parse_time`` of a timestamp with a piece not cached yet: checked whole, its pieces cached."""
    m = _RFC3339(s)
    if m is None:
        raise ValueError(_BAD_FORMAT)
    sec, frac, off = m.groups()
    hour = _HOURS.get(s[:14])  # a known hour with a new ending (fractions finer than a millisecond)
    if hour is None:
        hour = _hour_us(s[:13])
    minute = int(s[14:16])
    if minute > 59:
        raise ValueError(f"minute {s[14:16]} out of range")
    sec = int(sec)
    if sec > 59:
        raise ValueError(f"second {sec:02d} out of range")
    o = _OFFSET_US.get(off)
    if o is None:
        raise ValueError(f"offset {off} out of range")
    ending = o
    if frac is not None:
        if len(frac) >= 6:
            ending += int(frac[:6])
        else:
            ending += int(frac) * 10 ** (6 - len(frac))
    for cache, key, value in ((_HOURS, s[:14], hour), (_ENDINGS, s[19:], ending)):
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = value
    return hour + minute * 60_000_000 + sec * 1_000_000 + ending
