"""A conversation's state: the facts received about it, and the rules derived from them.

Pure Python (no Faust, no Kafka). The state is a plain dict of *facts under
stable ids* (messages by ``message_id``, status changes and annotations by
``event_id``, lock ends by ``lock_id``, surveys by ``survey_id``), so applying
an event twice is an upsert of the same fact and the arrival order does not
matter: every "first"/"latest" is a min/max over ``(occurred_at, event_id)``
stamps. Everything a report needs (responses, resolution cycles, lock session
classes, current topics, ...) is derived from the facts by the functions below.

Times are integer microseconds since the Unix epoch (UTC).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import NamedTuple

import orjson

# The facts are stored as JSON arrays; the classes below are their layouts, one field per
# position, and the M_/S_/A_/L_/C_ constants after them are the positions of those fields.
# Code reads a fact by position (``m[M_T]``): viewing it as its class (``Message._make(m).t``)
# reads the same, but builds an object per fact, and the reports' loops over every fact of every
# conversation ran 5-25 % slower with views (``python -m bench.facts`` measures both).


class Message(NamedTuple):
    """A created message (``state["m"][message_id]``)."""
    t: int
    event_id: str
    direction: str
    channel_id: str | None
    contact_profile_id: str | None
    agent_id: str | None
    team_id: str | None
    virtual_agent_id: str | None
    message_type: str | None
    origin: str | None
    outbound_message_type: str | None
    system_user_type: str | None
    content: str | None
    post_url: str | None
    language: str | None
    contact_primary_identifier: str | None
    contact_secondary_identifier: str | None


class StatusChange(NamedTuple):
    """A conversation status change (``state["s"][event_id]``)."""
    t: int
    event_id: str
    status: str
    agent_id: str | None
    team_id: str | None
    virtual_agent_id: str | None
    started_by: str | None
    handover_reason: str | None
    inbound_message_id: str | None
    resolved_by: str | None
    resolve_trigger: str | None
    resolve_reason: str | None
    resolve_comment: str | None


class Annotation(NamedTuple):
    """A topic or tag applied or removed (``state["a"][event_id]``); ``kind`` is the event type."""
    t: int
    event_id: str
    kind: str
    target_id: str
    message_id: str | None
    agent_id: str | None
    team_id: str | None
    virtual_agent_id: str | None


class LockEnd(NamedTuple):
    """One end of a lock session (``state["la"]`` / ``state["lr"]`` by lock_id)."""
    t: int
    event_id: str
    agent_id: str
    team_id: str | None


class SurveySent(NamedTuple):
    """The first csat.sent of a survey (``state["cs"][survey_id]``)."""
    t: int
    event_id: str
    agent_id: str | None
    team_id: str | None


class SurveyAnswer(NamedTuple):
    """The latest csat.answered of a survey (``state["ca"][survey_id]``)."""
    t: int
    event_id: str
    completed_status: str
    score: int | None
    follow_up_question: str | None
    follow_up_answer: str | None


# Positions of the fields of each layout (tests/tables/test_conversation.py checks them against the names).
M_T, M_EID, M_DIR, M_CHANNEL, M_CONTACT, M_AGENT, M_TEAM, M_VA = range(8)
M_TYPE, M_ORIGIN, M_OBTYPE, M_SUT, M_CONTENT, M_POST_URL, M_LANG, M_PRIMARY, M_SECONDARY = range(8, 17)
S_T, S_EID, S_STATUS, S_AGENT, S_TEAM, S_VA, S_STARTED_BY, S_HANDOVER, S_INBOUND = range(9)
S_RESOLVED_BY, S_TRIGGER, S_REASON, S_COMMENT = range(9, 13)
A_T, A_EID, A_KIND, A_TARGET, A_MESSAGE, A_AGENT, A_TEAM, A_VA = range(8)
L_T, L_EID, L_AGENT, L_TEAM = range(4)  # LockEnd and SurveySent
C_T, C_EID, C_COMPLETED, C_SCORE, C_QUESTION, C_ANSWER = range(6)

MESSAGE_FIELDS = Message._fields[2:]  # what a message.created event gives, in its fact's order
STATUS_FIELDS = StatusChange._fields[2:]
UPDATABLE = {"content": M_CONTENT, "post_url": M_POST_URL, "message_type": M_TYPE, "system_user_type": M_SUT}
ANNOTATION_KINDS = ("topic.applied", "topic.removed", "tag.applied", "tag.removed")


def new_state() -> dict:
    return {}


def _earlier(a: list | None, t: int, eid: str) -> bool:
    """Is stamp (t, eid) before the fact a's stamp (or is there no fact yet)?"""
    return a is None or (t, eid) < (a[0], a[1])


def _later(a: list | None, t: int, eid: str) -> bool:
    return a is None or (t, eid) > (a[0], a[1])


def apply(state: dict, e: dict) -> bool:
    """Fold one validated event into the state; return whether anything changed."""
    typ = e["type"]
    t = e["t"]
    eid = e["event_id"]
    g = e.get
    if typ == "message.created":
        msgs = state.setdefault("m", {})
        mid = e["message_id"]
        if not _earlier(msgs.get(mid), t, eid):
            return False
        msgs[mid] = [t, eid, *map(g, MESSAGE_FIELDS)]
        return True
    if typ == "message.updated":
        upd = state.setdefault("u", {}).setdefault(e["message_id"], {})
        changed = False
        if _earlier(upd.get("^"), t, eid):  # the first update, for Created of a conversation without messages
            upd["^"] = [t, eid]
            changed = True
        for field in ("_",) + tuple(UPDATABLE):
            if field != "_" and g(field) is None:
                continue
            if _later(upd.get(field), t, eid):
                upd[field] = [t, eid, g(field)] if field != "_" else [t, eid]
                changed = True
        return changed
    if typ == "message.deleted":
        dels = state.setdefault("d", {})
        mid = e["message_id"]
        if not _earlier(dels.get(mid), t, eid):
            return False
        dels[mid] = [t, eid]
        return True
    if typ == "conversation.status_changed":
        changes = state.setdefault("s", {})
        if eid in changes:
            return False
        changes[eid] = [t, eid, *map(g, STATUS_FIELDS)]
        return True
    if typ in ("lock.acquired", "lock.released"):
        ends = state.setdefault("la" if typ == "lock.acquired" else "lr", {})
        lid = e["lock_id"]
        if not _earlier(ends.get(lid), t, eid):
            return False
        ends[lid] = [t, eid, e["agent_id"], g("team_id")]
        return True
    if typ == "csat.sent":
        sent = state.setdefault("cs", {})
        sid = e["survey_id"]
        if not _earlier(sent.get(sid), t, eid):
            return False
        sent[sid] = [t, eid, g("agent_id"), g("team_id")]
        return True
    if typ == "csat.answered":
        answers = state.setdefault("ca", {})
        sid = e["survey_id"]
        first = state.setdefault("cf", {})
        changed = _earlier(first.get(sid), t, eid)
        if changed:  # the first answer, for Created of a conversation without messages
            first[sid] = [t, eid]
        if not _later(answers.get(sid), t, eid):
            return changed
        answers[sid] = [t, eid, e["completed_status"], g("score"), g("follow_up_question"), g("follow_up_answer")]
        return True
    if typ in ANNOTATION_KINDS:
        notes = state.setdefault("a", {})
        if eid in notes:
            return False
        target = e["topic_id"] if typ.startswith("topic.") else e["tag_id"]
        notes[eid] = [t, eid, typ, target, g("message_id"), g("agent_id"), g("team_id"), g("virtual_agent_id")]
        return True
    raise ValueError(f"not a conversation event: {typ}")


# ---------------------------------------------------------------- derived facts


def stamp(fact: list) -> tuple:
    return (fact[0], fact[1])


def exists(state: dict) -> bool:
    """A conversation exists once it has a message.created or a status change."""
    return bool(state.get("m")) or bool(state.get("s"))


def messages(state: dict) -> list[list]:
    """Created messages, by (time, event_id)."""
    return sorted(state.get("m", {}).values(), key=stamp)


def message_ids(state: dict) -> dict[str, list]:
    return state.get("m", {})


def first_message(state: dict) -> list | None:
    msgs = state.get("m")
    return min(msgs.values(), key=stamp) if msgs else None


def channel(state: dict) -> str | None:
    first = first_message(state)
    return first[M_CHANNEL] if first else None


def contact(state: dict) -> str | None:
    first = first_message(state)
    return first[M_CONTACT] if first else None


def status_changes(state: dict) -> list[list]:
    return sorted(state.get("s", {}).values(), key=stamp)


def created_at(state: dict) -> int:
    """Time of the first message.created, else of the conversation's first event."""
    first = first_message(state)
    if first:
        return first[M_T]
    return min(f[0] for f in _all_facts(state))


def current_status(changes: list[list]) -> str:
    return changes[-1][S_STATUS] if changes else "NEW"


def resolutions(changes: list[list]) -> list[list]:
    return [c for c in changes if c[S_STATUS] == "RESOLVED"]


def last_status_change_by_agent(changes: list[list]) -> list | None:
    """Latest change to PENDING or RESOLVED that names an agent."""
    for c in reversed(changes):
        if c[S_STATUS] in ("PENDING", "RESOLVED") and c[S_AGENT] is not None:
            return c
    return None


@dataclass(frozen=True)
class Resolution:
    change: list
    with_reply: bool
    resolution_time_us: int | None  # resolution − first INBOUND message


def resolution_cycles(state: dict, changes: list[list] | None = None, msgs: list[list] | None = None,
                      ) -> list[Resolution]:
    """Each resolution with its cycle (previous resolution's time, its time]."""
    if changes is None:
        changes = status_changes(state)
    if msgs is None:
        msgs = messages(state)
    outbound_times = sorted(m[M_T] for m in msgs if m[M_DIR] == "OUTBOUND")
    first_inbound = next((m[M_T] for m in msgs if m[M_DIR] == "INBOUND"), None)
    result = []
    previous = None
    for r in resolutions(changes):
        t = r[S_T]
        lo = bisect_right(outbound_times, previous) if previous is not None else 0
        hi = bisect_right(outbound_times, t)
        result.append(Resolution(r, hi > lo, None if first_inbound is None else t - first_inbound))
        previous = t
    return result


@dataclass(frozen=True)
class Response:
    new_change: list  # the NEW status change
    outbound: list  # the human outbound message

    @property
    def time_us(self) -> int:
        return self.outbound[M_T] - self.new_change[S_T]


def human_outbounds(state: dict, msgs: list[list] | None = None) -> list[list]:
    """Outbound messages an agent sent, by (time, event_id)."""
    return [m for m in (messages(state) if msgs is None else msgs) if m[M_DIR] == "OUTBOUND" and m[M_AGENT] is not None]


def responses(state: dict, changes: list[list] | None = None, outs: list[list] | None = None) -> list[Response]:
    """Pairs (NEW change n, human outbound h): h is the earliest human outbound at or
    after n, and n the latest NEW change at or before h."""
    if changes is None:
        changes = status_changes(state)
    news = [c for c in changes if c[S_STATUS] == "NEW"]
    if not news:
        return []
    if outs is None:
        outs = human_outbounds(state)
    new_times = [n[S_T] for n in news]
    out_times = [h[M_T] for h in outs]
    pairs = []
    for h in outs:
        i = bisect_right(new_times, h[M_T]) - 1
        if i < 0:
            continue
        n = news[i]
        if outs[bisect_left(out_times, n[S_T])] is h:
            pairs.append(Response(n, h))
    return pairs


@dataclass(frozen=True)
class LockSession:
    lock_id: str
    agent_id: str
    team_id: str | None
    acquired_us: int
    released_us: int
    kind: str  # "handle" | "no_reply" | "cherry_picking"

    @property
    def duration_us(self) -> int:
        return self.released_us - self.acquired_us


def lock_sessions(state: dict, changes: list[list] | None = None, outs: list[list] | None = None,
                  ) -> list[LockSession]:
    """Sessions whose both ends are known, classified (handle, no-reply, cherry-picking)."""
    acquired = state.get("la", {})
    released = state.get("lr", {})
    if not acquired or not released:
        return []
    if changes is None:
        changes = status_changes(state)
    if outs is None:
        outs = human_outbounds(state)
    sessions = []
    for lid in sorted(acquired.keys() & released.keys()):
        a, r = acquired[lid], released[lid]
        agent = a[L_AGENT]
        lo, hi = a[L_T], r[L_T]
        if any(h[M_AGENT] == agent and lo <= h[M_T] <= hi for h in outs):
            kind = "handle"
        elif any(c[S_STATUS] == "RESOLVED" and c[S_AGENT] == agent and lo <= c[S_T] <= hi for c in changes):
            kind = "no_reply"
        else:
            kind = "cherry_picking"
        sessions.append(LockSession(lid, agent, a[L_TEAM] if a[L_TEAM] is not None else r[L_TEAM], lo, hi, kind))
    return sessions


def annotations(state: dict) -> list[list]:
    return sorted(state.get("a", {}).values(), key=stamp)


def current_annotations(notes: list[list], prefix: str) -> dict[tuple, list]:
    """Latest applied/removed per (target, message) for topics or tags: those applied.

    Returns {(target_id, message_id): applied_fact}; message_id is None for topics.
    """
    latest: dict[tuple, list] = {}
    for a in notes:
        if a[A_KIND].startswith(prefix):
            latest[(a[A_TARGET], a[A_MESSAGE] if prefix == "tag." else None)] = a
    return {k: a for k, a in latest.items() if a[A_KIND].endswith(".applied")}


def ordered_current(current: dict[tuple, list]) -> list[str]:
    """Target ids, by the time of the application that made each current, then id."""
    return [a[A_TARGET] for a in sorted(current.values(), key=lambda a: (a[A_T], a[A_TARGET]))]


def current_topics(state: dict) -> list[str]:
    return ordered_current(current_annotations(annotations(state), "topic."))


def current_tags_by_message(state: dict) -> dict[str, list[str]]:
    by_message: dict[str, dict] = {}
    for key, a in current_annotations(annotations(state), "tag.").items():
        by_message.setdefault(key[1], {})[key] = a
    return {mid: ordered_current(cur) for mid, cur in by_message.items()}


def language(state: dict, msgs: list[list] | None = None) -> str | None:
    for m in reversed(messages(state) if msgs is None else msgs):
        if m[M_LANG]:
            return m[M_LANG]
    return None


def csat(state: dict) -> tuple[list, list | None] | None:
    """The latest sent survey and its latest answer (None when unanswered)."""
    sent = state.get("cs")
    if not sent:
        return None
    survey_id, s = max(sent.items(), key=lambda kv: stamp(kv[1]))
    return s, state.get("ca", {}).get(survey_id)


def message_view(state: dict, message_id: str, m: list) -> list:
    """The created message (a ``Message`` fact) with the latest updatable values applied."""
    upd = state.get("u", {}).get(message_id)
    if not upd:
        return m
    view = list(m)
    for field, pos in UPDATABLE.items():
        u = upd.get(field)
        if u is not None and (u[0], u[1]) > (m[M_T], m[M_EID]):
            view[pos] = u[2]
    return view


def message_last_updated(state: dict, message_id: str, m: list | None, tag_times: dict | None = None) -> int:
    """Latest event about a message: created, updated, deleted, tag change. ``tag_times``: the
    conversation's ``last_tag_times``, worked out once by a caller that asks about each message."""
    times = [m[M_T]] if m else []
    upd = state.get("u", {}).get(message_id)
    if upd and "_" in upd:
        times.append(upd["_"][0])
    dele = state.get("d", {}).get(message_id)
    if dele:
        times.append(dele[0])
    tagged = (last_tag_times(state) if tag_times is None else tag_times).get(message_id)
    if tagged is not None:
        times.append(tagged)
    return max(times)


def last_tag_times(state: dict) -> dict[str, int]:
    """{message ID: the time of its latest tag change}, of every message of the conversation."""
    latest: dict[str, int] = {}
    for a in state.get("a", {}).values():
        mid = a[A_MESSAGE]
        if mid is not None and a[A_KIND].startswith("tag.") and (mid not in latest or a[A_T] > latest[mid]):
            latest[mid] = a[A_T]
    return latest


def _all_facts(state: dict):
    """Every fact that counts for Last Updated (lock sessions need both ends,
    answers need their survey to have been sent)."""
    yield from state.get("m", {}).values()
    for upd in state.get("u", {}).values():
        yield upd["_"]
        yield upd["^"]
    yield from state.get("d", {}).values()
    yield from state.get("s", {}).values()
    acquired, released = state.get("la", {}), state.get("lr", {})
    for lid in acquired.keys() & released.keys():
        yield acquired[lid]
        yield released[lid]
    sent = state.get("cs", {})
    yield from sent.values()
    for sid, answer in state.get("ca", {}).items():
        if sid in sent:
            yield answer
            yield state["cf"][sid]
    yield from state.get("a", {}).values()


def last_updated(state: dict) -> int:
    return max(f[0] for f in _all_facts(state))


class Derived:
    """What the people's contributions and the summary both derive from a conversation's facts,
    sorted and paired once per write: messages and status changes by (time, event_id), the
    human outbounds, responses, resolution cycles and lock sessions."""

    __slots__ = ("messages", "changes", "outbounds", "responses", "cycles", "sessions")

    def __init__(self, state: dict):
        self.messages = msgs = messages(state)
        self.changes = changes = status_changes(state)
        self.outbounds = outs = human_outbounds(state, msgs)
        self.responses = responses(state, changes, outs)
        self.cycles = resolution_cycles(state, changes, msgs)
        self.sessions = lock_sessions(state, changes, outs)

    def channel(self) -> str | None:
        return self.messages[0][M_CHANNEL] if self.messages else None

    def contact(self) -> str | None:
        return self.messages[0][M_CONTACT] if self.messages else None


def derive(state: dict) -> Derived:
    return Derived(state)


def summary(state: dict, derived: Derived | None = None) -> dict | None:
    """What one row of the conversations reports needs, derived once when the state is written.

    Nothing here depends on an export's request (range, zone, names), so a
    report reads this small header instead of decoding and re-deriving every
    message of every conversation. None for a conversation that does not exist.
    """
    if not exists(state):
        return None
    d = derived or Derived(state)
    changes = d.changes
    first = next((c for c in changes if c[S_STATUS] == "RESOLVED"), None)
    last_change = last_status_change_by_agent(changes)
    cycles = d.cycles
    latest = cycles[-1] if cycles else None
    r = latest.change if latest else None
    first_response = d.responses[:1]
    totals = {"handle": 0, "no_reply": 0, "cherry_picking": 0}
    for s in d.sessions:
        totals[s.kind] += s.duration_us
    msgs = d.messages
    inbound = sum(1 for m in msgs if m[M_DIR] == "INBOUND")
    survey = csat(state)
    answer = survey[1] if survey else None
    return {
        "channel": d.channel(), "contact": d.contact(), "created": msgs[0][M_T] if msgs else created_at(state),
        "first_resolved": first[S_T] if first else None,
        "last_agent": last_change[S_AGENT] if last_change else None,
        "last_team": last_change[S_TEAM] if last_change else None,
        "status": current_status(changes),
        "resolution": [r[S_RESOLVED_BY], r[S_REASON], r[S_COMMENT], r[S_TRIGGER], r[S_T], r[S_AGENT]] if r else None,
        "resolution_time": latest.resolution_time_us if latest else None,
        "inbound": inbound, "outbound": len(msgs) - inbound,
        "first_response": first_response[0].time_us if first_response else None,
        "handle": totals["handle"], "no_reply": totals["no_reply"], "cherry_picking": totals["cherry_picking"],
        "topics": current_topics(state), "last_updated": last_updated(state), "language": language(state, msgs),
        # None: no survey sent; []: sent, no answer; else [score, completed status, question, answer]
        "csat": None if survey is None else [] if answer is None else [
            answer[C_SCORE], answer[C_COMPLETED], answer[C_QUESTION], answer[C_ANSWER]],
    }


# A stored conversation is its summary's JSON, a newline, then the state's JSON (orjson never
# writes a raw newline), so a report that only needs the summary decodes a few hundred bytes.
_dumps = orjson.dumps
_loads = orjson.loads


def encode(state: dict, derived: Derived | None = None) -> bytes:
    return _dumps(summary(state, derived)) + b"\n" + _dumps(state)


def decode(value: bytes | None) -> dict | None:
    if value is None:
        return None
    return _loads(memoryview(value)[value.index(b"\n") + 1:])


def head(value: bytes) -> bytes:
    """The summary's part of a stored value: what the store keeps again for the reports that read
    only summaries (its heads); a value of no summary is its own head."""
    end = value.find(b"\n")
    return value if end < 0 else value[:end]


def decode_head(value: bytes) -> dict | None:
    """The summary from its ``head``."""
    return _loads(value)
