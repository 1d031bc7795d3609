"""What a conversation contributes to its agents and teams, and how those contributions add up.

A conversation's contribution to one owner (``agent:<id>`` or ``team:<id>``) is
a map ``{"<channel>|<bucket>": partial}``: its metrics split by the
conversation's channel (the channel filter works on conversations) and by the
15-minute UTC bucket of each event's time. Every real time zone's midnight is
on a 15-minute UTC boundary, so sums of buckets answer any range in any zone
exactly.

A partial holds counts and exact microsecond sums, plus count maps for the
distinct values (contacts helped, conversations handled): keeping how many
contributions named each value lets a retraction remove it again.

The owner keeps each UTC day as records of at most CONVERSATIONS_PER_RECORD
conversations; each record holds the totals of its buckets and of the whole day
per channel next to its conversations' partials of that day (see
``replace_in_day``). Per conversation, the owner keeps the days it ever
contributed to and its place in each (``owner_updates``).
"""
from __future__ import annotations

import zlib

import orjson

from convoflow.tables import conversation as conv
from convoflow.tables.conversation import (
    A_AGENT, A_KIND, A_T, A_TEAM, C_SCORE, C_T, L_AGENT, L_TEAM, M_AGENT, M_T, M_TEAM, S_AGENT, S_T, S_TEAM,
)

BUCKET_US = 15 * 60 * 1_000_000
BUCKETS_PER_DAY = 96
DAY_US = BUCKET_US * BUCKETS_PER_DAY

COUNTS = ("replies", "sessions", "resolved_with_reply", "resolved_no_reply", "handle_us", "no_reply_us", "cherry_us",
          "first_response_us", "first_responses", "resolution_us", "resolutions_timed", "tags", "topics",
          "csat1", "csat2", "csat3", "csat4", "csat5")
SETS = ("contacts", "handled")


def bucket_of(t: int) -> int:
    return t // BUCKET_US


def day_of_bucket(bucket: int) -> int:
    return bucket // BUCKETS_PER_DAY


def _add(contribution: dict, owner: str, channel: str, t: int, field: str, amount: int = 1) -> None:
    partial = contribution.setdefault(owner, {}).setdefault(f"{channel}|{bucket_of(t)}", {})
    partial[field] = partial.get(field, 0) + amount


def _add_member(contribution: dict, owner: str, channel: str, t: int, field: str, member: str) -> None:
    partial = contribution.setdefault(owner, {}).setdefault(f"{channel}|{bucket_of(t)}", {})
    members = partial.setdefault(field, {})
    members[member] = 1


def _owners(agent: str | None, team: str | None):
    if agent is not None:
        yield f"agent:{agent}"
    if team is not None:
        yield f"team:{team}"


def contributions(conversation_id: str, state: dict, derived: conv.Derived | None = None) -> dict[str, dict[str, dict]]:
    """{owner: {"<channel>|<bucket>": partial}} for every agent and team the conversation names
    (``derived``: the state's ``conv.derive``, when the caller has it)."""
    out: dict[str, dict[str, dict]] = {}
    d = derived or conv.derive(state)
    channel = d.channel() or ""
    contact = d.contact()
    for h in d.outbounds:
        for owner in _owners(h[M_AGENT], h[M_TEAM]):
            _add(out, owner, channel, h[M_T], "replies")
            if contact is not None:
                _add_member(out, owner, channel, h[M_T], "contacts", contact)
    responses = d.responses
    if responses:
        first = responses[0]
        team = first.outbound[M_TEAM]
        if team is not None:
            _add(out, f"team:{team}", channel, first.outbound[M_T], "first_response_us", first.time_us)
            _add(out, f"team:{team}", channel, first.outbound[M_T], "first_responses")
    for r in d.cycles:
        c = r.change
        for owner in _owners(c[S_AGENT], c[S_TEAM]):
            _add(out, owner, channel, c[S_T], "resolved_with_reply" if r.with_reply else "resolved_no_reply")
            if r.resolution_time_us is not None:
                _add(out, owner, channel, c[S_T], "resolution_us", r.resolution_time_us)
                _add(out, owner, channel, c[S_T], "resolutions_timed")
    for s in d.sessions:
        field = {"handle": "handle_us", "no_reply": "no_reply_us", "cherry_picking": "cherry_us"}[s.kind]
        for owner in _owners(s.agent_id, s.team_id):
            _add(out, owner, channel, s.released_us, field, s.duration_us)
            _add(out, owner, channel, s.released_us, "sessions")
            if s.kind == "handle":
                _add_member(out, owner, channel, s.released_us, "handled", conversation_id)
    for sid, sent in state.get("cs", {}).items():
        answer = state.get("ca", {}).get(sid)
        if answer is not None and answer[C_SCORE] is not None:
            for owner in _owners(sent[L_AGENT], sent[L_TEAM]):
                _add(out, owner, channel, answer[C_T], f"csat{answer[C_SCORE]}")
    for a in state.get("a", {}).values():
        if a[A_KIND] in ("tag.applied", "topic.applied"):
            field = "tags" if a[A_KIND] == "tag.applied" else "topics"
            for owner in _owners(a[A_AGENT], a[A_TEAM]):
                _add(out, owner, channel, a[A_T], field)
    return out


# ------------------------------------------------------------- partial arithmetic


def add_into(total: dict, partial: dict, sign: int = 1) -> None:
    """total += sign × partial (count maps count how many contributions name each member)."""
    for field, value in partial.items():
        if field in SETS:
            members = total.setdefault(field, {})
            for member, n in value.items():
                left = members.get(member, 0) + sign * n
                if left:
                    members[member] = left
                else:
                    members.pop(member, None)
            if not members:
                del total[field]
        else:
            left = total.get(field, 0) + sign * value
            if left:
                total[field] = left
            else:
                total.pop(field, None)


def accumulate(total: dict, partial: dict) -> None:
    """total += partial, for sums of stored totals (every count positive, so nothing drops to zero):
    what add_into does, without its signs and removals."""
    for field, value in partial.items():
        if field in SETS:
            members = total.get(field)
            if members is None:
                total[field] = dict(value)
            else:
                for member, n in value.items():
                    members[member] = members.get(member, 0) + n
        else:
            total[field] = total.get(field, 0) + value


# ------------------------------------------------------------- per-day records

# An owner's day is as many records as it needs, each holding the partials of at most this many
# conversations with its own totals beside them: what one update rewrites stays the same size
# however many conversations the owner has that day.
CONVERSATIONS_PER_RECORD = 16


def day_key(owner: str, day: int, record: int) -> str:
    """The ``owner_days`` key of one of an owner's day records (the report reads every record of a day)."""
    return f"{owner}|{day:06d}|r{record}"


def legacy_day_key(owner: str, day: int, conversation_id: str) -> str:
    """Where a store written with fixed shards keeps a conversation's partials of a day (agents one
    record a day, teams 8 by CRC-32 of the conversation id); those conversations stay there."""
    shard = 0 if owner.startswith("agent:") else zlib.crc32(conversation_id.encode()) % 8
    return f"{owner}|{day:06d}|{shard}"


def index_key(owner: str, conversation_id: str) -> str:
    """The ``owner_conversations`` key of the days a conversation contributed to for an owner."""
    return f"{owner}|{conversation_id}"


def counter_key(owner: str, day: int) -> str:
    """The ``owner_conversations`` key of how many places of the owner's day have been handed out
    (owners start with ``agent:`` or ``team:``, so it never meets an index key)."""
    return f"#{owner}|{day:06d}"


def decode_places(value: bytes | None) -> dict[int, int | None]:
    """{day: place} of an index value; None for a day of a store written with fixed shards (a list of days)."""
    if value is None:
        return {}
    stored = orjson.loads(value)
    if isinstance(stored, list):
        return {day: None for day in stored}
    return {int(day): place for day, place in stored.items()}


def encode_places(places: dict[int, int | None]) -> bytes:
    return orjson.dumps({str(day): place for day, place in sorted(places.items())})


def record_key(owner: str, day: int, conversation_id: str, place: int | None, per_record: int) -> str:
    if place is None:
        return legacy_day_key(owner, day, conversation_id)
    return day_key(owner, day, place // per_record)


def owner_updates(owner: str, latest: dict[str, dict], read_index, read_day,
                  per_record: int = CONVERSATIONS_PER_RECORD) -> tuple[list, dict]:
    """What the conversations' latest maps to one owner write: ``(index_writes, day_records)``.

    ``latest``: {conversation_id: contribution map}; ``read_index(key)`` and
    ``read_day(key)`` read the stored ``owner_conversations`` / ``owner_days`` values.

    Each (conversation, day) gets a place the first time the conversation
    contributes to that day: the next number of the day's counter. Place ``n``
    lives in record ``n // per_record``, so a record never holds more than
    ``per_record`` conversations, and the index keeps the place for good, so a
    repeat or a replay goes to the same record. ``index_writes`` are
    ``(key, value)`` pairs: the counter of every day the conversations have a
    place in, then every conversation's places, each whether it changed or not
    (the local store may hold a value whose changelog record a crash lost; the
    caller skips what it already sent). Written to one changelog partition in
    that order, an index entry that reached the broker implies the counter that
    handed out its place did (a lost counter would hand a place out twice). They
    must reach the broker before any of ``day_records`` ({key: record}) does, so
    that no record holds partials whose place a replay could not find again.
    """
    counters: dict[int, int] = {}

    def counter(day: int) -> int:
        if day not in counters:
            value = read_index(counter_key(owner, day))
            counters[day] = orjson.loads(value) if value is not None else 0
        return counters[day]

    entries: list = []
    records: dict[str, dict] = {}
    for cid in sorted(latest):
        per_day = by_day(latest[cid])
        places = decode_places(read_index(index_key(owner, cid)))
        for day in sorted(per_day.keys() - places.keys()):
            places[day] = counter(day)
            counters[day] += 1
        for day in sorted(places):
            if places[day] is not None:
                counter(day)
            key = record_key(owner, day, cid, places[day], per_record)
            if key not in records:
                records[key] = decode_day(read_day(key))
            replace_in_day(records[key], cid, per_day.get(day, {}))
        if places:
            entries.append((index_key(owner, cid), encode_places(places)))
    writes = [(counter_key(owner, day), orjson.dumps(n)) for day, n in sorted(counters.items())] + entries
    return writes, records


def by_day(contribution: dict) -> dict[int, dict]:
    """A contribution map split by UTC day: {day: {"<channel>|<bucket>": partial}}."""
    out: dict[int, dict] = {}
    for key, partial in contribution.items():
        out.setdefault(day_of_bucket(int(key.rsplit("|", 1)[1])), {})[key] = partial
    return out


def new_day() -> dict:
    return {"a": {}, "t": {}, "b": {}, "c": {}}


def replace_in_day(record: dict, conversation_id: str, partials: dict) -> bool:
    """Make ``partials`` the conversation's contribution to this day; False when it already was.

    The record keeps each conversation's partials ("c") beside the totals ("b"
    per bucket, "t" per channel, "a" for the whole day in every channel), and the
    totals move by the difference. Both live in one value, so no crash or replay
    can pair totals with the wrong partials; applying the same partials again
    changes nothing.
    """
    old = record["c"].get(conversation_id, {})
    if old == partials:
        return False
    for key in old.keys() | partials.keys():
        before, after = old.get(key), partials.get(key)
        if before == after:
            continue
        channel = key.rsplit("|", 1)[0]
        for target in (record["b"].setdefault(key, {}), record["t"].setdefault(channel, {}), record["a"]):
            if before:
                add_into(target, before, -1)
            if after:
                add_into(target, after, 1)
        if not record["b"][key]:
            del record["b"][key]
        if not record["t"][channel]:
            del record["t"][channel]
    if partials:
        record["c"][conversation_id] = partials
    else:
        del record["c"][conversation_id]
    return True


def encode_day(record: dict) -> bytes:
    """Four lines: the totals of the whole day in every channel, per channel, per bucket, then each
    conversation's partials. A report decodes the first line for a whole day (the second with a
    channel filter, the third for a day cut by its range), and never the fourth."""
    return b"\n".join(orjson.dumps(record[part]) for part in ("a", "t", "b", "c"))


def _all_channels(per_channel: dict) -> dict:
    total: dict = {}
    for partial in per_channel.values():
        add_into(total, partial)
    return total


def decode_day(value: bytes | None) -> dict:
    if value is None:
        return new_day()
    lines = value.split(b"\n", 3)
    if len(lines) == 2:  # totals ({"b": ..., "t": ...}) and partials, as a store written with fixed shards has them
        totals = orjson.loads(lines[0])
        return {"a": _all_channels(totals["t"]), "t": totals["t"], "b": totals["b"], "c": orjson.loads(lines[1])}
    return dict(zip(("a", "t", "b", "c"), map(orjson.loads, lines)))


class DayTotals:
    """A record's totals as a report reads them: ``get("a")``, ``get("t")`` and ``get("b")`` (see
    ``encode_day``), each line decoded only when asked for, the partials never."""

    __slots__ = ("value", "decoded")

    LINES = {"a": 0, "t": 1, "b": 2}

    def __init__(self, value: bytes):
        self.value, self.decoded = value, {}

    def get(self, name: str, default=None):
        if name not in self.decoded:
            if self.value.startswith(b'{"b"'):  # a store written with fixed shards: "b" and "t" on the first line
                totals = orjson.loads(self.value.partition(b"\n")[0])
                self.decoded.update(b=totals["b"], t=totals["t"], a=_all_channels(totals["t"]))
            else:
                start = 0
                for _ in range(self.LINES[name]):
                    start = self.value.index(b"\n", start) + 1
                self.decoded[name] = orjson.loads(memoryview(self.value)[start:self.value.index(b"\n", start)])
        return self.decoded.get(name, default)

    def totals(self) -> dict:
        return {"a": self.get("a", {}), "t": self.get("t", {}), "b": self.get("b", {})}


def decode_day_totals(value: bytes) -> DayTotals:
    return DayTotals(value)


def in_range(day: int, record, start_us: int, end_us: int, channels: frozenset | None) -> dict:
    """The sum of one day's partials that fall in [start, end) and pass the channel filter (a record's
    own totals when they are that sum: the caller owns the decoded record)."""
    whole_day = start_us <= day * DAY_US and (day + 1) * DAY_US <= end_us
    if whole_day:
        if channels is None:
            return record.get("a", {})
        kept = [p for channel, p in record.get("t", {}).items() if channel in channels]
        if len(kept) == 1:
            return kept[0]
        total: dict = {}
        for partial in kept:
            accumulate(total, partial)
        return total
    return partials_in_range(record.get("b", {}), start_us, end_us, channels)[0]


def partials_in_range(partials: dict, start_us: int, end_us: int, channels: frozenset | None,
                      ) -> tuple[dict, int | None]:
    """The sum of ``{"<channel>|<bucket>": partial}`` over the buckets in [start, end) that pass the
    channel filter, and the start of the earliest such bucket (None when there is none)."""
    total: dict = {}
    first = None
    for key, partial in partials.items():
        channel, bucket = key.rsplit("|", 1)
        t = int(bucket) * BUCKET_US
        if start_us <= t < end_us and (channels is None or channel in channels):
            add_into(total, partial)
            first = t if first is None else min(first, t)
    return total, first
