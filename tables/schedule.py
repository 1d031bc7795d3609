"""Scheduled exports: which periods have ended, what to request for each, where the file goes.

Pure Python (no Faust, no Kafka, no clock of its own): every function takes
``now`` (UTC microseconds) as an argument, so that tests control time.

A schedule names an export type, a time zone, optional channels and how often
it runs (``every``):

- ``daily``: one file per local calendar day, ``<type>_YYYY-MM-DD.csv``, once
  the day has ended (local midnight, whatever its length: 23 or 25 hours on a
  DST day);
- ``weekly``: one file per ISO week (Monday to Sunday, local time),
  ``<type>_YYYY-Www.csv``, once the week has ended;
- ``hourly``: export requests are date-granular, so the previous local hour
  alone cannot be asked for. An hourly schedule is "the current local day so
  far, refreshed every hour": at the end of each local hour it exports the
  local day that hour belongs to, ``as_of`` the end of the hour, into
  ``<type>_YYYY-MM-DDTHH+hhmm.csv`` (the offset tells the two 02:00 hours of
  an autumn DST day apart). A snapshot of "the day so far" cannot be made
  again later, so only the most recent ended hour is ever due: hours missed
  while no worker ran are skipped (the daily file covers the whole day).

Every period ended since ``since`` (default: 7 days before now) whose file
does not exist yet is due; its request id is deterministic per (schedule,
period), so asking twice gets one export (the coordinator's ``export_log``
answers a repeated id with the first result) and a restart never produces a
period again.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from convoflow.contract.export_types import EXPORT_TYPES
from convoflow.contract.times import parse_time

EVERY = ("hourly", "daily", "weekly")
DEFAULT_SINCE = "7d"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_QUARTER_US = 15 * 60 * 1_000_000
_RELATIVE = re.compile(r"(\d+)([dh])\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")


class ScheduleError(ValueError):
    """A schedule configuration that cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class Schedule:
    export_type: str
    every: str
    time_zone: str = "UTC"
    channels: tuple[str, ...] = ()
    since: str = DEFAULT_SINCE  # "7d" / "48h" before now, a local date YYYY-MM-DD, or an RFC 3339 time
    name: str | None = None  # folder under scheduled/ (default: the export type)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def folder(self) -> str:
        return self.name or self.export_type

    @property
    def ident(self) -> str:
        """A short hash of what makes the schedule's files (not of ``since``: moving it changes nothing done)."""
        key = json.dumps([self.export_type, self.every, self.time_zone, list(self.channels), self.folder])
        return hashlib.sha1(key.encode()).hexdigest()[:8]

    def since_us(self, now_us: int) -> int:
        m = _RELATIVE.match(self.since)
        if m:
            n, unit = int(m.group(1)), m.group(2)
            return now_us - n * (86_400 if unit == "d" else 3_600) * 1_000_000
        if _DATE.match(self.since):
            return midnight_us(self.zone, date.fromisoformat(self.since))
        return parse_time(self.since)


@dataclass(frozen=True)
class Period:
    label: str  # 2024-07-15 | 2024-W29 | 2024-07-15T13+0200
    date_from: str
    date_to: str
    start_us: int  # the period's own [start, end) in UTC microseconds
    end_us: int


# ------------------------------------------------------------------ configuration


def parse_schedules(text: str) -> list[Schedule]:
    """Schedules from JSON (a list of objects); ScheduleError says which entry is wrong and why."""
    if not text or not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleError(f"schedules are not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ScheduleError("schedules must be a JSON list of objects")
    schedules = [_schedule(i, entry) for i, entry in enumerate(data)]
    seen: dict[tuple, int] = {}
    for i, s in enumerate(schedules):
        key = (s.folder, s.export_type, s.every)
        if key in seen:
            raise ScheduleError(
                f"schedule {i} writes the same files as schedule {seen[key]} "
                f"(scheduled/{s.folder}/{s.export_type}_<period>.csv): give one a distinct \"name\""
            )
        seen[key] = i
    return schedules


def _schedule(i: int, entry) -> Schedule:
    def bad(reason: str):
        raise ScheduleError(f"schedule {i}: {reason}")

    if not isinstance(entry, dict):
        bad("must be a JSON object")
    unknown = set(entry) - {"export_type", "every", "time_zone", "channels", "since", "name"}
    if unknown:
        bad(f"unknown field(s) {', '.join(sorted(unknown))}")
    etype = entry.get("export_type")
    if etype not in EXPORT_TYPES:
        bad(f"export_type must be one of {', '.join(EXPORT_TYPES)}, got {etype!r}")
    every = entry.get("every", "daily")
    if every not in EVERY:
        bad(f"every must be one of {', '.join(EVERY)}, got {every!r}")
    tz = entry.get("time_zone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        bad(f"unknown time zone {tz!r}")
    channels = entry.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
        bad("channels must be a list of channel ids")
    since = entry.get("since", DEFAULT_SINCE)
    if not isinstance(since, str):
        bad("since must be a string: 7d, 48h, a date YYYY-MM-DD or an RFC 3339 time")
    s = Schedule(etype, every, tz, tuple(sorted(set(channels))), since, entry.get("name"))
    if s.name is not None and (not isinstance(s.name, str) or not _NAME.match(s.name)):
        bad("name must be 1-40 characters of A-Z a-z 0-9 _ -")
    try:
        s.since_us(0)
    except ValueError:
        bad(f"since must be 7d, 48h, a date YYYY-MM-DD or an RFC 3339 time, got {since!r}")
    return s


def load_schedules(env_json: str | None, file_path: str | None) -> list[Schedule]:
    """Schedules from CONVOFLOW_SCHEDULES (JSON) and CONVOFLOW_SCHEDULE_FILE (a JSON file), both if given."""
    schedules = parse_schedules(env_json or "")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ScheduleError(f"cannot read the schedule file {file_path}: {exc.strerror}") from None
        schedules += parse_schedules(text)
    return parse_schedules(json.dumps([_as_dict(s) for s in schedules]))  # checks duplicates across both


def _as_dict(s: Schedule) -> dict:
    d = {"export_type": s.export_type, "every": s.every, "time_zone": s.time_zone, "channels": list(s.channels),
         "since": s.since}
    if s.name is not None:
        d["name"] = s.name
    return d


# ------------------------------------------------------------------ time


def midnight_us(zone: ZoneInfo, day: date) -> int:
    """Local midnight as UTC microseconds (where 00:00 does not exist, the day's first instant: fold=0),
    the same rule as an export request's range."""
    return _us(datetime.combine(day, time(0), tzinfo=zone))


def _us(dt: datetime) -> int:
    return (dt.astimezone(timezone.utc) - _EPOCH) // timedelta(microseconds=1)


def _local(us: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=us)).astimezone(zone)


def rfc3339(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def periods_ended(schedule: Schedule, since_us: int, now_us: int) -> list[Period]:
    """Every period of the schedule that ended in (since, now], oldest first."""
    if now_us <= since_us:
        return []
    zone = schedule.zone
    if schedule.every == "hourly":
        return _hours(zone, since_us, now_us)
    first = _local(since_us, zone).date() - timedelta(days=1)
    last = _local(now_us, zone).date()
    out = []
    if schedule.every == "daily":
        day = first
        while day <= last:
            end = midnight_us(zone, day + timedelta(days=1))
            if since_us < end <= now_us:
                d = day.isoformat()
                out.append(Period(d, d, d, midnight_us(zone, day), end))
            day += timedelta(days=1)
        return out
    monday = first - timedelta(days=first.weekday())
    while monday <= last:
        sunday = monday + timedelta(days=6)
        end = midnight_us(zone, monday + timedelta(days=7))
        if since_us < end <= now_us:
            year, week, _ = monday.isocalendar()
            out.append(Period(f"{year}-W{week:02d}", monday.isoformat(), sunday.isoformat(),
                              midnight_us(zone, monday), end))
        monday += timedelta(days=7)
    return out


def _hour_starts(zone: ZoneInfo, from_us: int, to_us: int) -> list[int]:
    """UTC instants in [from, to] where local time is a whole hour. Every real offset is a multiple
    of 15 minutes, so walking 15-minute UTC steps finds them all (also around DST jumps)."""
    t = from_us - from_us % _QUARTER_US
    out = []
    while t <= to_us:
        if t >= from_us:
            local = _local(t, zone)
            if local.minute == 0 and local.second == 0:
                out.append(t)
        t += _QUARTER_US
    return out


def _hours(zone: ZoneInfo, since_us: int, now_us: int) -> list[Period]:
    # Start an hour (and a bit, for 30/45-minute offsets) early so the first hour ending after `since` is found.
    starts = _hour_starts(zone, since_us - 2 * 3_600_000_000, now_us)
    out = []
    for start, end in zip(starts, starts[1:]):
        if since_us < end <= now_us:
            local = _local(start, zone)
            d = local.date().isoformat()
            out.append(Period(local.strftime("%Y-%m-%dT%H%z"), d, d, start, end))
    return out


# ------------------------------------------------------------------ what to request


def request_id(schedule: Schedule, period: Period) -> str:
    """sched-<type>-<schedule hash>-<period>: the same for the same (schedule, period), at most 64 characters."""
    token = period.label.replace("+", "p").replace(":", "")
    return f"sched-{schedule.export_type}-{schedule.ident}-{token}"


def relative_path(schedule: Schedule, period: Period) -> str:
    """Where the period's file goes, under the export folder."""
    return f"scheduled/{schedule.folder}/{schedule.export_type}_{period.label}.csv"


def request_body(schedule: Schedule, period: Period) -> dict:
    """The control-topic request. ``as_of`` is the period's end, so that the request (and its id) is the
    same whenever it is made: a report of an ended period does not change with it, and an hourly
    snapshot counts ongoing presence up to the end of its hour."""
    return {
        "request_id": request_id(schedule, period),
        "export_type": schedule.export_type,
        "time_zone": schedule.time_zone,
        "date_from": period.date_from,
        "date_to": period.date_to,
        "channels": list(schedule.channels),
        "as_of": rfc3339(period.end_us),
    }


def due(schedule: Schedule, now_us: int, exists) -> list[Period]:
    """Periods ended since the schedule's ``since`` whose file does not exist (``exists(relative_path)``),
    oldest first; for an hourly schedule, at most the most recent ended hour."""
    periods = periods_ended(schedule, schedule.since_us(now_us), now_us)
    if schedule.every == "hourly":
        periods = periods[-1:]
    return [p for p in periods if not exists(relative_path(schedule, p))]
