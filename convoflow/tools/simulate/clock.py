"""The simulation's clock: units of epoch microseconds, the start it is given, and RFC 3339 text."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

MS = 1_000
SEC = 1_000_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_start(start: str) -> int:
    """An RFC 3339 date-time (a space for the T, no zone for UTC) as epoch microseconds."""
    text = start.strip().replace(" ", "T", 1)
    if text[-1:] in "Zz":
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - EPOCH) // timedelta(microseconds=1)


_FIRST_START = parse_start("0010-01-01T00:00:00Z")  # teams are created up to a few years before the start
_LAST_END = parse_start("9999-12-24T00:00:00Z")  # the last events come up to two days after the last day


def check_start(start: str, days: int = 1) -> None:
    """ValueError with a one-line reason when ``generate`` cannot start at ``start`` for ``days`` days."""
    try:
        t = parse_start(start)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"{start!r} is not a date-time such as 2024-07-15T00:00:00Z") from None
    if t < _FIRST_START or t + days * 86_400_000_000 > _LAST_END:
        raise ValueError(f"{start!r}: the {days} simulated days must lie between 0010-01-01 and 9999-12-24")


class Timestamps:
    """RFC 3339 formatting of epoch microseconds, with a cache of dates."""

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}
        self._minutes: dict[int, str] = {}

    def std(self, t: int) -> str:
        """The common form, ``2024-07-15T09:15:02.123Z`` (fast path)."""
        m, r = divmod(t, MIN)
        p = self._minutes.get(m)
        if p is None:
            d, h, mi, _, _ = self.parts(m * MIN)
            p = self._minutes[m] = f"{d}T{h:02d}:{mi:02d}:"
        s, us = divmod(r, SEC)
        return f"{p}{s:02d}.{us // 1000:03d}Z"

    def parts(self, t: int) -> tuple[str, int, int, int, int]:
        day, r = divmod(t, DAY)
        d = self._dates.get(day)
        if d is None:
            d = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
            self._dates[day] = d
        h, r = divmod(r, HOUR)
        m, r = divmod(r, MIN)
        s, us = divmod(r, SEC)
        return d, h, m, s, us

    def ms(self, t: int, sep: str = "T", z: str = "Z") -> str:
        d, h, m, s, us = self.parts(t)
        return f"{d}{sep}{h:02d}:{m:02d}:{s:02d}.{us // 1000:03d}{z}"

    def micro(self, t: int) -> str:
        d, h, m, s, us = self.parts(t)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{us:06d}Z"

    def whole(self, t: int) -> str:
        d, h, m, s, _ = self.parts(t)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}Z"

    def offset(self, t: int, minutes: int) -> str:
        d, h, m, s, us = self.parts(t + minutes * MIN)
        sign = "+" if minutes >= 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{us // 1000:03d}{sign}{hh:02d}:{mm:02d}"
