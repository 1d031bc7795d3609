"""The event contract as JSON Schema (draft 2020-12): one file per event type and ``event.json`` for any event.

The files next to this module are generated from the tables of ``convoflow/contract/events.py``
(``events.describe()``) by ``python -m convoflow.contract.schema``; a test regenerates them and
fails when a shipped file differs, and another feeds the same valid and invalid events to
the schema and to ``events.parse_record``.

What a schema checks is the decoded JSON object of one record. The checks before decoding
(at most 1 MiB, not empty, UTF-8, strict JSON) are not expressible in JSON Schema, nor is
the topic a record arrives on (the type decides it). One value rule differs: JSON Schema
has a single number type, so it takes ``5.0`` as the integer 5, while convoflow rejects a
``score`` written ``5.0`` as the contract says. Everything else agrees, timestamps
included: their pattern checks real calendar dates (leap years too), hours, minutes,
seconds and offsets as ``times.parse_time`` does.
"""
from __future__ import annotations

import json
from pathlib import Path

from convoflow.contract.events import MAX_ID_CHARS, TYPE_TOPIC, describe

SCHEMA_DIR = Path(__file__).resolve().parent
ANY_EVENT = "event"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# RFC 3339 as times.parse_time reads it: years 0001-9999, real dates, no leap second.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# "$(?!\n)": the end of the text in every regex dialect (Python's "$" alone also matches before a final newline).
TIMESTAMP_PATTERN = f"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)[Tt ]{_TIME}{_OFFSET}$(?!\\n)"

_KINDS = {
    "id": lambda: {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
    "string": lambda: {"type": "string"},
    "score": lambda: {"type": "integer", "minimum": 1, "maximum": 5},
    "timestamp": lambda: {"type": "string", "pattern": TIMESTAMP_PATTERN},
}
_ABOUT = {
    "id": f"id: a non-empty string of at most {MAX_ID_CHARS} characters",
    "string": "free text: any string, empty included",
    "enum": "exactly one of the listed values",
    "score": "the JSON integer 1-5",
    "timestamp": "RFC 3339 date-time with Z or an offset",
}

# One example of every event type (docs/events.md shows them; every one passes both checks).
EXAMPLES: dict[str, dict] = {
    "message.created": {
        "event_id": "ev-1001", "type": "message.created", "occurred_at": "2024-07-18T09:15:02.123Z",
        "message_id": "m-1", "conversation_id": "c-1", "channel_id": "ch-1", "contact_profile_id": "cp-1",
        "direction": "INBOUND", "message_type": "TEXT", "origin": "CONTACT",
        "contact_primary_identifier": "@someone", "content": "Hi, my order did not arrive", "language": "en"},
    "message.updated": {
        "event_id": "ev-1002", "type": "message.updated", "occurred_at": "2024-07-18T09:16:00Z",
        "message_id": "m-1", "conversation_id": "c-1", "content": "Hi, my order #123 did not arrive"},
    "message.deleted": {
        "event_id": "ev-1003", "type": "message.deleted", "occurred_at": "2024-07-18T09:17:00Z",
        "message_id": "m-1", "conversation_id": "c-1"},
    "conversation.status_changed": {
        "event_id": "ev-1004", "type": "conversation.status_changed", "occurred_at": "2024-07-18T09:15:02.500Z",
        "conversation_id": "c-1", "status": "NEW", "started_by": "CONTACT_MESSAGE", "inbound_message_id": "m-1"},
    "lock.acquired": {
        "event_id": "ev-1005", "type": "lock.acquired", "occurred_at": "2024-07-18T09:20:00Z",
        "lock_id": "l-1", "conversation_id": "c-1", "agent_id": "a-17", "team_id": "t-1"},
    "lock.released": {
        "event_id": "ev-1006", "type": "lock.released", "occurred_at": "2024-07-18T09:24:30Z",
        "lock_id": "l-1", "conversation_id": "c-1", "agent_id": "a-17", "team_id": "t-1"},
    "presence.changed": {
        "event_id": "ev-1007", "type": "presence.changed", "occurred_at": "2024-07-18T11:00:00+02:00",
        "agent_id": "a-17", "state": "AWAY", "away_state": "Lunch"},
    "csat.sent": {
        "event_id": "ev-1008", "type": "csat.sent", "occurred_at": "2024-07-18T09:30:00Z",
        "survey_id": "s-1", "conversation_id": "c-1", "agent_id": "a-17", "team_id": "t-1"},
    "csat.answered": {
        "event_id": "ev-1009", "type": "csat.answered", "occurred_at": "2024-07-18T09:41:00Z",
        "survey_id": "s-1", "conversation_id": "c-1", "completed_status": "COMPLETED", "score": 5,
        "follow_up_question": "What could we do better?", "follow_up_answer": "Nothing"},
    "topic.applied": {
        "event_id": "ev-1010", "type": "topic.applied", "occurred_at": "2024-07-18T09:22:00Z",
        "conversation_id": "c-1", "topic_id": "billing", "agent_id": "a-17", "team_id": "t-1"},
    "topic.removed": {
        "event_id": "ev-1011", "type": "topic.removed", "occurred_at": "2024-07-18T09:23:00Z",
        "conversation_id": "c-1", "topic_id": "billing", "agent_id": "a-17"},
    "tag.applied": {
        "event_id": "ev-1012", "type": "tag.applied", "occurred_at": "2024-07-18T09:22:10Z",
        "conversation_id": "c-1", "message_id": "m-1", "tag_id": "vip", "virtual_agent_id": "va-1"},
    "tag.removed": {
        "event_id": "ev-1013", "type": "tag.removed", "occurred_at": "2024-07-18T09:23:10Z",
        "conversation_id": "c-1", "message_id": "m-1", "tag_id": "vip", "agent_id": "a-17"},
    "contact.attribute_set": {
        "event_id": "ev-1014", "type": "contact.attribute_set", "occurred_at": "2024-07-18T09:25:00Z",
        "contact_profile_id": "cp-1", "attribute_id": "at-1", "attribute_name": "Customer number",
        "attribute_type": "NUMBER", "value": "4711"},
    "contact.attribute_cleared": {
        "event_id": "ev-1015", "type": "contact.attribute_cleared", "occurred_at": "2024-07-19T08:00:00Z",
        "contact_profile_id": "cp-1", "attribute_id": "at-1"},
    "channel.upserted": {
        "event_id": "ev-1016", "type": "channel.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "channel_id": "ch-1", "medium": "whatsapp", "name": "Support NL", "display_name": "Support"},
    "agent.upserted": {
        "event_id": "ev-1017", "type": "agent.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "agent_id": "a-17", "name": "Ann de Vries", "email": "ann@example.com", "reference": "HR-0017"},
    "team.upserted": {
        "event_id": "ev-1018", "type": "team.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "team_id": "t-1", "name": "Tier 1", "created_at": "2023-01-02T03:04:05+01:00"},
    "topic.upserted": {
        "event_id": "ev-1019", "type": "topic.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "topic_id": "billing", "name": "Billing"},
    "topic.deleted": {
        "event_id": "ev-1020", "type": "topic.deleted", "occurred_at": "2024-07-20T00:00:00Z",
        "topic_id": "billing"},
    "tag.upserted": {
        "event_id": "ev-1021", "type": "tag.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "tag_id": "vip", "name": "VIP"},
    "tag.deleted": {
        "event_id": "ev-1022", "type": "tag.deleted", "occurred_at": "2024-07-20T00:00:00Z",
        "tag_id": "vip"},
    "virtual_agent.upserted": {
        "event_id": "ev-1023", "type": "virtual_agent.upserted", "occurred_at": "2024-07-01T00:00:00Z",
        "virtual_agent_id": "va-1", "name": "Order bot"},
}


class UnknownType(ValueError):
    """A name that is neither an event type nor ``event``."""


def _field(kind: str, required: bool, values) -> dict:
    schema = {"enum": list(values)} if kind == "enum" else _KINDS[kind]()
    if not required:  # null is the same as absent
        if "enum" in schema:
            schema["enum"].append(None)
        else:
            schema["type"] = [schema["type"], "null"]
    return {"description": _ABOUT[kind] + ("" if required else "; null is the same as absent"), **schema}


def _object(fields) -> dict:
    return {
        "properties": {name: _field(kind, required, values) for name, kind, required, values in fields},
        "required": [name for name, _, required, _ in fields if required],
    }


def type_schema(event_type: str, spec: dict) -> dict:
    """The schema of one event type (without ``$schema``/``$id``)."""
    body = _object([("event_id", "id", True, None), ("occurred_at", "timestamp", True, None)] + spec["fields"])
    body["properties"] = {"event_id": body["properties"]["event_id"], "type": {"const": event_type},
                          **{k: v for k, v in body["properties"].items() if k != "event_id"}}
    body["required"] = ["event_id", "type"] + body["required"][1:]
    schema = {
        "title": event_type,
        "description": f"Published on the topic '{spec['topic']}' (after the prefix), keyed by {spec['key']}. "
                       "Fields not listed are allowed and ignored.",
        "type": "object",
        **body,
    }
    conditions = []
    for status, fields in spec["status_fields"].items():
        if fields:  # these fields belong to this status only: on another one they are ignored extras
            conditions.append({"if": {"properties": {"status": {"const": status}}, "required": ["status"]},
                               "then": _object(fields)})
    if conditions:
        schema["allOf"] = conditions
    schema["examples"] = [EXAMPLES[event_type]]
    return schema


def build() -> dict[str, dict]:
    """Every schema file's content by name (an event type, or ``event`` for any event)."""
    contract = describe()
    out = {}
    for event_type, spec in contract.items():
        out[event_type] = {"$schema": DIALECT, "$id": f"urn:convoflow:schema:{event_type}",
                           **type_schema(event_type, spec)}
    out[ANY_EVENT] = {
        "$schema": DIALECT,
        "$id": f"urn:convoflow:schema:{ANY_EVENT}",
        "title": "convoflow event",
        "description": "Any event of the contract: its type decides which schema of $defs applies.",
        "type": "object",
        "properties": {"type": {"enum": list(contract)}},
        "required": ["type"],
        "allOf": [{"if": {"properties": {"type": {"const": t}}, "required": ["type"]}, "then": {"$ref": f"#/$defs/{t}"}}
                  for t in contract],
        "$defs": {t: type_schema(t, spec) for t, spec in contract.items()},
    }
    return out


def names() -> list[str]:
    """What ``text()`` knows: ``event`` and every event type."""
    return [ANY_EVENT, *TYPE_TOPIC]


def path_of(name: str) -> Path:
    if name not in names():
        raise UnknownType(f"unknown event type {name!r}; expected one of {', '.join(TYPE_TOPIC)} (or none, for any event)")
    return SCHEMA_DIR / f"{name}.json"


def text(name: str = ANY_EVENT) -> str:
    """The shipped schema file of an event type (or of any event) as text."""
    return path_of(name).read_text(encoding="utf-8")


def load(name: str = ANY_EVENT) -> dict:
    return json.loads(text(name))


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """(Re)generate the schema files from ``convoflow/contract/events.py``."""
    written = []
    for name, schema in build().items():
        path = directory / f"{name}.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
