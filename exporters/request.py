"""Export requests from the control topic: validation, the range R, idempotency."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from convoflow.contract.export_types import EXPORT_TYPES
from convoflow.contract.times import parse_time

REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
MAX_DAYS = 366


class BadRequest(Exception):
    """A request that gets a ``failed`` result (``request_id`` is None when it has no usable one)."""

    def __init__(self, reason: str, request_id: str | None = None, export_type: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.export_type = export_type


@dataclass(frozen=True)
class ExportRequest:
    request_id: str
    export_type: str
    time_zone: str
    date_from: str
    date_to: str
    channels: tuple[str, ...] = ()
    as_of: str | None = None

    def params(self) -> dict:
        """What identifies the request's answer (a repeat with the same params gets the same result)."""
        return asdict(self)

    @classmethod
    def from_params(cls, params: dict) -> "ExportRequest":
        """The request again from its ``params()``, also after a JSON round trip (a shard's, a scan process's)."""
        return cls(**{**params, "channels": tuple(params["channels"])})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def range_us(self) -> tuple[int, int]:
        return local_range_us(self.zone, date.fromisoformat(self.date_from), date.fromisoformat(self.date_to))


def local_range_us(zone: ZoneInfo, first: date, last: date) -> tuple[int, int]:
    """[first 00:00, last + 1 day 00:00) in the zone, as UTC microseconds."""
    return _midnight_us(zone, first), _midnight_us(zone, last + timedelta(days=1))


def _midnight_us(zone: ZoneInfo, day: date) -> int:
    """Local midnight as UTC microseconds. Where clocks jump over midnight, fold=0 maps
    the missing 00:00 with the offset before the jump: the day's first existing instant."""
    utc = datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)
    return (utc - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_request(value: bytes | None) -> ExportRequest:
    """Validate one control record; raise BadRequest with a specific reason."""
    if value is None:
        raise BadRequest("empty request (tombstone)")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"request is not a JSON object (got {type(data).__name__})")
    rid = data.get("request_id")
    if not isinstance(rid, str) or not REQUEST_ID.match(rid):
        raise BadRequest(f"request_id must be 1-64 characters of A-Z a-z 0-9 _ -, got {rid!r:.80}")
    etype = data.get("export_type")

    def fail(reason: str):
        raise BadRequest(reason, rid, etype if isinstance(etype, str) else None)

    if etype not in EXPORT_TYPES:
        fail(f"unknown export_type {etype!r:.80}; expected one of {', '.join(EXPORT_TYPES)}")
    tz = data.get("time_zone")
    if not isinstance(tz, str) or not tz:
        fail("time_zone is required (an IANA name such as Europe/Amsterdam)")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        fail(f"unknown time zone {tz!r:.80}")
    days = []
    for field in ("date_from", "date_to"):
        raw = data.get(field)
        if not isinstance(raw, str) or not DATE.match(raw):
            fail(f"{field} must be a date YYYY-MM-DD, got {raw!r:.40}")
        try:
            days.append(date.fromisoformat(raw))
        except ValueError:
            fail(f"{field} is not a real date: {raw}")
    if days[0] > days[1]:
        fail(f"date_from {days[0]} is after date_to {days[1]}")
    if (days[1] - days[0]).days + 1 > MAX_DAYS:
        fail(f"the range spans {(days[1] - days[0]).days + 1} days; at most {MAX_DAYS} are allowed")
    channels = data.get("channels")
    if channels is None:
        channels = []
    if not isinstance(channels, list) or not all(isinstance(c, str) and 0 < len(c) <= 256 for c in channels):
        fail("channels must be a list of channel ids (non-empty strings)")
    as_of = data.get("as_of")
    if as_of is not None:
        if not isinstance(as_of, str):
            fail("as_of must be an RFC 3339 timestamp")
        try:
            parse_time(as_of)
        except ValueError:
            fail(f"as_of is not a valid RFC 3339 timestamp: {as_of!r:.60}")
    return ExportRequest(rid, etype, tz, data["date_from"], data["date_to"], tuple(sorted(set(channels))), as_of)
