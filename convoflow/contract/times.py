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

# "YYYY-MM-DD?HH" -> µs since the epoch of that local hour (validated).
# Event times cluster (a month of events has some 720 hours), so this hits almost always;
# bounded by clearing.
_HOUR_CACHE: dict[str, int] = {}
_HOUR_CACHE_MAX = 8192


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
    m = _RFC3339(s)
    if m is None:
        raise ValueError(_BAD_FORMAT)
    sec, frac, off = m.groups()
    k = s[:13]
    base = _HOUR_CACHE.get(k)
    if base is None:
        base = _hour_us(k)
        if len(_HOUR_CACHE) >= _HOUR_CACHE_MAX:
            _HOUR_CACHE.clear()
        _HOUR_CACHE[k] = base
    minute = int(s[14:16])
    if minute > 59:
        raise ValueError(f"minute {s[14:16]} out of range")
    sec = int(sec)
    if sec > 59:
        raise ValueError(f"second {sec:02d} out of range")
    o = _OFFSET_US.get(off)
    if o is None:
        raise ValueError(f"offset {off} out of range")
    us = base + minute * 60_000_000 + sec * 1_000_000 + o
    if frac is not None:
        if len(frac) >= 6:
            us += int(frac[:6])
        else:
            us += int(frac) * 10 ** (6 - len(frac))
    return us
