"""Tests of convoflow.contract.events against the event contract (docs/events.md)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.contract import events, times
from convoflow.contract.events import (
    CONVERSATION_TOPICS, MAX_RECORD_BYTES, TOPICS, TYPE_TOPIC, Rejected, parse_record, record_key, topic_of,
)
from convoflow.contract.times import parse_time
from tests.reference.contract import REQUIRED as CONTRACT_REQUIRED

TS = "2024-07-18T09:15:02.123Z"
TS_US = 1721294102123000


def ev(etype: str, event_id: str = "e-1", occurred_at: str = TS, **fields) -> dict:
    return {"event_id": event_id, "type": etype, "occurred_at": occurred_at, **fields}


# A valid example of every event type, with every contract field filled in.
VALID: dict[str, dict] = {
    "message.created": ev(
        "message.created",
        message_id="m-1", conversation_id="c-1", channel_id="ch-1",
        contact_profile_id="cp-1", direction="OUTBOUND", message_type="TEXT",
        origin="AGENT", outbound_message_type="REPLY", agent_id="a-17",
        team_id="t-1", virtual_agent_id="va-1",
        contact_primary_identifier="@someone", contact_secondary_identifier="+3161234",
        system_user_type="AGENT", content='Hi, "you",\nhow are you? 👋',
        post_url="https://example.com/p/1", language="en",
    ),
    "message.updated": ev(
        "message.updated", message_id="m-1", conversation_id="c-1",
        content="", post_url="https://x", message_type="IMAGE", system_user_type="BOT",
    ),
    "message.deleted": ev("message.deleted", message_id="m-1", conversation_id="c-1"),
    "conversation.status_changed": ev(
        "conversation.status_changed", conversation_id="c-1", status="RESOLVED",
        agent_id="a-17", team_id="t-1", virtual_agent_id="va-1",
        resolved_by="AGENT", resolve_trigger="HUMAN_AGENT",
        resolve_reason="done", resolve_comment="all good",
    ),
    "lock.acquired": ev(
        "lock.acquired", lock_id="l-1", conversation_id="c-1", agent_id="a-17", team_id="t-1"
    ),
    "lock.released": ev(
        "lock.released", lock_id="l-1", conversation_id="c-1", agent_id="a-17", team_id="t-1"
    ),
    "presence.changed": ev(
        "presence.changed", agent_id="a-17", state="AWAY", away_state="Lunch"
    ),
    "csat.sent": ev(
        "csat.sent", survey_id="s-1", conversation_id="c-1", agent_id="a-17", team_id="t-1"
    ),
    "csat.answered": ev(
        "csat.answered", survey_id="s-1", conversation_id="c-1",
        completed_status="COMPLETED", score=5,
        follow_up_question="Why?", follow_up_answer="Because",
    ),
    "topic.applied": ev(
        "topic.applied", conversation_id="c-1", topic_id="tp-1",
        agent_id="a-17", team_id="t-1", virtual_agent_id="va-1",
    ),
    "topic.removed": ev(
        "topic.removed", conversation_id="c-1", topic_id="tp-1", agent_id="a-17"
    ),
    "tag.applied": ev(
        "tag.applied", conversation_id="c-1", message_id="m-1", tag_id="tg-1",
        agent_id="a-17", team_id="t-1", virtual_agent_id="va-1",
    ),
    "tag.removed": ev(
        "tag.removed", conversation_id="c-1", message_id="m-1", tag_id="tg-1",
        virtual_agent_id="va-1",
    ),
    "contact.attribute_set": ev(
        "contact.attribute_set", contact_profile_id="cp-1", attribute_id="at-1",
        attribute_name="Favourite colour", attribute_type="TEXT", value="blue, or \"green\"",
    ),
    "contact.attribute_cleared": ev(
        "contact.attribute_cleared", contact_profile_id="cp-1", attribute_id="at-1"
    ),
    "channel.upserted": ev(
        "channel.upserted", channel_id="ch-1", medium="whatsapp",
        name="Support NL", display_name="Support",
    ),
    "agent.upserted": ev(
        "agent.upserted", agent_id="a-17", name="Ann", email="ann@example.com", reference="R1"
    ),
    "team.upserted": ev(
        "team.upserted", team_id="t-1", name="Tier 1", created_at="2023-01-02T03:04:05+01:00"
    ),
    "topic.upserted": ev("topic.upserted", topic_id="tp-1", name="Billing"),
    "topic.deleted": ev("topic.deleted", topic_id="tp-1"),
    "tag.upserted": ev("tag.upserted", tag_id="tg-1", name="vip"),
    "tag.deleted": ev("tag.deleted", tag_id="tg-1"),
    "virtual_agent.upserted": ev("virtual_agent.upserted", virtual_agent_id="va-1", name="Bot"),
}

# Required fields per type, written out from the contract (independent of the module's
# tables); a status change is checked with the RESOLVED example, which requires two more.
REQUIRED: dict[str, tuple[str, ...]] = {
    **CONTRACT_REQUIRED,
    "conversation.status_changed": CONTRACT_REQUIRED["conversation.status_changed"] + ("resolved_by", "resolve_trigger"),
}

EXPECTED_TOPIC = {
    "message.created": "messages", "message.updated": "messages",
    "message.deleted": "messages",
    "conversation.status_changed": "status-changes",
    "lock.acquired": "locks", "lock.released": "locks",
    "presence.changed": "presence",
    "csat.sent": "csat", "csat.answered": "csat",
    "topic.applied": "annotations", "topic.removed": "annotations",
    "tag.applied": "annotations", "tag.removed": "annotations",
    "contact.attribute_set": "contact-attributes",
    "contact.attribute_cleared": "contact-attributes",
    "channel.upserted": "directory", "agent.upserted": "directory",
    "team.upserted": "directory", "topic.upserted": "directory",
    "topic.deleted": "directory", "tag.upserted": "directory",
    "tag.deleted": "directory", "virtual_agent.upserted": "directory",
}

EXPECTED_KEY = {
    "message.created": "c-1", "message.updated": "c-1", "message.deleted": "c-1",
    "conversation.status_changed": "c-1", "lock.acquired": "c-1", "lock.released": "c-1",
    "presence.changed": "a-17", "csat.sent": "c-1", "csat.answered": "c-1",
    "topic.applied": "c-1", "topic.removed": "c-1", "tag.applied": "c-1",
    "tag.removed": "c-1", "contact.attribute_set": "cp-1",
    "contact.attribute_cleared": "cp-1", "channel.upserted": "channel:ch-1",
    "agent.upserted": "agent:a-17", "team.upserted": "team:t-1",
    "topic.upserted": "topic:tp-1", "topic.deleted": "topic:tp-1",
    "tag.upserted": "tag:tg-1", "tag.deleted": "tag:tg-1",
    "virtual_agent.upserted": "virtual_agent:va-1",
}


def enc(obj) -> bytes:
    return orjson.dumps(obj)


def parse(event: dict) -> dict | None:
    return parse_record(TYPE_TOPIC[event["type"]], enc(event))


def reject(topic: str, value: bytes) -> str:
    with pytest.raises(Rejected) as info:
        parse_record(topic, value)
    assert str(info.value) == info.value.reason
    return info.value.reason


def with_(etype: str, **changes) -> dict:
    e = copy.deepcopy(VALID[etype])
    e.update(changes)
    return e


def without(etype: str, *names: str) -> dict:
    e = copy.deepcopy(VALID[etype])
    for n in names:
        del e[n]
    return e


# --------------------------------------------------------------------------
# Tables


def test_tables():
    assert TOPICS == ("messages", "status-changes", "locks", "presence", "csat",
                      "annotations", "contact-attributes", "directory")
    assert CONVERSATION_TOPICS == ("messages", "status-changes", "locks", "csat", "annotations")
    assert TYPE_TOPIC == EXPECTED_TOPIC
    assert set(VALID) == set(TYPE_TOPIC)
    assert MAX_RECORD_BYTES == 1024 * 1024


@pytest.mark.parametrize("etype", sorted(EXPECTED_TOPIC))
def test_topic_of(etype):
    assert topic_of(etype) == EXPECTED_TOPIC[etype]


@pytest.mark.parametrize("bad", ["message.sent", "", "MESSAGE.CREATED", None, 5, ["x"]])
def test_topic_of_unknown(bad):
    with pytest.raises(Rejected, match="unknown event type"):
        topic_of(bad)


# --------------------------------------------------------------------------
# Valid events


@pytest.mark.parametrize("etype", sorted(VALID))
def test_every_type_parses(etype):
    event = VALID[etype]
    out = parse(event)
    assert out == {**event, "t": TS_US}
    assert record_key(out) == EXPECTED_KEY[etype]


@pytest.mark.parametrize("etype", sorted(REQUIRED))
def test_minimal_events_parse(etype):
    """Only the required fields."""
    base = {k: VALID[etype][k] for k in ("event_id", "type", "occurred_at")}
    base.update({k: VALID[etype][k] for k in REQUIRED[etype]})
    assert parse(base) == {**base, "t": TS_US}


def test_record_key_unknown_type():
    with pytest.raises(Rejected):
        record_key({"type": "nope"})


def test_tombstone_is_none():
    for topic in TOPICS:
        assert parse_record(topic, None) is None


def test_bytearray_and_memoryview():
    raw = enc(VALID["message.deleted"])
    expect = parse_record("messages", raw)
    assert parse_record("messages", bytearray(raw)) == expect
    assert parse_record("messages", memoryview(raw)) == expect


def test_status_new_and_pending():
    new = ev("conversation.status_changed", conversation_id="c-1", status="NEW",
             started_by="CONTACT_MESSAGE", handover_reason="ERROR",
             inbound_message_id="m-1", virtual_agent_id="va-1")
    assert parse(new) == {**new, "t": TS_US}
    pending = ev("conversation.status_changed", conversation_id="c-1", status="PENDING",
                 agent_id="a-17")
    assert parse(pending) == {**pending, "t": TS_US}


def test_fields_of_another_status_are_extras():
    # resolved_by on a NEW change is not a contract field of NEW: ignored, even if invalid
    e = ev("conversation.status_changed", conversation_id="c-1", status="NEW",
           started_by="AGENT_MOVED", resolved_by="NONSENSE", resolve_trigger=5)
    out = parse(e)
    assert "resolved_by" not in out and "resolve_trigger" not in out
    e = ev("conversation.status_changed", conversation_id="c-1", status="PENDING",
           started_by=7)
    assert "started_by" not in parse(e)


def test_extra_fields_dropped():
    e = with_("message.created", extra="x", nested={"a": [1, 2]}, n=None, score="bad")
    raw = enc(e)[:-1] + b', "big": 1000000000000000000000000000000}'
    out = parse_record("messages", raw)
    assert out == {**VALID["message.created"], "t": TS_US}
    assert "extra" not in out and "nested" not in out and "big" not in out


def test_a_field_named_t_is_an_extra():
    # "t" is the parsed occurred_at, never the producer's
    e = with_("presence.changed", t=5)
    assert parse(e) == {**VALID["presence.changed"], "t": TS_US}


@pytest.mark.parametrize("etype,field", [
    ("message.created", "agent_id"), ("message.created", "content"),
    ("message.created", "language"), ("conversation.status_changed", "resolve_reason"),
    ("csat.answered", "score"), ("presence.changed", "away_state"),
    ("team.upserted", "created_at"), ("lock.acquired", "team_id"),
    ("conversation.status_changed", "virtual_agent_id"),
])
def test_null_optional_equals_absent(etype, field):
    assert parse(with_(etype, **{field: None})) == parse(without(etype, field))
    assert field not in parse(with_(etype, **{field: None}))


def test_free_text_any_string():
    for text in ["", " ", "a,b", 'q"uote', "line\nbreak\r\n", "=1+2", "日本語 ✓ 🎉", "\x00", "\u2028"]:
        e = with_("message.created", content=text)
        assert parse(e)["content"] == text
        a = with_("contact.attribute_set", value=text, attribute_name=text)
        out = parse(a)
        assert out["value"] == text and out["attribute_name"] == text


def test_required_free_text_may_be_empty():
    assert parse(with_("message.created", message_type=""))["message_type"] == ""
    assert parse(with_("csat.answered", completed_status=""))["completed_status"] == ""


def test_id_limits():
    assert parse(with_("message.deleted", message_id="x" * 256))["message_id"] == "x" * 256
    # characters, not bytes: 256 four-byte characters are fine
    assert parse(with_("message.deleted", message_id="😀" * 256))["message_id"] == "😀" * 256
    assert parse(with_("message.deleted", event_id="e" * 256))["event_id"] == "e" * 256
    assert parse(with_("message.deleted", message_id=" "))["message_id"] == " "


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_scores_accepted(score):
    assert parse(with_("csat.answered", score=score))["score"] == score


def test_exactly_one_mib_accepted():
    e = with_("message.created", content="")
    size = len(enc(e))
    e["content"] = "x" * (MAX_RECORD_BYTES - size)
    raw = enc(e)
    assert len(raw) == MAX_RECORD_BYTES
    assert parse_record("messages", raw)["content"] == e["content"]


# --------------------------------------------------------------------------
# Rejections


def test_too_large():
    e = with_("message.created", content="")
    e["content"] = "x" * (MAX_RECORD_BYTES + 1 - len(enc(e)))
    raw = enc(e)
    assert len(raw) == MAX_RECORD_BYTES + 1
    assert reject("messages", raw) == "record is 1048577 bytes, larger than 1 MiB"
    # checked before decoding: even garbage is reported as too large
    assert reject("messages", b"\xff" * (2 * MAX_RECORD_BYTES)) == (
        "record is 2097152 bytes, larger than 1 MiB"
    )


@pytest.mark.parametrize("value,reason", [
    (b"", "value is empty (0 bytes), not a JSON object"),
    (b"not json", "value is not valid JSON"),
    (b'{"event_id": "e-1",', "value is not valid JSON"),
    (b'{"a": NaN}', "value is not valid JSON"),
    (b"\xef\xbb\xbf{}", "value is not valid JSON"),
    (b'{"a": "\xff"}', "value is not valid UTF-8"),
    (b'{"event_id": "e-\xc3\x28"}', "value is not valid UTF-8"),
    (b'{"a": "\xed\xa0\x80"}', "value is not valid UTF-8"),
    (b"[1, 2]", "value is not a JSON object (got list)"),
    (b'"message.created"', "value is not a JSON object (got string)"),
    (b"42", "value is not a JSON object (got integer)"),
    (b"4.5", "value is not a JSON object (got float)"),
    (b"true", "value is not a JSON object (got boolean)"),
    (b"null", "value is not a JSON object (got null)"),
])
def test_not_a_json_object(value, reason):
    assert reject("messages", value).startswith(reason)


@pytest.mark.parametrize("event,reason", [
    (without("message.deleted", "event_id"), "missing required field 'event_id'"),
    (with_("message.deleted", event_id=None), "required field 'event_id' is null"),
    (with_("message.deleted", event_id=""), "field 'event_id' must be a non-empty id, got ''"),
    (with_("message.deleted", event_id=12), "field 'event_id' must be a string id, got 12"),
    (with_("message.deleted", event_id="e" * 257),
     "field 'event_id' is 257 characters long, an id may have at most 256"),
    (without("message.deleted", "type"), "missing required field 'type'"),
    (with_("message.deleted", type=3), "field 'type' must be a string, got 3"),
    (with_("message.deleted", type=["message.deleted"]), "field 'type' must be a string, got a list"),
    (with_("message.deleted", type="message.sent"), "unknown event type 'message.sent'"),
    (with_("message.deleted", type="Message.Deleted"), "unknown event type 'Message.Deleted'"),
    (with_("lock.acquired"), "type 'lock.acquired' does not belong on topic 'messages'"),
    (with_("channel.upserted"), "type 'channel.upserted' does not belong on topic 'messages'"),
    (without("message.deleted", "occurred_at"), "missing required field 'occurred_at'"),
    (with_("message.deleted", occurred_at=1721294102),
     "field 'occurred_at' must be an RFC 3339 string, got 1721294102"),
    (with_("message.deleted", occurred_at="2024-13-01T00:00:00Z"),
     "invalid occurred_at '2024-13-01T00:00:00Z': month 13 out of range"),
])
def test_envelope_rejections(event, reason):
    assert reject("messages", enc(event)).startswith(reason)


def test_unknown_topic():
    assert reject("export-requests", enc(VALID["message.deleted"])) == (
        "unknown topic 'export-requests'"
    )


MISSING_CASES = [(t, f) for t in ("message.created", "conversation.status_changed",
                                   "csat.answered", "contact.attribute_set",
                                   "tag.applied", "channel.upserted", "presence.changed",
                                   "lock.released", "virtual_agent.upserted")
                 for f in REQUIRED[t]]


@pytest.mark.parametrize("etype,field", MISSING_CASES)
def test_missing_required_field(etype, field):
    topic = TYPE_TOPIC[etype]
    assert reject(topic, enc(without(etype, field))) == f"missing required field {field!r}"
    assert reject(topic, enc(with_(etype, **{field: None}))) == f"required field {field!r} is null"


def test_status_conditional_requirements():
    new = ev("conversation.status_changed", conversation_id="c-1", status="NEW")
    assert reject("status-changes", enc(new)) == "missing required field 'started_by'"
    res = without("conversation.status_changed", "resolve_trigger")
    assert reject("status-changes", enc(res)) == "missing required field 'resolve_trigger'"
    res = without("conversation.status_changed", "resolved_by")
    assert reject("status-changes", enc(res)) == "missing required field 'resolved_by'"
    new = with_("conversation.status_changed", status="NEW", started_by=1)
    assert reject("status-changes", enc(new)) == "field 'started_by' must be a string, got 1"
    new = ev("conversation.status_changed", conversation_id="c-1", status="NEW",
             started_by="X", inbound_message_id="")
    assert reject("status-changes", enc(new)) == (
        "field 'inbound_message_id' must be a non-empty id, got ''"
    )


@pytest.mark.parametrize("etype,field,value,reason", [
    ("message.created", "direction", "inbound",
     "field 'direction' must be one of INBOUND, OUTBOUND, got 'inbound'"),
    ("message.created", "direction", "SIDEWAYS",
     "field 'direction' must be one of INBOUND, OUTBOUND, got 'SIDEWAYS'"),
    ("message.created", "direction", 1, "field 'direction' must be one of INBOUND, OUTBOUND, got 1"),
    ("message.created", "direction", ["INBOUND"],
     "field 'direction' must be one of INBOUND, OUTBOUND, got a list"),
    ("conversation.status_changed", "status", "CLOSED",
     "field 'status' must be one of NEW, PENDING, RESOLVED, got 'CLOSED'"),
    ("conversation.status_changed", "resolved_by", "HUMAN",
     "field 'resolved_by' must be one of AGENT, VIRTUAL_AGENT, BULK, SYSTEM, got 'HUMAN'"),
    ("conversation.status_changed", "resolve_trigger", "AGENT",
     "field 'resolve_trigger' must be one of HUMAN_AGENT, VIRTUAL_AGENT, AUTOMATION, "
     "AUTO_RESOLVE, got 'AGENT'"),
    ("presence.changed", "state", "BUSY",
     "field 'state' must be one of AVAILABLE, AWAY, OFFLINE, got 'BUSY'"),
    ("presence.changed", "state", "", "field 'state' must be one of AVAILABLE, AWAY, OFFLINE, got ''"),
])
def test_bad_enum(etype, field, value, reason):
    assert reject(TYPE_TOPIC[etype], enc(with_(etype, **{field: value}))) == reason


@pytest.mark.parametrize("score_json,shown", [
    (b'"5"', "'5'"), (b"5.0", "5.0"), (b"true", "true"), (b"false", "false"), (b"6", "6"),
    (b"0", "0"), (b"-1", "-1"), (b"4.5", "4.5"), (b"5e0", "5.0"),
    (b"1000000000000000000000000000000", "1e+30"),  # beyond 64 bits: decoded as a float
    (b"[5]", "a list"), (b'{"v": 5}', "an object"),
])
def test_bad_score(score_json, shown):
    raw = enc(with_("csat.answered", score=0)).replace(b'"score":0', b'"score":' + score_json)
    assert reject("csat", raw) == f"field 'score' must be an integer 1-5, got {shown}"


@pytest.mark.parametrize("etype,field,value,reason", [
    ("message.created", "conversation_id", "", "field 'conversation_id' must be a non-empty id, got ''"),
    ("message.created", "agent_id", "", "field 'agent_id' must be a non-empty id, got ''"),
    ("message.created", "message_id", 17, "field 'message_id' must be a string id, got 17"),
    ("message.created", "channel_id", True, "field 'channel_id' must be a string id, got true"),
    ("message.created", "team_id", {"id": 1}, "field 'team_id' must be a string id, got an object"),
    ("message.created", "contact_profile_id", "p" * 257,
     "field 'contact_profile_id' is 257 characters long, an id may have at most 256"),
    ("lock.acquired", "lock_id", "😀" * 257,
     "field 'lock_id' is 257 characters long, an id may have at most 256"),
    ("message.created", "content", 5, "field 'content' must be a string, got 5"),
    ("message.created", "message_type", None, "required field 'message_type' is null"),
    ("message.created", "message_type", ["TEXT"], "field 'message_type' must be a string, got a list"),
    ("message.created", "language", False, "field 'language' must be a string, got false"),
    ("message.updated", "post_url", 1.5, "field 'post_url' must be a string, got 1.5"),
    ("contact.attribute_set", "value", 42, "field 'value' must be a string, got 42"),
    ("contact.attribute_set", "value", True, "field 'value' must be a string, got true"),
    ("contact.attribute_set", "value", ["a", "b"], "field 'value' must be a string, got a list"),
    ("contact.attribute_set", "value", None, "required field 'value' is null"),
    ("csat.answered", "follow_up_answer", 3, "field 'follow_up_answer' must be a string, got 3"),
    ("channel.upserted", "medium", 1, "field 'medium' must be a string, got 1"),
    ("agent.upserted", "email", {}, "field 'email' must be a string, got an object"),
    ("presence.changed", "away_state", 0, "field 'away_state' must be a string, got 0"),
    ("tag.applied", "virtual_agent_id", "", "field 'virtual_agent_id' must be a non-empty id, got ''"),
    ("team.upserted", "created_at", "2023-01-02", "invalid created_at '2023-01-02': not RFC 3339"),
    ("team.upserted", "created_at", "2023-02-30T00:00:00Z",
     "invalid created_at '2023-02-30T00:00:00Z': day 30 out of range for 2023-02"),
    ("team.upserted", "created_at", 1672625045,
     "field 'created_at' must be an RFC 3339 string, got 1672625045"),
])
def test_wrong_types(etype, field, value, reason):
    assert reject(TYPE_TOPIC[etype], enc(with_(etype, **{field: value}))).startswith(reason)


def test_long_bad_value_is_abbreviated():
    reason = reject("messages", enc(with_("message.deleted", message_id="x" * 100_000)))
    assert len(reason) < 300
    assert "100000 characters" in reason


def test_first_failure_wins_in_contract_order():
    e = with_("message.created", direction="nope", message_id="", content=1)
    assert reject("messages", enc(e)) == "field 'message_id' must be a non-empty id, got ''"


# --------------------------------------------------------------------------
# Timestamps


@pytest.mark.parametrize("s,expected", [
    ("2024-07-18T09:15:02.123Z", datetime(2024, 7, 18, 9, 15, 2, 123000, tzinfo=timezone.utc)),
    ("2024-07-18t09:15:02.123Z", datetime(2024, 7, 18, 9, 15, 2, 123000, tzinfo=timezone.utc)),
    ("2024-07-18 09:15:02.123Z", datetime(2024, 7, 18, 9, 15, 2, 123000, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02.123z", datetime(2024, 7, 18, 9, 15, 2, 123000, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02Z", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02.1Z", datetime(2024, 7, 18, 9, 15, 2, 100000, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02.123456789Z",
     datetime(2024, 7, 18, 9, 15, 2, 123456, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02.999999999Z",  # truncated, not rounded
     datetime(2024, 7, 18, 9, 15, 2, 999999, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02.0000009Z", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-07-18T15:00:02+05:45", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-07-18T05:15:02-04:00", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02-00:00", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-07-18T09:15:02+00:00", datetime(2024, 7, 18, 9, 15, 2, tzinfo=timezone.utc)),
    ("2024-02-29T23:59:59.5+23:59", datetime(2024, 2, 29, 0, 0, 59, 500000, tzinfo=timezone.utc)),
    ("2000-02-29T00:00:00Z", datetime(2000, 2, 29, tzinfo=timezone.utc)),
    ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ("1969-12-31T23:59:59.999999Z", datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=timezone.utc)),
    ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
])
def test_parse_time_accepts(s, expected):
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_time(s) == (expected - epoch) // timedelta(microseconds=1)
    # and as occurred_at of a record
    assert parse(with_("message.deleted", occurred_at=s))["t"] == parse_time(s)


def test_parse_time_offset_beyond_datetime_range():
    assert parse_time("0001-01-01T00:00:00+01:00") == parse_time("0001-01-01T00:00:00Z") - 3600 * 10**6
    assert parse_time("9999-12-31T23:59:59-01:00") == parse_time("9999-12-31T23:59:59Z") + 3600 * 10**6


@pytest.mark.parametrize("s,why", [
    ("2024-07-18T09:15:02", "not RFC 3339"),  # no offset
    ("2024-07-18T09:15:02.123", "not RFC 3339"),
    ("2024-13-01T00:00:00Z", "month 13 out of range"),
    ("2024-00-10T00:00:00Z", "month 00 out of range"),
    ("2023-02-29T00:00:00Z", "day 29 out of range for 2023-02"),
    ("2024-02-30T00:00:00Z", "day 30 out of range for 2024-02"),
    ("1900-02-29T00:00:00Z", "day 29 out of range for 1900-02"),
    ("2024-04-31T00:00:00Z", "day 31 out of range for 2024-04"),
    ("2024-01-00T00:00:00Z", "day 00 out of range"),
    ("2024-07-18T24:00:00Z", "hour 24 out of range"),
    ("2024-07-18T23:60:00Z", "minute 60 out of range"),
    ("2024-07-18T23:59:60Z", "second 60 out of range"),
    ("0000-01-01T00:00:00Z", "year 0000 out of range"),
    ("2024-07-18T09:15:02+24:00", "offset +24:00 out of range"),
    ("2024-07-18T09:15:02+05:60", "offset +05:60 out of range"),
    ("2024-07-18T09:15:02+0545", "not RFC 3339"),
    ("2024-07-18T09:15:02+05", "not RFC 3339"),
    ("2024-07-18T09:15:02.Z", "not RFC 3339"),
    ("2024-07-18T09:15:02,5Z", "not RFC 3339"),
    ("2024-07-18T09:15Z", "not RFC 3339"),
    ("2024-07-18T9:15:02Z", "not RFC 3339"),
    ("24-07-18T09:15:02Z", "not RFC 3339"),
    ("+2024-07-18T09:15:02Z", "not RFC 3339"),
    ("20240718T091502Z", "not RFC 3339"),
    ("2024-07-18_09:15:02Z", "not RFC 3339"),
    ("2024-07-18T09:15:02Z\n", "not RFC 3339"),
    (" 2024-07-18T09:15:02Z", "not RFC 3339"),
    ("2024-07-18T09:15:02ZZ", "not RFC 3339"),
    ("2024-07-18", "not RFC 3339"),
    ("２０２４-07-18T09:15:02Z", "not RFC 3339"),  # non-ASCII digits
    ("2024-07-18T09:15:02.１Z", "not RFC 3339"),
    ("", "not RFC 3339"),
])
def test_parse_time_rejects(s, why):
    for _ in range(2):  # the second time with a warm cache
        with pytest.raises(ValueError, match=why.replace("+", r"\+")):
            parse_time(s)
    reason = reject("messages", enc(with_("message.deleted", occurred_at=s)))
    assert reason.startswith(f"invalid occurred_at {s!r}: ")
    assert why in reason


def test_timestamp_caches_are_bounded():
    for i in range(times._CACHE_MAX + 10):
        d = datetime(2020, 1, 1) + timedelta(minutes=61 * i)
        s = d.strftime(f"%Y-%m-%dT%H:%M:07.{i:06d}Z")
        assert parse_time(s) == (d - datetime(1970, 1, 1)) // timedelta(microseconds=1) + 7 * 10**6 + i
    assert 0 < len(times._HOURS) <= times._CACHE_MAX
    assert 0 < len(times._ENDINGS) <= times._CACHE_MAX


@pytest.mark.parametrize("s, why", [
    ("2024-07-01T00:00:60Z", "second 60 out of range"),     # hour and ending cached, seconds not valid
    ("2024-07-01T00:60:01Z", "minute 60 out of range"),
    ("2024-07-01T00:00-01Z", "not RFC 3339"),
    ("2024-07-01T00:00:0xZ", "not RFC 3339"),
    ("2024-07-01T00:00:01Zz", "not RFC 3339"),
    ("2024-07-01T00:00:01", "not RFC 3339"),
    ("2024-07-01T00:00:", "not RFC 3339"),
    ("2024-07-01X00:00:01Z", "not RFC 3339"),
])
def test_cached_pieces_do_not_admit_invalid_timestamps(s, why):
    assert parse_time("2024-07-01T00:00:01Z") == parse_time("2024-07-01T00:00:59Z") - 58 * 10**6
    with pytest.raises(ValueError, match=why):
        parse_time(s)


EPOCH_NAIVE = datetime(1970, 1, 1)


@settings(max_examples=500, deadline=None)
@given(
    local=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    utc_z=st.sampled_from([None, "Z", "z"]),
    sep=st.sampled_from(["T", "t", " "]),
    extra_digits=st.text(alphabet="0123456789", max_size=6),
    frac_style=st.sampled_from(["full", "trimmed", "none"]),
)
def test_parse_time_agrees_with_datetime(local, offset_minutes, utc_z, sep, extra_digits, frac_style):
    text = local.strftime("%Y-%m-%d") if local.year >= 1000 else f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    text += sep + local.strftime("%H:%M:%S")
    frac = f"{local.microsecond:06d}"
    if frac_style == "full":
        text += "." + frac + extra_digits  # digits beyond µs are truncated
    elif frac_style == "trimmed" and local.microsecond:
        text += "." + frac.rstrip("0")
    else:
        local = local.replace(microsecond=0)
    if utc_z is not None:
        offset_minutes = 0
        text += utc_z
    else:
        sign = "+" if offset_minutes >= 0 else "-"
        h, m = divmod(abs(offset_minutes), 60)
        text += f"{sign}{h:02d}:{m:02d}"
    # local time minus offset, computed without leaving datetime's range
    expected = (local - EPOCH_NAIVE) // timedelta(microseconds=1) - offset_minutes * 60 * 10**6
    assert parse_time(text) == expected
    if datetime(1, 1, 2) <= local <= datetime(9999, 12, 30):
        aware = local.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
        assert parse_time(text) == (aware - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


@settings(max_examples=300, deadline=None)
@given(
    y=st.integers(min_value=0, max_value=9999),
    mo=st.integers(min_value=0, max_value=99),
    d=st.integers(min_value=0, max_value=99),
    h=st.integers(min_value=0, max_value=99),
    mi=st.integers(min_value=0, max_value=99),
    s=st.integers(min_value=0, max_value=99),
)
def test_parse_time_validity_agrees_with_datetime(y, mo, d, h, mi, s):
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"
    try:
        expected = datetime(y, mo, d, h, mi, s)
    except ValueError:
        with pytest.raises(ValueError):
            parse_time(text)
    else:
        assert parse_time(text) == (expected - EPOCH_NAIVE) // timedelta(microseconds=1)


def test_a_known_hour_with_a_new_ending_is_not_checked_again(monkeypatch):
    parse_time("2031-03-04T05:06:07Z")
    checked = []
    real = times._hour_us
    monkeypatch.setattr(times, "_hour_us", lambda k: checked.append(k) or real(k))
    for us in (123456, 234567):  # microsecond fractions: each ending new
        assert parse_time(f"2031-03-04T05:06:07.{us}Z") == parse_time("2031-03-04T05:06:07Z") + us
    parse_time("2031-03-04T06:00:00.345678Z")
    assert checked == ["2031-03-04T06"], "only the new hour is worked out again"
