"""How cells are written: timestamps, durations, averages, booleans, safe text, the CSV file."""
from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from zoneinfo import ZoneInfo

_UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")
_CENT = Decimal("0.01")


def timestamp(us: int | None, tz: ZoneInfo) -> str:
    """ISO 8601 in the request's zone, truncated to the second (floor), with the offset."""
    if us is None:
        return ""
    return datetime.fromtimestamp(us // 1_000_000, tz).isoformat()


HOURS_CACHED = 100_000  # about 11 years of hours per report
_EPOCH = datetime(1970, 1, 1)
_MINUTES_SECONDS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]  # "MM:SS" of each second of an hour


def timestamp_formatter(tz: ZoneInfo):
    """``timestamp`` for one zone, faster for a report's many rows: each UTC hour's offset and each
    local hour's date text are made once, and a timestamp only adds its minutes and seconds (from a table). An
    hour whose offset changes within it (or is not a whole minute) is formatted in full every time."""
    offsets: dict[int, tuple[int, str] | None] = {}
    prefixes: dict[int, str] = {}

    def hour_offset(hour: int) -> tuple[int, str] | None:
        start, end = datetime.fromtimestamp(hour * 3600, tz), datetime.fromtimestamp(hour * 3600 + 3599, tz)
        offset = start.utcoffset()
        if offset != end.utcoffset() or offset % timedelta(minutes=1):
            return None
        return offset // timedelta(seconds=1), start.isoformat()[19:]

    def ts(us: int | None) -> str:
        if us is None:
            return ""
        sec = us // 1_000_000
        hour = sec // 3600
        zone = offsets.get(hour, False)
        if zone is False:
            zone = hour_offset(hour)
            if len(offsets) < HOURS_CACHED:
                offsets[hour] = zone
        if zone is None:
            return datetime.fromtimestamp(sec, tz).isoformat()
        local_hour, rest = divmod(sec + zone[0], 3600)
        prefix = prefixes.get(local_hour)
        if prefix is None:
            prefix = (_EPOCH + timedelta(hours=local_hour)).isoformat()[:14]  # "YYYY-MM-DDTHH:"
            if len(prefixes) < HOURS_CACHED:
                prefixes[local_hour] = prefix
        return prefix + _MINUTES_SECONDS[rest] + zone[1]

    return ts


def seconds(us: int | None) -> str:
    """Whole seconds, rounded half up (halves away from zero), from exact microseconds."""
    if us is None:
        return ""
    whole = (abs(us) + 500_000) // 1_000_000
    return str(whole if us >= 0 else -whole)


def average_seconds(total_us: int, count: int) -> str:
    """Exact sum over count, in seconds with two decimals; empty over nothing."""
    if not count:
        return ""
    return str((Decimal(total_us) / Decimal(count) / Decimal(1_000_000)).quantize(_CENT, ROUND_HALF_UP))


def ratio(numerator: int | Decimal, denominator: int | Decimal, scale: int = 1) -> str:
    if not denominator:
        return ""
    return str((Decimal(numerator) * scale / Decimal(denominator)).quantize(_CENT, ROUND_HALF_UP))


def boolean(value: bool) -> str:
    return "true" if value else "false"


def text(value) -> str:
    """A text cell; one a spreadsheet would execute gets a leading quote."""
    if value is None:
        return ""
    if value.startswith(_UNSAFE_START):
        return "'" + value
    return value


def sort_key(row: list[str], cells: int) -> list[str]:
    """What orders ``row`` as the whole row would, given that its first ``cells`` cells are the
    row's identity (a conversation's ID; a message's ID, time and conversation): those cells,
    or the whole row when one of them starts with a quote, since ``text`` writes ``=x`` and
    ``'=x`` alike and two such rows are ordered by the cells after."""
    for i in range(cells):
        if row[i].startswith("'"):
            return row
    return row[:cells]


def number(value: int | None) -> str:
    return "" if value is None else str(value)


def joined(values) -> str:
    """A multi-valued cell: items joined with ';' (each already a safe text cell)."""
    return ";".join(values)


def encode(header: list[str], rows) -> bytes:
    buf = io.StringIO(newline="")
    writer = _writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _writer(f):
    return csv.writer(f, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def line_formatter():
    """row -> its CSV line (with the line end), exactly as ``write`` would write it.

    A row of two or more text cells none of which holds a comma, a quote or a line break (most
    rows) needs no quotes, and is joined as it is: some six times as fast as the csv writer,
    which writes every other row."""
    written: list[str] = []

    class Sink:  # the C writer calls write() once per row, with the whole line
        write = written.append

    writer = _writer(Sink())

    def line(row) -> str:
        try:
            text = ",".join(row)
        except TypeError:  # a cell that is not text
            text = None
        if (text is None or len(row) < 2 or text.count(",") != len(row) - 1
                or '"' in text or "\r" in text or "\n" in text):
            writer.writerow(row)
            return written.pop()
        return text + "\r\n"

    return line


WRITE_LINES = 1_000  # lines joined into one write


def write_lines(path: str, header: list[str], lines) -> int:
    """``write`` for rows already formatted as CSV lines."""
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        _writer(f).writerow(header)
        count = append_lines(f, lines)
    os.replace(tmp, path)
    return count


def append_lines(f, lines) -> int:
    """CSV lines written to the text file ``f`` a thousand at a time (a write per line was about a
    tenth of an export's merge); how many."""
    count = 0
    lines = iter(lines)
    while chunk := list(islice(lines, WRITE_LINES)):
        f.write("".join(chunk))
        count += len(chunk)
    return count


def write(path: str, header: list[str], rows) -> int:
    """Write the file atomically (temp file, then rename); return the row count."""
    tmp = f"{path}.part"
    count = 0
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = _writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    os.replace(tmp, path)
    return count
