"""Hostile input.

Many rejected records of many kinds are mixed into a valid simulated stream,
produced with a raw aiokafka producer straight to the input topics. Each one
must arrive once in ``<prefix>dead-letters`` with its original key and value
bytes and the headers source_topic / source_partition / source_offset / reason
(a specific reason); nothing else may be dead-lettered; no state may change (the
twelve reports equal the clean model over the valid events only) and the worker
stays up without a traceback.

The rejection rules are taken from the contract (docs/events.md), not from the
production validator: the required fields per type are listed here again.
"""
import random
import time

import orjson
import pytest

from convoflow.tools.publish import route
from tests.chaos.conftest import MIB, SIZES, simulated
from tests.reference.contract import REQUIRED

TZ, FIRST, LAST, AS_OF = "UTC", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

TOPICS = ("messages", "status-changes", "locks", "presence", "csat", "annotations", "contact-attributes", "directory")

ENVELOPE = ("event_id", "type", "occurred_at")
WHO = ("agent_id", "team_id", "virtual_agent_id")
# events.md: some optional fields per type (a wrong type rejects the record like a required one)
OPTIONAL = {
    "message.created": ("origin", "outbound_message_type", "content", "language", "post_url") + WHO,
    "message.updated": ("content", "post_url", "message_type", "system_user_type"),
    "conversation.status_changed": WHO,
    "lock.acquired": ("team_id",), "lock.released": ("team_id",),
    "presence.changed": ("away_state",),
    "csat.sent": ("agent_id", "team_id"),
    "csat.answered": ("follow_up_question", "follow_up_answer"),
    "topic.applied": WHO, "topic.removed": WHO, "tag.applied": WHO, "tag.removed": WHO,
    "channel.upserted": ("name", "display_name"), "agent.upserted": ("name", "email", "reference"),
    "team.upserted": ("name",), "topic.upserted": ("name",), "tag.upserted": ("name",), "virtual_agent.upserted": ("name",),
}
ENUMS = {"direction": ("inbound", "SIDEWAYS", "Inbound", ""), "status": ("CLOSED", "new", "OPEN"),
         "state": ("BUSY", "available", "DND"), "resolved_by": ("ROBOT", "agent"), "resolve_trigger": ("MANUAL", "")}
BAD_TIMES = ("2024-02-30T10:00:00Z", "2023-02-29T10:00:00Z", "2024-07-15T10:00:00", "yesterday", "2024-07-15T24:00:00Z",
             "2024-07-15T10:00:60Z", "2024-13-01T00:00:00Z", "2024-07-15T10:61:00Z", "2024-07-15", "",
             "2024-07-15T10:00:00+25:00", "\uff12\uff10\uff12\uff14-07-15T10:00:00Z", "2024-07-15T10:00:00.Z",
             "15/07/2024 10:00", "0000-01-01T00:00:00Z", 1721037600, 1.5, True, ["2024-07-15T10:00:00Z"])
BAD_SCORES = (0, 6, -1, 100, "5", 5.0, 4.5, True, [5], {"v": 5})
NOT_JSON = (b"{", b"not json at all", b'{"event_id": "x",}', b"{'single': 'quotes'}", b'{"a": NaN}', b"\x00\x01\x02",
            b'{"event_id": "e-1"} trailing')
NOT_OBJECT = (b"[]", b"[1, 2, 3]", b"42", b'"a string"', b"null", b"true", b"-0.5", b'[{"type": "message.created"}]')
BAD_UTF8 = (b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xe2\x82")
SPOOFED = [("reason", b"spoofed"), ("source_topic", b"evil"), ("source_offset", b"-1")]


class Hostile:
    """One record that must be rejected: where it goes, its bytes, and words its reason must contain."""

    def __init__(self, kind, topic, key, value, expect, headers=None):
        self.kind, self.topic, self.key, self.value, self.expect, self.headers = kind, topic, key, value, expect, headers
        self.meta = None

    def reason_ok(self, reason: str) -> bool:
        """Every item of `expect` (alternatives split by |) is in the reason, case-insensitively."""
        r = reason.lower()
        return all(any(alt.lower() in r for alt in item.split("|")) for item in self.expect)


def dumps(obj) -> bytes:
    return orjson.dumps(obj)


def make_hostile(rng: random.Random, base: dict, kind: str, huge: bool = False) -> Hostile:
    """A broken variant of a valid event `base` (same event_id: a rejected record claims no id)."""
    topic, key = route(base)
    key = key.encode()
    e = dict(base)
    etype = e["type"]
    if kind == "not_json":
        return Hostile(kind, topic, key, rng.choice(NOT_JSON + (dumps(e)[:-1],)), ("json",))
    if kind == "not_object":
        return Hostile(kind, topic, key, rng.choice(NOT_OBJECT + (dumps([e]),)), ("object",))
    if kind == "unknown_type":
        e["type"] = rng.choice(["message.exploded", "Message.Created", "", "presence.changed.v2", "csat.sent ", "*"])
        return Hostile(kind, topic, key, dumps(e), ("type",))
    if kind == "type_not_a_string":
        e["type"] = rng.choice([7, ["message.created"], {"t": 1}, True])
        return Hostile(kind, topic, key, dumps(e), ("type",))
    if kind == "wrong_topic":
        other = rng.choice([t for t in TOPICS if t != topic])
        return Hostile(kind, other, key, dumps(e), ("topic",))
    if kind == "missing_field":
        field = rng.choice(ENVELOPE + REQUIRED[etype])
        del e[field]
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "null_field":
        field = rng.choice(ENVELOPE + REQUIRED[etype])
        e[field] = None
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "mistyped_field":
        fields = [f for f in ("event_id",) + REQUIRED[etype]]
        field = rng.choice(fields)
        e[field] = rng.choice([12345, ["x"], {"id": "x"}, True, 1.5])
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "mistyped_optional":
        field = rng.choice(OPTIONAL.get(etype) or REQUIRED[etype])
        e[field] = rng.choice([12345, ["x"], {"id": "x"}, False])
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "bad_time":
        e["occurred_at"] = rng.choice(BAD_TIMES)
        return Hostile(kind, topic, key, dumps(e), ("occurred_at",))
    if kind == "bad_created_at":
        e = {"event_id": e["event_id"], "type": "team.upserted", "occurred_at": e["occurred_at"], "team_id": "t-1",
             "created_at": rng.choice(BAD_TIMES[:12])}
        return Hostile(kind, "directory", b"team:t-1", dumps(e), ("created_at",))
    if kind == "bad_enum":
        field = rng.choice(sorted(f for f in ENUMS if f in e) or ["direction"])
        if field not in e:  # a message.created of the base conversation
            e = {"event_id": e["event_id"], "type": "message.created", "occurred_at": e["occurred_at"], "message_id": "m-x",
                 "conversation_id": e.get("conversation_id", "c-000001"), "channel_id": "ch-1",
                 "contact_profile_id": "ct-1", "direction": "INBOUND", "message_type": "TEXT"}
            topic, key = "messages", e["conversation_id"].encode()
        e[field] = rng.choice(ENUMS[field])
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "bad_score":
        e = {"event_id": e["event_id"], "type": "csat.answered", "occurred_at": e["occurred_at"], "survey_id": "s-1",
             "conversation_id": e.get("conversation_id", "c-000001"), "completed_status": "COMPLETED",
             "score": rng.choice(BAD_SCORES)}
        return Hostile(kind, "csat", e["conversation_id"].encode(), dumps(e), ("score",))
    if kind == "status_without_its_fields":
        e = {"event_id": e["event_id"], "type": "conversation.status_changed", "occurred_at": e["occurred_at"],
             "conversation_id": e.get("conversation_id", "c-000001")}
        status, missing = rng.choice([("NEW", "started_by"), ("RESOLVED", "resolved_by"), ("RESOLVED", "resolve_trigger")])
        e.update(status=status, started_by="CONTACT_MESSAGE", resolved_by="AGENT", resolve_trigger="HUMAN_AGENT")
        del e[missing]
        return Hostile(kind, "status-changes", e["conversation_id"].encode(), dumps(e), (missing,))
    if kind == "huge":
        e["content"] = "x" * (MIB + rng.randrange(1, 3 * MIB if huge else 1000))
        return Hostile(kind, topic, key, dumps(e), ("mib|bytes|large|size",))
    if kind == "invalid_utf8":
        raw = dumps(e)
        cut = raw.index(b'"', raw.index(b'"event_id"') + 11) + 1  # inside the event_id string
        return Hostile(kind, topic, key, raw[:cut] + rng.choice(BAD_UTF8) + raw[cut:], ("utf-8|utf8|unicode",))
    if kind == "empty":
        return Hostile(kind, topic, key, b"", ("empty",))
    if kind == "id_too_long":
        field = rng.choice(["event_id"] + [f for f in REQUIRED[etype] if f.endswith("_id")])
        e[field] = "i" * rng.choice([257, 300, 5000])
        return Hostile(kind, topic, key, dumps(e), (field,))
    if kind == "empty_id":
        field = rng.choice(["event_id"] + [f for f in REQUIRED[etype] if f.endswith("_id")])
        e[field] = ""
        return Hostile(kind, topic, key, dumps(e), (field,))
    raise AssertionError(kind)


KINDS = ("not_json", "not_object", "unknown_type", "type_not_a_string", "wrong_topic", "missing_field", "null_field",
         "mistyped_field", "mistyped_optional", "bad_time", "bad_created_at", "bad_enum", "bad_score",
         "status_without_its_fields", "invalid_utf8", "empty", "id_too_long", "empty_id")

PLAN = {
    "reduced": dict(conversations=120, hostile=500, huge=3, tombstones=20, unkeyed=10),
    "full": dict(conversations=1500, hostile=10_000, huge=30, tombstones=300, unkeyed=100),
}


def build_stream(rng, noisy, plan):
    """The valid stream with hostile records mixed in; each goes right before the valid record it copies."""
    n = len(noisy)
    kinds = ["huge"] * plan["huge"] + [rng.choice(KINDS) for _ in range(plan["hostile"] - plan["huge"])]
    rng.shuffle(kinds)
    at: dict[int, list[str]] = {}
    for kind in kinds:
        # (never copying the last record, the 1 MiB boundary: any change would only make it too big)
        at.setdefault(rng.randrange(n - 1), []).append(kind)
    unkeyed = set(rng.sample(range(n), plan["unkeyed"]))
    tombstone_at = set(rng.sample(range(n), plan["tombstones"]))
    out = []  # Hostile, or (topic, key, value) of a record that is not rejected
    for i, e in enumerate(noisy):
        for kind in at.get(i, ()):
            h = make_hostile(rng, e, kind, huge=rng.random() < 0.3)
            if rng.random() < 0.05:
                h.key = rng.choice([None, b"\xff\xfe\x00binary-key", b""])
            if rng.random() < 0.05:
                h.headers = list(SPOOFED)
            out.append(h)
        topic, key = route(e)
        if i in tombstone_at:  # a tombstone is ignored, not rejected
            out.append((topic, key.encode(), None))
        out.append((topic, None if i in unkeyed else key.encode(), dumps(e)))
    return out


@pytest.mark.parametrize("size", SIZES)
def test_rejected_records_are_dead_lettered_exactly_and_change_nothing(chaos_deployment, figures, rng, size):
    plan = PLAN[size]
    events, noisy = simulated(plan["conversations"], seed=rng.randrange(1, 10**6))
    # A valid record of exactly 1 MiB is accepted (only larger ones are rejected).
    boundary = {"event_id": "boundary-1mib", "type": "message.created", "occurred_at": "2024-10-26T10:00:00Z",
                "message_id": "m-boundary", "conversation_id": "c-boundary", "channel_id": "ch-1",
                "contact_profile_id": "ct-boundary", "direction": "INBOUND", "message_type": "TEXT", "content": ""}
    boundary["content"] = "b" * (MIB - len(dumps(boundary)))
    assert len(dumps(boundary)) == MIB
    events = events + [boundary]
    noisy = noisy + [boundary]
    stream = build_stream(rng, noisy, plan)
    hostile = [h for h in stream if isinstance(h, Hostile)]
    d = chaos_deployment()
    worker = d.start_worker()
    t0 = time.monotonic()
    records = [(h.topic, h.key, h.value, h.headers) if isinstance(h, Hostile) else (h[0], h[1], h[2], None) for h in stream]
    metas = []
    for i in range(0, len(records), 5000):
        metas += d.produce_raw(records[i:i + 5000])
    for item, meta in zip(stream, metas):
        if isinstance(item, Hostile):
            item.meta = meta
    figures["valid_events"] = len(events)
    figures["valid_records"] = len(noisy)
    figures["hostile_records"] = len(hostile)
    figures["hostile_kinds"] = {k: sum(h.kind == k for h in hostile) for k in KINDS + ("huge",)}
    figures["tombstones"] = plan["tombstones"]
    figures["unkeyed_valid_records"] = plan["unkeyed"]
    figures["produce_seconds"] = round(time.monotonic() - t0, 1)

    mismatches = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=figures)
    figures["processed_seconds"] = round(time.monotonic() - t0, 1)

    by_source = {(h.meta.topic, h.meta.partition, h.meta.offset): h for h in hostile}
    letters = d.read_topic("dead-letters")
    figures["dead_letters"] = len(letters)
    problems, seen = [], set()
    for r in letters:
        headers = {}
        for k, v in r.headers:
            headers.setdefault(k, []).append(v)
        names = sorted(headers)
        if names != ["reason", "source_offset", "source_partition", "source_topic"] or any(len(v) != 1 for v in headers.values()):
            problems.append(f"dead letter at offset {r.offset}: headers {r.headers!r:.300}")
            continue
        try:
            source = (headers["source_topic"][0].decode(), int(headers["source_partition"][0]), int(headers["source_offset"][0]))
        except ValueError:
            problems.append(f"dead letter at offset {r.offset}: unreadable headers {r.headers!r:.300}")
            continue
        reason = headers["reason"][0].decode("utf-8", "replace")
        h = by_source.get(source)
        if h is None:
            problems.append(f"dead letter of a record that is not hostile: {source} reason {reason!r} value {r.value!r:.200}")
            continue
        if source in seen:
            problems.append(f"{source} dead-lettered twice")
        seen.add(source)
        if r.key != h.key:
            problems.append(f"{h.kind} {source}: key {r.key!r:.80} is not the original {h.key!r:.80}")
        if r.value != h.value:
            problems.append(f"{h.kind} {source}: value ({len(r.value or b'')} bytes) is not the original ({len(h.value or b'')} bytes)")
        if not h.reason_ok(reason):
            problems.append(f"{h.kind} {source}: reason {reason!r:.200} does not name {h.expect} (value {h.value[:160]!r})")
    missing = [h for s, h in by_source.items() if s not in seen]
    for h in missing[:20]:
        problems.append(f"{h.kind} not dead-lettered: {h.topic} key {h.key!r:.60} value {h.value[:160]!r}")
    figures["dead_letters_missing"] = len(missing)
    figures["dead_letter_problems"] = len(problems)
    health = worker.health() or {}
    figures["worker_counts"] = health.get("counts")

    assert worker.alive(), "the worker died"
    assert not problems, f"{len(problems)} dead-letter problems (of {len(hostile)} hostile records):\n" + "\n".join(problems[:40])
    assert len(letters) == len(hostile)
    assert not mismatches, "reports changed by rejected records:\n" + "\n\n".join(mismatches)
