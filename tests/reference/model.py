"""Reference model of the twelve convoflow exports.

An independent, deliberately simple and slow second implementation of
the report rules (``docs/reports.md``) on the events of ``docs/events.md``.  The tests use
it to check the streaming engine; it never imports production code.

API
---
``HEADERS[export_type]``  -> the header list of that export (spelled as the seed).

``report(events, export_type, time_zone, date_from, date_to, channels=None,
as_of=None, url_template=...)`` -> the exact CSV file bytes (UTF-8, RFC 4180
quoting as Python's ``csv`` module does with ``QUOTE_MINIMAL``, CRLF line ends,
header row first).

``rows(...same arguments...)`` -> header + rows exactly as written (after the
spreadsheet-safety prefix), as lists of strings.

``events`` are valid contract events as dicts (``type``, ``event_id``,
``occurred_at`` and their fields).  Duplicate deliveries (same ``event_id``)
may be present: the first occurrence in the list is kept (content is the
same).  The list may be in any order; the result never depends on it, because
every "first"/"latest" is decided by ``(occurred_at instant, event_id)``.

``as_of``: where ongoing presence intervals end.  When ``None`` the model uses
the latest ``occurred_at`` among all (de-duplicated) events, or the epoch when
there are none.  Tests always pass ``as_of`` explicitly whenever presence
matters.

Choices (where the spec is silent or ambiguous)
-----------------------------------------------
1. Rounding "half up" is done on exact integers, half away from zero
   (-1.5 s -> -2); it only matters for negative durations, which need clock skew.
2. Durations are not clamped: a lock released before it was acquired, or a
   resolution before the first inbound, gives a negative number (never
   prefixed with ``'`` - it is a number).  The exception is an ongoing presence
   interval that starts after ``as_of``: its duration and overlap are 0.
3. An ongoing presence interval is listed when it overlaps R with its end
   taken as ``as_of``; if it starts at or after ``as_of`` it is listed iff its
   From is in R (Duration 0).
4. The range R starts at the first instant of local ``date_from``: a
   non-existent local midnight (DST gap) resolves to the transition instant, an
   ambiguous one to its first occurrence (``fold=0``).
5. Message, lock and survey ids are scoped to their conversation: a
   ``message.updated``/``message.deleted``/``tag.*`` applies to the message
   ``(conversation_id, message_id)``; a ``lock.released`` pairs with the
   ``lock.acquired`` of the same conversation; a ``csat.answered`` belongs to
   the ``csat.sent`` with the same ``(conversation_id, survey_id)``.
6. Of two ``csat.sent`` for one survey the first counts (like
   ``message.created``); of two acquires/releases for one lock the first
   counts (spec).  Events that are ignored this way (a second
   ``message.created``, a second ``message.deleted``, a second lock end, a
   second ``csat.sent``) count nowhere, not even for Last Updated / Created.
7. A conversation's Last Updated (and Created when it has no message) uses:
   its counted ``message.created``, every ``message.updated``, the counted
   ``message.deleted`` of its messages, its status changes, both ends of its
   complete lock sessions, ``csat.sent`` and every ``csat.answered`` of sent
   surveys, and its topic and tag events.
8. Aggregate reports (teams, agent_metrics, topics, tags, virtual_agents,
   agent_responses) count the facts of conversation-keyed events even when
   the conversation does not "exist" (no message, no status change): such a
   conversation has no channel, appears with empty channel cells, and is
   dropped by any channel filter.  Existence only decides the rows of
   conversations_resolved / conversations_open.
9. ``tags``, ``topics``, ``virtual_agents``, ``agent_responses`` and
   ``contact_attributes`` use the conversation's channel (spec: only
   ``messages`` and ``contacts`` use each message's own channel).  So
   ``contact_attributes`` keeps contacts with an INBOUND message in R in a
   conversation whose channel passes the filter.
10. Contact identifiers (every report) are the latest non-empty primary and,
    separately, the latest non-empty secondary identifier over all counted
    ``message.created`` of that contact, whatever R and the channel filter.
    The contacts export's Last Updated likewise ignores R and the filter.
11. Messages export: Agent ID/Name/Reference and Team ID/Name are filled only
    for human outbounds (``OUTBOUND`` with an ``agent_id``).
12. Presence: the away state only matters for ``AWAY`` (an ``away_state`` on
    an AVAILABLE/OFFLINE change is ignored), and an empty ``away_state`` is the
    same as none.  "Repeats the current state" compares (state, away state)
    with the state left by the previous non-ignored change, whether or not its
    interval is listed.
13. Utilization (%) is empty only when the exact Available Time is 0 µs; the
    tags-per-message ratio is empty when Total Messages Tagged is 0.
14. Team/agent "Average Resolution Time" skips resolutions of conversations
    without an INBOUND message (no resolution time); Resolution Time (s) is
    empty for them.
15. A virtual agent "sent a message" when a ``message.created`` carries its
    ``virtual_agent_id`` (any direction).
16. Attribute values are text cells even for ``NUMBER`` attributes (so a value
    ``-5`` is written ``'-5``); CSAT Score is a number.
17. Directory fields always come from the entity's latest upsert (the latest
    event when it is an upsert; the one before a delete otherwise); Active is
    ``false`` only when the latest event is a delete, ``true`` when the entity
    is missing from the directory.  A team's ``created_at`` is written as a
    timestamp in the request time zone.
18. Timestamps in time zones whose offset has seconds (historic LMT) are
    written with seconds in the offset, as ``datetime.isoformat`` does.
19. The sections that name their leading columns ("by User ID, then From",
    "by To, then Conversation ID") still compare the cells as written: two
    timestamps in the same second are equal whatever their fractions, and on a
    DST fall-back day the written text (not the instant) orders them.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

DEFAULT_URL_TEMPLATE = "https://app.convoflow.local/conversations/{conversation_id}"

# --------------------------------------------------------------------------
# Headers, copied from the seed in order and spelling.
# --------------------------------------------------------------------------

_CONVERSATION_HEAD = [
    "Conversation ID",
    "Medium",
    "Channel",
    "Channel Display Name",
    "Contact Profile ID",
    "Contact Primary Identifier",
    "Contact Secondary Identifier",
    "Created at",
    "Last Status Change Agent ID",
    "Last Status Change Agent Name",
    "Last Status Change Agent Reference",
    "Last Status Change Team ID",
    "Last Status Change Team Name",
    "Current Status",
    "Resolved By",
]
_CONVERSATION_TAIL = [
    "Resolved At",
    "Resolved Agent ID",
    "Resolved Agent Name",
    "Resolved Agent Reference",
    "Number of Inbound Messages",
    "Number of Outbound Messages",
    "First Response Time (s)",
    "Handle Time (s)",
    "No-Reply Time (s)",
    "Cherry-Picking Time (s)",
    "Resolution Time (s)",
    "Topic IDs",
    "Topic Names",
    "Conversation URL",
    "Last Updated",
    "Language",
]
_CSAT_K = [f"CSAT with Score {k}" for k in range(1, 6)]

HEADERS: dict[str, list[str]] = {
    "conversations_resolved": _CONVERSATION_HEAD
    + ["Resolve Reason", "Resolve Comment", "Resolve Trigger"]
    + _CONVERSATION_TAIL
    + ["CSAT Score", "CSAT Completed Status", "CSAT Follow-up Question", "CSAT Follow-up Answer"],
    "conversations_open": _CONVERSATION_HEAD + _CONVERSATION_TAIL,
    "messages": [
        "Message ID",
        "Created at",
        "Conversation ID",
        "Medium",
        "Channel",
        "Channel Display Name",
        "Contact Profile ID",
        "Contact Primary Identifier",
        "Contact Secondary identifier",
        "Message Type",
        "Origin",
        "Outbound Message Type",
        "Direction",
        "Agent ID",
        "Agent Name",
        "Agent Reference",
        "Team ID",
        "Team Name",
        "Tag IDs",
        "Tag Names",
        "Content",
        "Conversation URL",
        "Post URL",
        "Last Updated",
        "Deleted At",
        "System User Type",
    ],
    "teams": [
        "Created At",
        "Team ID",
        "Team Name",
        "Resolves with Reply",
        "Resolves without Reply",
        "Average First Response Time",
        "Average Resolution Time",
        "Total Handle Time",
        "Total No-Reply Time",
        "Total Cherry-Picking Time",
        "Average Handle Time",
        "Contacts Helped",
    ]
    + _CSAT_K
    + ["Tags Added", "Topics Added", "Replies"],
    "contacts": [
        "Contact Profile ID",
        "Medium",
        "Primary Identifier",
        "Secondary Identifier",
        "Created At",
        "Number of Conversations",
        "Number of Inbound Messages",
        "Number of Outbound Messages",
        "Last Updated",
    ],
    "topics": [
        "Topic ID",
        "Topic Name",
        "Active",
        "Total Conversations",
        "Total Current Conversations",
        "Medium",
        "Channel",
        "Channel Display Name",
    ],
    "tags": [
        "Tag ID",
        "Tag Name",
        "Active",
        "Total Contacts",
        "Total Messages",
        "Total Current Messages",
        "Medium",
        "Channel",
        "Channel Display Name",
    ],
    "agent_presence": [
        "User ID",
        "User Name",
        "User Email Address",
        "Type",
        "Away State",
        "From",
        "To",
        "Duration (s)",
    ],
    "agent_metrics": [
        "User ID",
        "User Name",
        "User Email Address",
        "User Reference",
        "Available Time (s)",
        "Away Time (s)",
        "Contacts Helped",
        "Avg. Handle Time (s)",
        "Handle Time (s)",
        "No-Reply Time (s)",
        "Cherry-Picking Time (s)",
        "Replies",
        "Resolves - With Reply",
        "Resolves - No Reply",
        "Tags Added",
        "Topics Added",
        "Utilization (%)",
    ]
    + _CSAT_K,
    "agent_responses": [
        "Conversation ID",
        "Medium",
        "Sender Channel",
        "Sender Channel Display Name",
        "Contact Profile ID",
        "Started By",
        "Handover Reason",
        "From",
        "To",
        "Agent Response Time (s)",
        "Replying Agent ID",
        "Replying Agent Name",
        "Replying Agent Reference",
        "Inbound Message ID",
        "Outbound Message ID",
        "Conversation URL",
    ],
    "virtual_agents": [
        "Agent ID",
        "Agent Name",
        "Medium",
        "Channel",
        "Channel Display Name",
        "Total Conversations",
        "Handover to Agent",
        "Handover due to Error",
        "Resolved",
        "Total Conversations with Topic",
        "Total Messages Tagged",
        "The number of messages that have been tagged overall",
    ],
    "contact_attributes": [
        "Contact Profile ID",
        "Contact Primary Identifier",
        "Contact Secondary Identifier",
        "Attribute ID",
        "Attribute Name",
        "Attribute Value",
        "Attribute Type",
    ],
}

# Columns whose cells are not text: numbers, timestamps, booleans.  Every other
# column is text and gets the spreadsheet-safety prefix.
NUMBER_COLUMNS = frozenset(
    [
        "Number of Inbound Messages",
        "Number of Outbound Messages",
        "First Response Time (s)",
        "Handle Time (s)",
        "No-Reply Time (s)",
        "Cherry-Picking Time (s)",
        "Resolution Time (s)",
        "CSAT Score",
        "Resolves with Reply",
        "Resolves without Reply",
        "Average First Response Time",
        "Average Resolution Time",
        "Total Handle Time",
        "Total No-Reply Time",
        "Total Cherry-Picking Time",
        "Average Handle Time",
        "Contacts Helped",
        "Tags Added",
        "Topics Added",
        "Replies",
        "Number of Conversations",
        "Total Conversations",
        "Total Current Conversations",
        "Total Contacts",
        "Total Messages",
        "Total Current Messages",
        "Duration (s)",
        "Available Time (s)",
        "Away Time (s)",
        "Avg. Handle Time (s)",
        "Resolves - With Reply",
        "Resolves - No Reply",
        "Utilization (%)",
        "Agent Response Time (s)",
        "Handover to Agent",
        "Handover due to Error",
        "Resolved",
        "Total Conversations with Topic",
        "Total Messages Tagged",
        "The number of messages that have been tagged overall",
    ]
    + _CSAT_K
)
TIMESTAMP_COLUMNS = frozenset(
    ["Created at", "Created At", "Resolved At", "Last Updated", "Deleted At", "From", "To"]
)
BOOLEAN_COLUMNS = frozenset(["Active"])
NON_TEXT_COLUMNS = NUMBER_COLUMNS | TIMESTAMP_COLUMNS | BOOLEAN_COLUMNS

_UNSAFE_STARTS = ("=", "+", "-", "@", "\t", "\r")

# --------------------------------------------------------------------------
# Time, rounding and formatting
# --------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_instant(text: str) -> int:
    """RFC 3339 -> exact microseconds since the epoch (UTC); digits beyond the
    sixth fractional one are truncated."""
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    micros = int((m.group(7) or "")[:6].ljust(6, "0"))
    offset = m.group(8)
    if offset in ("Z", "z"):
        offset_s = 0
    else:
        sign = 1 if offset[0] == "+" else -1
        offset_s = sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    naive_utc = datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)
    return (naive_utc - _EPOCH) // _US + micros - offset_s * 1_000_000


def format_instant(us: int, tz: ZoneInfo) -> str:
    """ISO 8601 in the request time zone, truncated to the second, with offset."""
    local = (_EPOCH + timedelta(microseconds=us)).astimezone(tz)
    return local.replace(microsecond=0).isoformat()


def local_midnight(day: date, tz: ZoneInfo) -> int:
    """First instant of a local calendar day (fold=0, see Choices 4)."""
    return (datetime(day.year, day.month, day.day, tzinfo=tz) - _EPOCH) // _US


def _div_half_up(num: int, den: int) -> int:
    """num / den rounded to an integer, halves away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def seconds(us: int) -> str:
    """A duration or a sum of durations: whole seconds, rounded half up."""
    return str(_div_half_up(us, 1_000_000))


def _hundredths(h: int) -> str:
    sign = "-" if h < 0 else ""
    h = abs(h)
    return f"{sign}{h // 100}.{h % 100:02d}"


def average_seconds(total_us: int, count: int) -> str:
    """Exact sum / count, in seconds with two decimals; empty over nothing."""
    if count == 0:
        return ""
    return _hundredths(_div_half_up(total_us, count * 10_000))


def ratio(numerator: int, denominator: int) -> str:
    """numerator / denominator with two decimals; empty when the denominator is 0."""
    if denominator == 0:
        return ""
    return _hundredths(_div_half_up(numerator * 100, denominator))


def percentage(part_us: int, whole_us: int) -> str:
    if whole_us == 0:
        return ""
    return _hundredths(_div_half_up(part_us * 10_000, whole_us))


def safe(cell: str) -> str:
    """Spreadsheet safety for a text cell."""
    if cell.startswith(_UNSAFE_STARTS):
        return "'" + cell
    return cell


def s(value) -> str:
    """A missing value is an empty cell."""
    return "" if value is None else str(value)


# --------------------------------------------------------------------------
# Events and the facts kept about them
# --------------------------------------------------------------------------


class Ev:
    """One accepted event with its exact time and its ordering key."""

    __slots__ = ("d", "t", "key")

    def __init__(self, d: dict):
        self.d = d
        self.t = parse_instant(d["occurred_at"])
        self.key = (self.t, d["event_id"])

    @property
    def type(self) -> str:
        return self.d["type"]

    def get(self, name, default=None):
        value = self.d.get(name)
        return default if value is None else value

    def __getitem__(self, name):
        return self.d[name]

    def __repr__(self):
        return f"Ev({self.d!r})"


def latest_per(events: list[Ev], id_field: str) -> dict[str, Ev]:
    """id -> its latest event (events are in key order, so the last wins)."""
    out: dict[str, Ev] = {}
    for ev in events:
        out[ev[id_field]] = ev
    return out


def current_ids(events: list[Ev], id_field: str) -> list[str]:
    """Ids whose latest applied/removed event is an application, ordered by the
    time of that application, then by id (spec: multi-valued cells)."""
    current = [
        (ev.t, ident) for ident, ev in latest_per(events, id_field).items() if ev.type.endswith(".applied")
    ]
    current.sort()
    return [ident for _, ident in current]


@dataclass
class Message:
    conversation_id: str
    message_id: str
    created: Ev | None = None  # the first message.created counts
    updates: list[Ev] = field(default_factory=list)
    deleted: Ev | None = None  # the first message.deleted counts
    tag_events: list[Ev] = field(default_factory=list)

    def latest(self, name: str):
        """Latest non-null value of a field over the create and the updates."""
        best = None
        for ev in [self.created, *self.updates]:
            if ev is not None and ev.get(name) is not None and (best is None or ev.key > best.key):
                best = ev
        return None if best is None else best.get(name)

    @property
    def direction(self):
        return self.created.get("direction")

    @property
    def is_human_outbound(self) -> bool:
        return self.direction == "OUTBOUND" and self.created.get("agent_id") is not None

    def current_tags(self) -> list[str]:
        return current_ids(self.tag_events, "tag_id")

    def last_updated(self) -> int:
        times = [ev.t for ev in [self.created, *self.updates, *self.tag_events] if ev is not None]
        if self.deleted is not None:
            times.append(self.deleted.t)
        return max(times)


@dataclass
class LockSession:
    lock_id: str
    acquired: Ev
    released: Ev
    agent_id: str
    team_id: str | None
    kind: str  # "handle" | "no-reply" | "cherry-picking"

    @property
    def duration_us(self) -> int:
        return self.released.t - self.acquired.t


@dataclass
class Survey:
    survey_id: str
    sent: Ev | None = None  # first csat.sent counts (Choices 6)
    answers: list[Ev] = field(default_factory=list)

    @property
    def answer(self) -> Ev | None:
        """The latest csat.answered of the survey."""
        return self.answers[-1] if self.answers else None


@dataclass
class Conversation:
    id: str
    messages: list[Message] = field(default_factory=list)  # counted creations, by key
    status_changes: list[Ev] = field(default_factory=list)
    lock_ends: dict[str, dict[str, Ev]] = field(default_factory=dict)
    surveys: dict[str, Survey] = field(default_factory=dict)
    topic_events: list[Ev] = field(default_factory=list)
    tag_events: list[Ev] = field(default_factory=list)
    message_events: list[Ev] = field(default_factory=list)  # updates + counted deletes

    # A conversation exists once it has a message.created or a status change.
    @property
    def exists(self) -> bool:
        return bool(self.messages or self.status_changes)

    @property
    def first_message(self) -> Message | None:
        return self.messages[0] if self.messages else None

    @property
    def channel_id(self) -> str | None:
        return self.messages[0].created["channel_id"] if self.messages else None

    @property
    def contact_id(self) -> str | None:
        return self.messages[0].created["contact_profile_id"] if self.messages else None

    @property
    def human_outbounds(self) -> list[Message]:
        return [m for m in self.messages if m.is_human_outbound]

    @property
    def first_inbound(self) -> Message | None:
        for m in self.messages:
            if m.direction == "INBOUND":
                return m
        return None

    @property
    def resolutions(self) -> list[Ev]:
        return [sc for sc in self.status_changes if sc["status"] == "RESOLVED"]

    @property
    def current_status(self) -> str:
        return self.status_changes[-1]["status"] if self.status_changes else "NEW"

    def resolution_time_us(self, resolution: Ev) -> int | None:
        first_in = self.first_inbound
        return None if first_in is None else resolution.t - first_in.created.t

    @cached_property
    def resolutions_with_reply(self) -> list[tuple[Ev, bool]]:
        """Each resolution r with whether an OUTBOUND message falls in its cycle
        (previous resolution's time, r's time]."""
        outbound_times = [m.created.t for m in self.messages if m.direction == "OUTBOUND"]
        out = []
        previous = None
        for r in self.resolutions:
            with_reply = any((previous is None or t > previous.t) and t <= r.t for t in outbound_times)
            out.append((r, with_reply))
            previous = r
        return out

    @cached_property
    def responses(self) -> list[tuple[Ev, Message]]:
        """Pairs (n, h), literally: for each human outbound h in key order, n is
        the latest NEW change with time <= h's; (n, h) is a response iff no
        other human outbound lies in [n's time, h's time) - i.e. h is the first
        human outbound (by time, then event_id) at or after n's time."""
        news = [sc for sc in self.status_changes if sc["status"] == "NEW"]
        outbounds = self.human_outbounds
        out = []
        for i, h in enumerate(outbounds):
            candidates = [n for n in news if n.t <= h.created.t]
            if not candidates:
                continue
            n = candidates[-1]
            if any(other.created.t >= n.t for other in outbounds[:i]):
                continue
            out.append((n, h))
        return out

    @property
    def first_response(self) -> tuple[Ev, Message] | None:
        return self.responses[0] if self.responses else None

    @cached_property
    def lock_sessions(self) -> list[LockSession]:
        """Complete sessions only, classified handle / no-reply / cherry-picking."""
        out = []
        for lock_id, ends in self.lock_ends.items():
            if "acquired" not in ends or "released" not in ends:
                continue  # not counted anywhere yet
            acq, rel = ends["acquired"], ends["released"]
            agent = acq["agent_id"]
            team = acq.get("team_id") if acq.get("team_id") is not None else rel.get("team_id")
            if any(
                m.created.get("agent_id") == agent and acq.t <= m.created.t <= rel.t for m in self.human_outbounds
            ):
                kind = "handle"
            elif any(r.get("agent_id") == agent and acq.t <= r.t <= rel.t for r in self.resolutions):
                kind = "no-reply"
            else:
                kind = "cherry-picking"
            out.append(LockSession(lock_id, acq, rel, agent, team, kind))
        out.sort(key=lambda ls: (ls.released.key, ls.lock_id))
        return out

    def lock_time_us(self, kind: str) -> int:
        return sum(ls.duration_us for ls in self.lock_sessions if ls.kind == kind)

    def current_topics(self) -> list[str]:
        return current_ids(self.topic_events, "topic_id")

    def counted_events(self) -> list[Ev]:
        """Every event of the conversation that counts (Choices 7)."""
        evs: list[Ev] = [m.created for m in self.messages]
        evs += self.message_events + self.status_changes + self.topic_events + self.tag_events
        for ls in self.lock_sessions:
            evs += [ls.acquired, ls.released]
        for sv in self.surveys.values():
            if sv.sent is not None:  # answers to never-sent surveys count nowhere
                evs += [sv.sent, *sv.answers]
        return evs

    def last_updated(self) -> int:
        return max(ev.t for ev in self.counted_events())

    def created(self) -> int:
        if self.messages:
            return self.messages[0].created.t
        return min(ev.key for ev in self.counted_events())[0]

    def language(self) -> str | None:
        lang = None
        for m in self.messages:
            if m.created.get("language"):
                lang = m.created["language"]
        return lang

    def csat_survey(self) -> Survey | None:
        """Its latest csat.sent survey."""
        sent = [sv for sv in self.surveys.values() if sv.sent is not None]
        return max(sent, key=lambda sv: sv.sent.key) if sent else None


class World:
    """All state derived from a set of events."""

    DIRECTORY_KINDS = ("channel", "agent", "team", "topic", "tag", "virtual_agent")

    def __init__(self, events: list[dict]):
        seen: set[str] = set()
        evs: list[Ev] = []
        for d in events:
            if d["event_id"] in seen:
                continue  # duplicate delivery
            seen.add(d["event_id"])
            evs.append(Ev(d))
        evs.sort(key=lambda ev: ev.key)
        self.events = evs

        self.conversations: dict[str, Conversation] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.directory_latest: dict[tuple[str, str], Ev] = {}
        self.directory_upsert: dict[tuple[str, str], Ev] = {}
        self.presence: dict[str, list[Ev]] = {}
        self.attribute_events: dict[str, list[Ev]] = {}
        self.contact_primary: dict[str, str] = {}
        self.contact_secondary: dict[str, str] = {}
        self.contact_times: dict[str, list[int]] = {}

        for ev in evs:  # in key order: "first" = first seen, "latest" = last seen
            self._apply(ev)

    def conversation(self, cid: str) -> Conversation:
        if cid not in self.conversations:
            self.conversations[cid] = Conversation(cid)
        return self.conversations[cid]

    def message(self, cid: str, mid: str) -> Message:
        if (cid, mid) not in self.messages:
            self.messages[(cid, mid)] = Message(cid, mid)
        return self.messages[(cid, mid)]

    def _apply(self, ev: Ev) -> None:
        t = ev.type
        kind, _, action = t.partition(".")
        if kind in self.DIRECTORY_KINDS and action in ("upserted", "deleted"):
            key = (kind, ev[f"{kind}_id"])
            self.directory_latest[key] = ev
            if action == "upserted":
                self.directory_upsert[key] = ev
        elif t == "message.created":
            conv = self.conversation(ev["conversation_id"])
            msg = self.message(ev["conversation_id"], ev["message_id"])
            if msg.created is None:
                msg.created = ev
                conv.messages.append(msg)
                contact = ev["contact_profile_id"]
                if ev.get("contact_primary_identifier"):
                    self.contact_primary[contact] = ev["contact_primary_identifier"]
                if ev.get("contact_secondary_identifier"):
                    self.contact_secondary[contact] = ev["contact_secondary_identifier"]
                self.contact_times.setdefault(contact, []).append(ev.t)
        elif t == "message.updated":
            self.message(ev["conversation_id"], ev["message_id"]).updates.append(ev)
            self.conversation(ev["conversation_id"]).message_events.append(ev)
        elif t == "message.deleted":
            msg = self.message(ev["conversation_id"], ev["message_id"])
            if msg.deleted is None:
                msg.deleted = ev
                self.conversation(ev["conversation_id"]).message_events.append(ev)
        elif t == "conversation.status_changed":
            self.conversation(ev["conversation_id"]).status_changes.append(ev)
        elif t in ("lock.acquired", "lock.released"):
            ends = self.conversation(ev["conversation_id"]).lock_ends.setdefault(ev["lock_id"], {})
            ends.setdefault(action, ev)
        elif t == "csat.sent":
            conv = self.conversation(ev["conversation_id"])
            survey = conv.surveys.setdefault(ev["survey_id"], Survey(ev["survey_id"]))
            if survey.sent is None:
                survey.sent = ev
        elif t == "csat.answered":
            conv = self.conversation(ev["conversation_id"])
            conv.surveys.setdefault(ev["survey_id"], Survey(ev["survey_id"])).answers.append(ev)
        elif t in ("topic.applied", "topic.removed"):
            self.conversation(ev["conversation_id"]).topic_events.append(ev)
        elif t in ("tag.applied", "tag.removed"):
            self.conversation(ev["conversation_id"]).tag_events.append(ev)
            self.message(ev["conversation_id"], ev["message_id"]).tag_events.append(ev)
        elif t in ("contact.attribute_set", "contact.attribute_cleared"):
            self.attribute_events.setdefault(ev["contact_profile_id"], []).append(ev)
            self.contact_times.setdefault(ev["contact_profile_id"], []).append(ev.t)
        elif t == "presence.changed":
            self.presence.setdefault(ev["agent_id"], []).append(ev)
        else:
            raise ValueError(f"unknown event type {t!r}")

    # ---- directory -------------------------------------------------------
    def dir_field(self, kind: str, ident: str | None, name: str) -> str:
        """A field of a directory entity, from its latest upsert ('' if missing)."""
        if ident is None:
            return ""
        ev = self.directory_upsert.get((kind, ident))
        return "" if ev is None else s(ev.get(name))

    def dir_active(self, kind: str, ident: str) -> bool:
        ev = self.directory_latest.get((kind, ident))
        return ev is None or not ev.type.endswith(".deleted")

    def channel_cells(self, channel_id: str | None) -> list[str]:
        """Medium, Channel (name), Channel Display Name."""
        return [
            self.dir_field("channel", channel_id, "medium"),
            self.dir_field("channel", channel_id, "name"),
            self.dir_field("channel", channel_id, "display_name"),
        ]

    def contact_identifiers(self, contact_id: str | None) -> list[str]:
        if contact_id is None:
            return ["", ""]
        return [self.contact_primary.get(contact_id, ""), self.contact_secondary.get(contact_id, "")]


# --------------------------------------------------------------------------
# Presence intervals
# --------------------------------------------------------------------------


@dataclass
class Interval:
    agent_id: str
    state: str  # AVAILABLE | AWAY
    away_state: str
    start: int
    end: int | None  # None while ongoing


def presence_intervals(changes: list[Ev]) -> list[Interval]:
    """The listed (AVAILABLE/AWAY) intervals of one agent, changes in key order."""
    effective: list[tuple[Ev, str, str]] = []
    current = None
    for ev in changes:
        state = ev["state"]
        away = ev.get("away_state", "") if state == "AWAY" else ""
        if current == (state, away):
            continue  # repeats the current state and away state: ignored
        current = (state, away)
        effective.append((ev, state, away))
    out = []
    for i, (ev, state, away) in enumerate(effective):
        nxt = effective[i + 1][0] if i + 1 < len(effective) else None
        if state == "OFFLINE":
            continue
        if nxt is not None and nxt.t == ev.t:
            continue  # next change at the same occurred_at: not listed
        out.append(Interval(ev["agent_id"], state, away, ev.t, None if nxt is None else nxt.t))
    return out


# --------------------------------------------------------------------------
# The request context
# --------------------------------------------------------------------------


class Ctx:
    def __init__(self, events, time_zone, date_from, date_to, channels, as_of, url_template):
        self.w = World(events)
        self.tz = ZoneInfo(time_zone)
        self.r_start = local_midnight(date.fromisoformat(date_from), self.tz)
        self.r_end = local_midnight(date.fromisoformat(date_to) + timedelta(days=1), self.tz)
        self.channels = set(channels) if channels else None
        if as_of is not None:
            self.as_of = parse_instant(as_of)
        else:
            self.as_of = max((ev.t for ev in self.w.events), default=0)
        self.url_template = url_template

    def in_r(self, t: int) -> bool:
        return self.r_start <= t < self.r_end

    def ts(self, t: int | None) -> str:
        return "" if t is None else format_instant(t, self.tz)

    def url(self, cid: str) -> str:
        return self.url_template.replace("{conversation_id}", cid)

    def channel_ok(self, channel_id: str | None) -> bool:
        if self.channels is None:
            return True
        return channel_id is not None and channel_id in self.channels

    def conversations(self) -> list[Conversation]:
        """All conversations (existing or not) that pass the channel filter."""
        return [c for c in self.w.conversations.values() if self.channel_ok(c.channel_id)]

    # ---- in-R facts shared by teams / agent_metrics --------------------------
    def human_outbounds_in_r(self):
        return [(c, m) for c in self.conversations() for m in c.human_outbounds if self.in_r(m.created.t)]

    def resolutions_in_r(self):
        return [(c, r, wr) for c in self.conversations() for r, wr in c.resolutions_with_reply if self.in_r(r.t)]

    def first_responses_in_r(self):
        out = []
        for c in self.conversations():
            fr = c.first_response
            if fr is not None and self.in_r(fr[1].created.t):
                out.append((c, fr[0], fr[1]))
        return out

    def sessions_released_in_r(self):
        return [(c, ls) for c in self.conversations() for ls in c.lock_sessions if self.in_r(ls.released.t)]

    def scored_surveys_in_r(self):
        """Sent surveys whose latest answer is in R with a score."""
        out = []
        for c in self.conversations():
            for sv in c.surveys.values():
                a = sv.answer
                if sv.sent is not None and a is not None and self.in_r(a.t) and a.get("score") is not None:
                    out.append((c, sv))
        return out

    def applied_in_r(self, kind: str):
        events = []
        for c in self.conversations():
            source = c.topic_events if kind == "topic" else c.tag_events
            events += [(c, ev) for ev in source if ev.type.endswith(".applied") and self.in_r(ev.t)]
        return events

    def intervals(self) -> list[Interval]:
        return [iv for agent in sorted(self.w.presence) for iv in presence_intervals(self.w.presence[agent])]

    def interval_end(self, iv: Interval) -> int:
        if iv.end is not None:
            return iv.end
        return max(self.as_of, iv.start)  # Choices 2/3

    def overlaps_r(self, iv: Interval) -> bool:
        end = self.interval_end(iv)
        if end == iv.start:  # only an ongoing interval starting at/after as_of
            return self.in_r(iv.start)
        return iv.start < self.r_end and end > self.r_start

    def overlap_us(self, iv: Interval) -> int:
        return max(0, min(self.interval_end(iv), self.r_end) - max(iv.start, self.r_start))


# --------------------------------------------------------------------------
# The reports (one function each); each returns unsorted rows of raw cells
# --------------------------------------------------------------------------


def _conversation_row(ctx: Ctx, c: Conversation, resolved_export: bool) -> list[str]:
    w = ctx.w
    # Last Status Change Agent/Team: latest change to PENDING or RESOLVED with an agent_id.
    lsc = None
    for sc in c.status_changes:
        if sc["status"] in ("PENDING", "RESOLVED") and sc.get("agent_id") is not None:
            lsc = sc
    lsc_agent = None if lsc is None else lsc["agent_id"]
    lsc_team = None if lsc is None else lsc.get("team_id")
    latest_res = c.resolutions[-1] if c.resolutions else None

    def res(name):
        return "" if latest_res is None else s(latest_res.get(name))

    res_agent = None if latest_res is None else latest_res.get("agent_id")
    fr = c.first_response
    res_time = None if latest_res is None else c.resolution_time_us(latest_res)
    topics = c.current_topics()

    row = [c.id, *w.channel_cells(c.channel_id), s(c.contact_id), *w.contact_identifiers(c.contact_id)]
    row += [
        ctx.ts(c.created()),
        s(lsc_agent),
        w.dir_field("agent", lsc_agent, "name"),
        w.dir_field("agent", lsc_agent, "reference"),
        s(lsc_team),
        w.dir_field("team", lsc_team, "name"),
        c.current_status,
        res("resolved_by"),
    ]
    if resolved_export:
        row += [res("resolve_reason"), res("resolve_comment"), res("resolve_trigger")]
    row += [
        ctx.ts(None if latest_res is None else latest_res.t),
        s(res_agent),
        w.dir_field("agent", res_agent, "name"),
        w.dir_field("agent", res_agent, "reference"),
        str(sum(1 for m in c.messages if m.direction == "INBOUND")),
        str(sum(1 for m in c.messages if m.direction == "OUTBOUND")),
        "" if fr is None else seconds(fr[1].created.t - fr[0].t),
        seconds(c.lock_time_us("handle")),
        seconds(c.lock_time_us("no-reply")),
        seconds(c.lock_time_us("cherry-picking")),
        "" if res_time is None else seconds(res_time),
        ";".join(topics),
        ";".join(w.dir_field("topic", t, "name") for t in topics),
        ctx.url(c.id),
        ctx.ts(c.last_updated()),
        s(c.language()),
    ]
    if resolved_export:
        survey = c.csat_survey()
        if survey is None:
            row += ["", "", "", ""]
        elif survey.answer is None:
            row += ["", "SENT", "", ""]
        else:
            a = survey.answer
            row += [s(a.get("score")), s(a["completed_status"]), s(a.get("follow_up_question")),
                    s(a.get("follow_up_answer"))]
    return row


def conversations_resolved(ctx: Ctx) -> list[list[str]]:
    out = []
    for c in ctx.conversations():
        if c.exists and c.resolutions and ctx.in_r(c.resolutions[0].t):  # first resolution in R
            out.append(_conversation_row(ctx, c, True))
    return out


def conversations_open(ctx: Ctx) -> list[list[str]]:
    # Current status NEW or PENDING whatever R (a conversation without status changes is NEW).
    return [
        _conversation_row(ctx, c, False)
        for c in ctx.conversations()
        if c.exists and c.current_status in ("NEW", "PENDING")
    ]


def messages(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    out = []
    for c in w.conversations.values():
        for m in c.messages:
            cr = m.created
            if not ctx.in_r(cr.t) or not ctx.channel_ok(cr["channel_id"]):  # message's own channel
                continue
            human = m.is_human_outbound
            agent = cr.get("agent_id") if human else None
            team = cr.get("team_id") if human else None
            tags = m.current_tags()
            contact = cr["contact_profile_id"]
            out.append(
                [
                    m.message_id,
                    ctx.ts(cr.t),
                    c.id,
                    *w.channel_cells(cr["channel_id"]),
                    contact,
                    *w.contact_identifiers(contact),
                    s(m.latest("message_type")),
                    s(cr.get("origin")),
                    s(cr.get("outbound_message_type")),
                    cr["direction"],
                    s(agent),
                    w.dir_field("agent", agent, "name"),
                    w.dir_field("agent", agent, "reference"),
                    s(team),
                    w.dir_field("team", team, "name"),
                    ";".join(tags),
                    ";".join(w.dir_field("tag", t, "name") for t in tags),
                    s(m.latest("content")),
                    ctx.url(c.id),
                    s(m.latest("post_url")),
                    ctx.ts(m.last_updated()),
                    ctx.ts(None if m.deleted is None else m.deleted.t),
                    s(m.latest("system_user_type")),
                ]
            )
    return out


def _csat_counts(surveys, attr: str, ident: str) -> list[str]:
    counts = [0] * 5
    for _, sv in surveys:
        if sv.sent.get(attr) == ident:
            counts[sv.answer["score"] - 1] += 1
    return [str(k) for k in counts]


def _lock_totals(sessions) -> tuple[int, int, int, str]:
    """Handle, no-reply, cherry-picking sums and the average handle time over
    distinct conversations among the handle sessions."""
    handle = sum(ls.duration_us for _, ls in sessions if ls.kind == "handle")
    no_reply = sum(ls.duration_us for _, ls in sessions if ls.kind == "no-reply")
    cherry = sum(ls.duration_us for _, ls in sessions if ls.kind == "cherry-picking")
    handled_conversations = {c.id for c, ls in sessions if ls.kind == "handle"}
    return handle, no_reply, cherry, average_seconds(handle, len(handled_conversations))


def teams(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    outbounds = ctx.human_outbounds_in_r()
    resolutions = ctx.resolutions_in_r()
    first_responses = ctx.first_responses_in_r()
    sessions = ctx.sessions_released_in_r()
    surveys = ctx.scored_surveys_in_r()
    tags = ctx.applied_in_r("tag")
    topics = ctx.applied_in_r("topic")
    team_ids = {m.created["team_id"] for _, m in outbounds if m.created.get("team_id") is not None}
    out = []
    for team in team_ids:
        created_at = w.dir_field("team", team, "created_at")
        mine = [(c, m) for c, m in outbounds if m.created.get("team_id") == team]
        res = [(c, r, wr) for c, r, wr in resolutions if r.get("team_id") == team]
        res_times = [c.resolution_time_us(r) for c, r, _ in res]
        res_times = [t for t in res_times if t is not None]
        frs = [h.created.t - n.t for _, n, h in first_responses if h.created.get("team_id") == team]
        handle, no_reply, cherry, avg_handle = _lock_totals([(c, ls) for c, ls in sessions if ls.team_id == team])
        out.append(
            [
                ctx.ts(parse_instant(created_at) if created_at else None),
                team,
                w.dir_field("team", team, "name"),
                str(sum(1 for _, _, wr in res if wr)),
                str(sum(1 for _, _, wr in res if not wr)),
                average_seconds(sum(frs), len(frs)),
                average_seconds(sum(res_times), len(res_times)),
                seconds(handle),
                seconds(no_reply),
                seconds(cherry),
                avg_handle,
                str(len({c.contact_id for c, _ in mine if c.contact_id is not None})),
                *_csat_counts(surveys, "team_id", team),
                str(sum(1 for _, ev in tags if ev.get("team_id") == team)),
                str(sum(1 for _, ev in topics if ev.get("team_id") == team)),
                str(len(mine)),
            ]
        )
    return out


def contacts(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    per_contact: dict[str, list[Message]] = {}
    for c in w.conversations.values():
        for m in c.messages:
            if ctx.in_r(m.created.t) and ctx.channel_ok(m.created["channel_id"]):
                per_contact.setdefault(m.created["contact_profile_id"], []).append(m)
    out = []
    for contact, msgs in per_contact.items():
        msgs.sort(key=lambda m: m.created.key)
        latest = msgs[-1]
        out.append(
            [
                contact,
                w.dir_field("channel", latest.created["channel_id"], "medium"),
                *w.contact_identifiers(contact),
                ctx.ts(msgs[0].created.t),
                str(len({m.conversation_id for m in msgs})),
                str(sum(1 for m in msgs if m.direction == "INBOUND")),
                str(sum(1 for m in msgs if m.direction == "OUTBOUND")),
                ctx.ts(max(w.contact_times[contact])),
            ]
        )
    return out


def topics(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    groups: dict[tuple[str, str | None], set[str]] = {}
    convs: dict[str, Conversation] = {}
    for c, ev in ctx.applied_in_r("topic"):
        groups.setdefault((ev["topic_id"], c.channel_id), set()).add(c.id)
        convs[c.id] = c
    out = []
    for (topic, channel), cids in groups.items():
        current = sum(1 for cid in cids if topic in convs[cid].current_topics())
        out.append(
            [
                topic,
                w.dir_field("topic", topic, "name"),
                "true" if w.dir_active("topic", topic) else "false",
                str(len(cids)),
                str(current),
                *w.channel_cells(channel),
            ]
        )
    return out


def tags(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    groups: dict[tuple[str, str | None], set[tuple[str, str]]] = {}
    for c, ev in ctx.applied_in_r("tag"):
        groups.setdefault((ev["tag_id"], c.channel_id), set()).add((c.id, ev["message_id"]))
    out = []
    for (tag, channel), message_keys in groups.items():
        current = 0
        contact_ids = set()
        for key in message_keys:
            m = w.messages[key]
            if tag in m.current_tags():
                current += 1
            # the message's contact, else its conversation's
            contact = m.created["contact_profile_id"] if m.created is not None else w.conversations[key[0]].contact_id
            if contact is not None:
                contact_ids.add(contact)
        out.append(
            [
                tag,
                w.dir_field("tag", tag, "name"),
                "true" if w.dir_active("tag", tag) else "false",
                str(len(contact_ids)),
                str(len(message_keys)),
                str(current),
                *w.channel_cells(channel),
            ]
        )
    return out


def agent_presence(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    out = []
    for iv in ctx.intervals():
        if not ctx.overlaps_r(iv):
            continue
        out.append([
            iv.agent_id,
            w.dir_field("agent", iv.agent_id, "name"),
            w.dir_field("agent", iv.agent_id, "email"),
            "Available" if iv.state == "AVAILABLE" else "Away",
            iv.away_state,
            ctx.ts(iv.start),
            ctx.ts(iv.end),
            seconds(ctx.interval_end(iv) - iv.start),  # not clipped to R
        ])
    return out


def agent_metrics(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    intervals = [iv for iv in ctx.intervals() if ctx.overlaps_r(iv)]
    outbounds = ctx.human_outbounds_in_r()
    resolutions = [(c, r, wr) for c, r, wr in ctx.resolutions_in_r() if r.get("agent_id") is not None]
    sessions = ctx.sessions_released_in_r()
    surveys = [(c, sv) for c, sv in ctx.scored_surveys_in_r() if sv.sent.get("agent_id") is not None]
    tag_evs = [(c, ev) for c, ev in ctx.applied_in_r("tag") if ev.get("agent_id") is not None]
    topic_evs = [(c, ev) for c, ev in ctx.applied_in_r("topic") if ev.get("agent_id") is not None]

    agents = {iv.agent_id for iv in intervals}
    agents |= {m.created["agent_id"] for _, m in outbounds}
    agents |= {r["agent_id"] for _, r, _ in resolutions}
    agents |= {ls.agent_id for _, ls in sessions}
    agents |= {sv.sent["agent_id"] for _, sv in surveys}
    agents |= {ev["agent_id"] for _, ev in tag_evs + topic_evs}

    out = []
    for agent in agents:
        available = sum(ctx.overlap_us(iv) for iv in intervals if iv.agent_id == agent and iv.state == "AVAILABLE")
        away = sum(ctx.overlap_us(iv) for iv in intervals if iv.agent_id == agent and iv.state == "AWAY")
        mine = [(c, m) for c, m in outbounds if m.created["agent_id"] == agent]
        res = [wr for _, r, wr in resolutions if r["agent_id"] == agent]
        handle, no_reply, cherry, avg_handle = _lock_totals([(c, ls) for c, ls in sessions if ls.agent_id == agent])
        out.append(
            [
                agent,
                w.dir_field("agent", agent, "name"),
                w.dir_field("agent", agent, "email"),
                w.dir_field("agent", agent, "reference"),
                seconds(available),
                seconds(away),
                str(len({c.contact_id for c, _ in mine if c.contact_id is not None})),
                avg_handle,
                seconds(handle),
                seconds(no_reply),
                seconds(cherry),
                str(len(mine)),
                str(sum(1 for wr in res if wr)),
                str(sum(1 for wr in res if not wr)),
                str(sum(1 for _, ev in tag_evs if ev["agent_id"] == agent)),
                str(sum(1 for _, ev in topic_evs if ev["agent_id"] == agent)),
                percentage(handle + no_reply + cherry, available),
                *_csat_counts(surveys, "agent_id", agent),
            ]
        )
    return out


def agent_responses(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    out = []
    for c in ctx.conversations():
        for n, h in c.responses:
            if not ctx.in_r(h.created.t):
                continue
            agent = h.created["agent_id"]
            out.append([
                c.id,
                *w.channel_cells(c.channel_id),
                s(c.contact_id),
                s(n["started_by"]),
                s(n.get("handover_reason")),
                ctx.ts(n.t),
                ctx.ts(h.created.t),
                seconds(h.created.t - n.t),
                agent,
                w.dir_field("agent", agent, "name"),
                w.dir_field("agent", agent, "reference"),
                s(n.get("inbound_message_id")),
                h.message_id,
                ctx.url(c.id),
            ])
    return out


def virtual_agents(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    stats: dict[tuple[str, str | None], dict] = {}

    def bucket(va, c):
        return stats.setdefault(
            (va, c.channel_id),
            {"convs": set(), "handover": 0, "error": 0, "resolved": 0, "topics": 0, "tagged": set(), "tags": 0},
        )

    for c in ctx.conversations():
        for m in c.messages:
            va = m.created.get("virtual_agent_id")
            if va is not None and ctx.in_r(m.created.t):
                bucket(va, c)["convs"].add(c.id)
        for sc in c.status_changes:
            va = sc.get("virtual_agent_id")
            if va is None or not ctx.in_r(sc.t):
                continue
            if sc["status"] == "NEW" and sc.get("started_by") == "VA_HANDED_OVER_CONVERSATION":
                b = bucket(va, c)
                b["handover"] += 1
                if sc.get("handover_reason") == "ERROR":
                    b["error"] += 1
            if sc["status"] == "RESOLVED" and sc.get("resolved_by") == "VIRTUAL_AGENT":
                bucket(va, c)["resolved"] += 1
        for ev in c.topic_events:
            if ev.type == "topic.applied" and ev.get("virtual_agent_id") is not None and ctx.in_r(ev.t):
                bucket(ev["virtual_agent_id"], c)["topics"] += 1
        for ev in c.tag_events:
            if ev.type == "tag.applied" and ev.get("virtual_agent_id") is not None and ctx.in_r(ev.t):
                b = bucket(ev["virtual_agent_id"], c)
                b["tags"] += 1
                b["tagged"].add((c.id, ev["message_id"]))
    out = []
    for (va, channel), b in stats.items():
        out.append(
            [
                va,
                w.dir_field("virtual_agent", va, "name"),
                *w.channel_cells(channel),
                str(len(b["convs"])),
                str(b["handover"]),
                str(b["error"]),
                str(b["resolved"]),
                str(b["topics"]),
                str(len(b["tagged"])),
                ratio(b["tags"], len(b["tagged"])),
            ]
        )
    return out


def contact_attributes(ctx: Ctx) -> list[list[str]]:
    w = ctx.w
    contact_ids = {
        m.created["contact_profile_id"]
        for c in ctx.conversations()
        for m in c.messages
        if m.direction == "INBOUND" and ctx.in_r(m.created.t)
    }
    out = []
    for contact in contact_ids:
        for attr, ev in latest_per(w.attribute_events.get(contact, []), "attribute_id").items():
            if ev.type != "contact.attribute_set":
                continue
            out.append(
                [
                    contact,
                    *w.contact_identifiers(contact),
                    attr,
                    s(ev["attribute_name"]),
                    s(ev["value"]),
                    s(ev["attribute_type"]),
                ]
            )
    return out


REPORTS = {
    "conversations_resolved": conversations_resolved,
    "conversations_open": conversations_open,
    "messages": messages,
    "teams": teams,
    "contacts": contacts,
    "topics": topics,
    "tags": tags,
    "agent_presence": agent_presence,
    "agent_metrics": agent_metrics,
    "agent_responses": agent_responses,
    "virtual_agents": virtual_agents,
    "contact_attributes": contact_attributes,
}


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def rows(
    events: list[dict],
    export_type: str,
    time_zone: str,
    date_from: str,
    date_to: str,
    channels: list[str] | None = None,
    as_of: str | None = None,
    url_template: str = DEFAULT_URL_TEMPLATE,
) -> list[list[str]]:
    """Header + rows exactly as written in the file (after the spreadsheet-safety
    prefix).  ``as_of`` None means the latest occurred_at among the events."""
    if export_type not in REPORTS:
        raise ValueError(f"unknown export type {export_type!r}")
    ctx = Ctx(events, time_zone, date_from, date_to, channels, as_of, url_template)
    header = HEADERS[export_type]
    written = []  # rows as written
    for raw in REPORTS[export_type](ctx):
        assert len(raw) == len(header), (export_type, raw)
        written.append([cell if name in NON_TEXT_COLUMNS else safe(cell) for name, cell in zip(header, raw)])

    # Code-point order of the cells as written (the timestamps too: two in the same second are
    # equal, whatever their microseconds), by the section's leading columns, then the remaining
    # cells column by column.
    if export_type == "agent_presence":
        written.sort(key=lambda r: (r[0], r[5], r[1:5] + r[6:]))  # User ID, then From
    elif export_type == "agent_responses":
        written.sort(key=lambda r: (r[8], r[0], r[1:8] + r[9:]))  # To, then Conversation ID
    elif export_type == "contact_attributes":
        written.sort(key=lambda r: (r[0], r[3], r[1:3] + r[4:]))  # Contact Profile ID, then Attribute ID
    else:
        written.sort()  # by the first column, then the next ones
    return [list(header)] + written


def report(
    events: list[dict],
    export_type: str,
    time_zone: str,
    date_from: str,
    date_to: str,
    channels: list[str] | None = None,
    as_of: str | None = None,
    url_template: str = DEFAULT_URL_TEMPLATE,
) -> bytes:
    """The exact CSV file bytes (UTF-8, QUOTE_MINIMAL, CRLF, header first).
    ``as_of`` None means the latest occurred_at among the events."""
    table = rows(events, export_type, time_zone, date_from, date_to, channels, as_of, url_template)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(table)
    return buf.getvalue().encode("utf-8")
