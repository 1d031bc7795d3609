"""Validation and normalisation of one Kafka record of the event contract.

The contract is ``docs/events.md``; this module is its executable form, and
``convoflow/contract/schema`` its JSON Schema, generated from the tables below.  It is
pure (stdlib + orjson only, no Kafka or Faust) and sits on the hot path, so
each type's checks are compiled from the tables below into one straight-line
function, and a valid record with nothing to drop allocates nothing beyond its
decoded object.

Public API
----------
``MAX_RECORD_BYTES``     1 MiB; a value longer than this (raw bytes) is rejected.
``TOPICS``               the logical event topics (no prefix).
``CONVERSATION_TOPICS``  the topics keyed by ``conversation_id``.
``TYPE_TOPIC``           event type -> logical topic.
``Rejected``             raised for a record the contract rejects; ``.reason``
                         is a specific human-readable reason (also ``str(exc)``).
``parse_time(s)``        RFC 3339 -> int microseconds since the epoch (UTC).
``parse_record(topic, value)``
                         validate one record value of a logical topic; returns
                         ``None`` for a tombstone, else the normalised event.
``record_key(event)``    the partition key the contract names for the event.
``topic_of(event_type)`` logical topic of a type (``Rejected`` if unknown).
``describe()``           the contract's tables as plain data (for ``convoflow.contract.schema``).

Normalised event
----------------
A dict holding ``event_id``, ``type``, ``occurred_at`` (the original
string), ``t`` (``parse_time(occurred_at)``, int µs UTC) and every contract
field of that type that is present and not null, with the value as decoded
(strings unchanged, ``score`` an int).  Unknown extra fields are dropped, and an
optional field that is null is dropped, so null and absent look the same.  When
the record holds nothing to drop (the common case), the event is the decoded
object itself with ``t`` added, its keys in the record's order; else a new dict.

Decisions where the contract is silent or loose
-----------------------------------------------
* Order of checks: size, empty, UTF-8, JSON, object, ``event_id``, ``type``
  (string, known, on this topic), ``occurred_at``, then the type's fields in
  contract order; the first failure is the reason.
* The size check is ``len(value) > MAX_RECORD_BYTES`` on the raw value bytes
  (exactly 1 MiB is accepted; the key is not counted).
* The JSON text ``null`` is not a tombstone (that is a Kafka null value): it is
  rejected as "not a JSON object".  JSON is decoded strictly by orjson: no NaN
  or Infinity, no byte-order mark, no lone surrogate escapes, numbers that
  overflow a double rejected; of duplicate keys the last wins.
* ``event_id`` is an identifier like every ``*_id`` field: a non-empty string
  of at most 256 characters (Unicode code points, not bytes).
* ``type`` must be a string; a non-string type is a wrong-type rejection, a
  string not in the contract is "unknown event type".  A topic name that is not
  one of ``TOPICS`` rejects every record with "unknown topic".
* Free-text fields (``content``, names, ``message_type``, ``medium``,
  ``started_by``, ``completed_status``, ``value`` of ``contact.attribute_set``,
  ...) are any string, empty included; a non-string (number, bool, list,
  object) rejects the record, also for optional fields.  A *required* free-text
  field may be the empty string (only identifiers must be non-empty).
* A required field that is JSON ``null`` is treated as missing.
* Enums are exact and case-sensitive (``"inbound"`` is rejected).
* ``score`` is an int 1..5: JSON ``5`` only; ``5.0``, ``"5"``, ``true``, ``0``,
  ``6`` and integers too large for 64 bits are rejected.
* ``conversation.status_changed``: the fields listed under a status belong to
  that status only.  ``NEW`` requires ``started_by`` (optional
  ``handover_reason``, ``inbound_message_id``); ``RESOLVED`` requires
  ``resolved_by`` and ``resolve_trigger`` (optional ``resolve_reason``,
  ``resolve_comment``).  On another status those fields are unknown extras:
  ignored and dropped, not validated.
* ``presence.changed``'s ``away_state`` is kept whatever the state.
* ``team.upserted``'s optional ``created_at`` must be valid RFC 3339 when
  present; it is kept as the original string.
* Timestamps (``parse_time``): ``YYYY-MM-DD`` + ``T``/``t``/space +
  ``HH:MM:SS`` + optional ``.`` and one or more digits (truncated, not
  rounded, to microseconds) + ``Z``/``z`` or ``±HH:MM`` (offset hours 00-23,
  minutes 00-59; ``-00:00`` is UTC).  Years 0001-9999, real calendar dates,
  hour 00-23, minute and second 00-59 (leap second ``:60`` is rejected, as
  Python's datetime does).  ASCII digits only.  Anything else is ValueError
  (a non-string argument is a TypeError).  Bounded caches of validated
  pieces (the hour ``YYYY-MM-DD?HH:``, the minutes, the seconds, the
  fraction with the offset) make the common case four dict hits
  (``convoflow/contract/times.py``).
  The result may lie outside datetime's range after applying the offset (e.g.
  ``0001-01-01T00:00:00+01:00``); it is still a correct integer.
* ``parse_record`` accepts ``bytes``, ``bytearray`` or ``memoryview``.
* ``record_key`` of a directory event is ``"<kind>:<id>"`` with kind the type
  before the first ``.`` and id the field ``<kind>_id``.
"""

from __future__ import annotations

import orjson

from convoflow.contract import catalog
from convoflow.contract.times import parse_time

__all__ = [
    "MAX_RECORD_BYTES",
    "TOPICS",
    "CONVERSATION_TOPICS",
    "TYPE_TOPIC",
    "Rejected",
    "parse_time",
    "parse_record",
    "record_key",
    "topic_of",
    "describe",
]

MAX_RECORD_BYTES = 1024 * 1024
MAX_ID_CHARS = 256

TOPICS: tuple[str, ...] = catalog.names(catalog.INPUT)
CONVERSATION_TOPICS: tuple[str, ...] = tuple(
    t.name for t in catalog.CATALOG if t.kind == catalog.INPUT and t.key == "conversation_id")


class Rejected(Exception):
    """A record the contract rejects; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------
# Schema tables

_ID, _STR, _ENUM, _SCORE, _TIME = range(5)

_ENUMS: dict[str, tuple[str, ...]] = {
    "direction": ("INBOUND", "OUTBOUND"),
    "status": ("NEW", "PENDING", "RESOLVED"),
    "state": ("AVAILABLE", "AWAY", "OFFLINE"),
    "resolved_by": ("AGENT", "VIRTUAL_AGENT", "BULK", "SYSTEM"),
    "resolve_trigger": ("HUMAN_AGENT", "VIRTUAL_AGENT", "AUTOMATION", "AUTO_RESOLVE"),
}

# field spec: (name, kind, required, enum frozenset | None)
_Field = tuple  # tuple[str, int, bool, frozenset | None]


def _fields(required: str, optional: str = "") -> tuple[_Field, ...]:
    out = []
    for names, req in ((required, True), (optional, False)):
        for name in names.split():
            if name in _ENUMS:
                out.append((name, _ENUM, req, frozenset(_ENUMS[name])))
            elif name == "score":
                out.append((name, _SCORE, req, None))
            elif name == "created_at":
                out.append((name, _TIME, req, None))
            elif name.endswith("_id"):
                out.append((name, _ID, req, None))
            else:
                out.append((name, _STR, req, None))
    return tuple(out)


_WHO = "agent_id team_id virtual_agent_id"

# type -> (logical topic, fields in contract order)
_SCHEMA: dict[str, tuple[str, tuple[_Field, ...]]] = {
    # messages
    "message.created": ("messages", _fields(
        "message_id conversation_id channel_id contact_profile_id direction message_type",
        "origin outbound_message_type agent_id team_id virtual_agent_id"
        " contact_primary_identifier contact_secondary_identifier"
        " system_user_type content post_url language",
    )),
    "message.updated": ("messages", _fields(
        "message_id conversation_id",
        "content post_url message_type system_user_type",
    )),
    "message.deleted": ("messages", _fields("message_id conversation_id")),
    # status-changes (plus the per-status fields in _STATUS_FIELDS)
    "conversation.status_changed": ("status-changes", _fields(
        "conversation_id status", _WHO,
    )),
    # locks
    "lock.acquired": ("locks", _fields("lock_id conversation_id agent_id", "team_id")),
    "lock.released": ("locks", _fields("lock_id conversation_id agent_id", "team_id")),
    # presence
    "presence.changed": ("presence", _fields("agent_id state", "away_state")),
    # csat
    "csat.sent": ("csat", _fields("survey_id conversation_id", "agent_id team_id")),
    "csat.answered": ("csat", _fields(
        "survey_id conversation_id completed_status",
        "score follow_up_question follow_up_answer",
    )),
    # annotations
    "topic.applied": ("annotations", _fields("conversation_id topic_id", _WHO)),
    "topic.removed": ("annotations", _fields("conversation_id topic_id", _WHO)),
    "tag.applied": ("annotations", _fields("conversation_id message_id tag_id", _WHO)),
    "tag.removed": ("annotations", _fields("conversation_id message_id tag_id", _WHO)),
    # contact-attributes
    "contact.attribute_set": ("contact-attributes", _fields(
        "contact_profile_id attribute_id attribute_name attribute_type value",
    )),
    "contact.attribute_cleared": ("contact-attributes", _fields(
        "contact_profile_id attribute_id",
    )),
    # directory
    "channel.upserted": ("directory", _fields("channel_id medium", "name display_name")),
    "agent.upserted": ("directory", _fields("agent_id", "name email reference")),
    "team.upserted": ("directory", _fields("team_id", "name created_at")),
    "topic.upserted": ("directory", _fields("topic_id", "name")),
    "topic.deleted": ("directory", _fields("topic_id")),
    "tag.upserted": ("directory", _fields("tag_id", "name")),
    "tag.deleted": ("directory", _fields("tag_id")),
    "virtual_agent.upserted": ("directory", _fields("virtual_agent_id", "name")),
}

_STATUS_FIELDS: dict[str, tuple[_Field, ...]] = {
    "NEW": _fields("started_by", "handover_reason inbound_message_id"),
    "PENDING": (),
    "RESOLVED": _fields("resolved_by resolve_trigger", "resolve_reason resolve_comment"),
}

TYPE_TOPIC: dict[str, str] = {t: spec[0] for t, spec in _SCHEMA.items()}

# the key field of each input topic but directory's (whose key is "<kind>:<id>", below)
_TOPIC_KEY = {t.name: t.key for t in catalog.CATALOG if t.kind == catalog.INPUT and t.name != "directory"}

# type -> (key prefix, key field)
_TYPE_KEY: dict[str, tuple[str, str]] = {}
for _t, (_topic, _flds) in _SCHEMA.items():
    if _topic == "directory":
        _kind = _t.split(".", 1)[0]
        _TYPE_KEY[_t] = (_kind + ":", _kind + "_id")
    else:
        _TYPE_KEY[_t] = ("", _TOPIC_KEY[_topic])
    # the key field is always a required identifier of the type
    assert (_TYPE_KEY[_t][1], _ID, True, None) in _flds, _t
    assert _topic in TOPICS, _t
del _t, _topic, _flds
assert set(TOPICS) == set(TYPE_TOPIC.values())
assert set(CONVERSATION_TOPICS) == {t for t, k in _TOPIC_KEY.items() if k == "conversation_id"}

_TOPIC_SET = frozenset(TOPICS)


# --------------------------------------------------------------------------
# Reasons (error path only)

_JSON_TYPE = {
    dict: "object",
    list: "list",
    str: "string",
    int: "integer",
    float: "float",
    bool: "boolean",
    type(None): "null",
}


def _show(v: object) -> str:
    """Short rendering of a bad value for a reason."""
    if isinstance(v, str):
        if len(v) > 64:
            return f"{v[:64]!r}... ({len(v)} characters)"
        return repr(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "a list"
    return "an object"


def _missing(obj: dict, name: str) -> Rejected:
    if name in obj:
        return Rejected(f"required field {name!r} is null")
    return Rejected(f"missing required field {name!r}")


def _bad_id(name: str, v: object) -> Rejected:
    if v.__class__ is not str:
        return Rejected(f"field {name!r} must be a string id, got {_show(v)}")
    if not v:
        return Rejected(f"field {name!r} must be a non-empty id, got ''")
    return Rejected(
        f"field {name!r} is {len(v)} characters long, "
        f"an id may have at most {MAX_ID_CHARS}: {_show(v)}"
    )


def _bad_field(name: str, kind: int, arg: frozenset | None, v: object) -> Rejected:
    if kind == _ID:
        return _bad_id(name, v)
    if kind == _STR:
        return Rejected(f"field {name!r} must be a string, got {_show(v)}")
    if kind == _ENUM:
        allowed = ", ".join(_ENUMS[name])
        return Rejected(f"field {name!r} must be one of {allowed}, got {_show(v)}")
    if kind == _SCORE:
        return Rejected(f"field {name!r} must be an integer 1-5, got {_show(v)}")
    # _TIME
    if v.__class__ is not str:
        return Rejected(f"field {name!r} must be an RFC 3339 string, got {_show(v)}")
    try:
        parse_time(v)
    except ValueError as e:
        return Rejected(f"invalid {name} {_show(v)}: {e}")
    raise AssertionError("unreachable")  # pragma: no cover


def _decode_reason(value: bytes, exc: Exception) -> str:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return "value is not valid UTF-8"
    return f"value is not valid JSON: {exc}"


# --------------------------------------------------------------------------
# Records

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def _field_source(name: str, kind: int, required: bool) -> list[str]:
    """The lines that check one field, ``v = obj.get(name)``; an optional one present adds 1 to ``n``."""
    n = repr(name)
    bad = {
        _ID: "v.__class__ is not str or not 0 < len(v) <= MAX_ID_CHARS",
        _STR: "v.__class__ is not str",
        _ENUM: f"v.__class__ is not str or v not in _ENUMSETS[{n}]",
        _SCORE: "v.__class__ is not int or not 1 <= v <= 5",
        _TIME: "v.__class__ is not str",
    }[kind]
    reason = f"_bad_id({n}, v)" if kind == _ID else f"_bad_field({n}, {kind}, _ENUMSETS.get({n}), v)"
    body = [f"if {bad}:", f"    raise {reason}"]
    if kind == _TIME:
        body += ["try:", "    parse_time(v)", "except ValueError as e:",
                 f"    raise Rejected(f'invalid {name} {{_show(v)}}: {{e}}') from None"]
    if required:
        return [f"v = get({n})", "if v is None:", f"    raise _missing(obj, {n})", *body]
    return [f"v = get({n})", "if v is not None:", *("    " + line for line in body + ["n += 1"])]


def _compile_check(fields: tuple[_Field, ...]):
    """A function ``check(obj) -> int`` that validates ``fields`` of a decoded object in contract order,
    raising ``Rejected`` at the first bad one, and returns how many of them ``obj`` holds (not null).

    Generated as straight-line code (as ``dataclasses`` does for ``__init__``): it runs for every
    event, and spares it a loop over the field table with a branch per kind of field.
    """
    required = sum(1 for _, _, req, _ in fields if req)
    lines = ["def check(obj):", "    get = obj.get", f"    n = {required}"]
    for name, kind, req, _ in fields:
        lines += ["    " + line for line in _field_source(name, kind, req)]
    lines.append("    return n")
    namespace = {"MAX_ID_CHARS": MAX_ID_CHARS, "_ENUMSETS": _ENUMSETS, "_bad_id": _bad_id, "_bad_field": _bad_field,
                 "_missing": _missing, "_show": _show, "Rejected": Rejected, "parse_time": parse_time}
    exec("\n".join(lines), namespace)
    return namespace["check"]


_ENUMSETS = {name: frozenset(values) for name, values in _ENUMS.items()}
# type -> (logical topic, check, the names of its fields); status -> (check, names) of that status' fields
_CHECKS = {etype: (topic, _compile_check(flds), tuple(f[0] for f in flds)) for etype, (topic, flds) in _SCHEMA.items()}
_STATUS_CHECKS = {status: (_compile_check(flds), tuple(f[0] for f in flds)) for status, flds in _STATUS_FIELDS.items()}
_ENVELOPE = 3  # event_id, type, occurred_at


def parse_record(topic: str, value: bytes | None) -> dict | None:
    """Validate one record value of a logical event topic.

    Returns None for a tombstone (``value is None``), else the normalised event
    (see the module docstring).  Raises ``Rejected`` for anything the contract
    rejects.
    """
    if value is None:
        return None
    if value.__class__ is not bytes:
        value = bytes(value)  # bytearray / memoryview
    n = len(value)
    if n > MAX_RECORD_BYTES:
        raise Rejected(f"record is {n} bytes, larger than 1 MiB")
    if n == 0:
        raise Rejected("value is empty (0 bytes), not a JSON object")
    try:
        obj = _loads(value)
    except _JSONDecodeError as e:
        raise Rejected(_decode_reason(value, e)) from None
    if obj.__class__ is not dict:
        raise Rejected(
            f"value is not a JSON object (got {_JSON_TYPE.get(obj.__class__, 'other')})"
        )
    get = obj.get

    event_id = get("event_id")
    if event_id.__class__ is not str or not 0 < len(event_id) <= MAX_ID_CHARS:
        if event_id is None:
            raise _missing(obj, "event_id")
        raise _bad_id("event_id", event_id)

    etype = get("type")
    if etype.__class__ is not str:
        if etype is None:
            raise _missing(obj, "type")
        raise Rejected(f"field 'type' must be a string, got {_show(etype)}")
    spec = _CHECKS.get(etype)
    if spec is None:
        if topic not in _TOPIC_SET:
            raise Rejected(f"unknown topic {topic!r}")
        raise Rejected(f"unknown event type {_show(etype)}")
    if spec[0] != topic:
        if topic not in _TOPIC_SET:
            raise Rejected(f"unknown topic {topic!r}")
        raise Rejected(f"type {etype!r} does not belong on topic {topic!r}")

    occurred_at = get("occurred_at")
    if occurred_at.__class__ is not str:
        if occurred_at is None:
            raise _missing(obj, "occurred_at")
        raise Rejected(f"field 'occurred_at' must be an RFC 3339 string, got {_show(occurred_at)}")
    try:
        t = parse_time(occurred_at)
    except ValueError as e:
        raise Rejected(f"invalid occurred_at {_show(occurred_at)}: {e}") from None

    present = spec[1](obj)
    if etype == "conversation.status_changed":
        present += _STATUS_CHECKS[obj["status"]][0](obj)
    if present + _ENVELOPE == len(obj):  # nothing to drop: the decoded object is the event
        obj["t"] = t
        return obj
    return _contract_fields(obj, etype, t)


def _contract_fields(obj: dict, etype: str, t: int) -> dict:
    """A new event of a valid object that holds unknown fields or nulls: the envelope, ``t`` and the
    contract fields it holds (not null), in contract order."""
    names = _CHECKS[etype][2]
    if etype == "conversation.status_changed":
        names += _STATUS_CHECKS[obj["status"]][1]
    out = {"event_id": obj["event_id"], "type": etype, "occurred_at": obj["occurred_at"], "t": t}
    for name in names:
        v = obj.get(name)
        if v is not None:
            out[name] = v
    return out


_KIND_NAMES = {_ID: "id", _STR: "string", _ENUM: "enum", _SCORE: "score", _TIME: "timestamp"}


def describe() -> dict:
    """The contract's tables as plain data, in contract order: for every type ``{"topic", "key",
    "fields": [(name, kind, required, enum values or None)], "status_fields": {status: [...]}}``, where
    kind is one of ``id``, ``string``, ``enum``, ``score``, ``timestamp`` and ``key`` names the partition
    key (``"<kind>:" + field`` for directory events). The envelope (``event_id``, ``type``,
    ``occurred_at``) is not listed; ``status_fields`` is empty except for ``conversation.status_changed``."""

    def fields(flds):
        return [(name, _KIND_NAMES[kind], required, _ENUMS.get(name) if kind == _ENUM else None)
                for name, kind, required, _ in flds]

    out = {}
    for etype, (topic, flds) in _SCHEMA.items():
        prefix, key_field = _TYPE_KEY[etype]
        out[etype] = {
            "topic": topic,
            "key": f"{prefix}{{{key_field}}}" if prefix else key_field,
            "fields": fields(flds),
            "status_fields": ({status: fields(f) for status, f in _STATUS_FIELDS.items()}
                              if etype == "conversation.status_changed" else {}),
        }
    return out


def topic_of(event_type: str) -> str:
    """Logical topic of an event type; Rejected for an unknown type."""
    try:
        return TYPE_TOPIC[event_type]
    except (KeyError, TypeError):
        raise Rejected(f"unknown event type {_show(event_type)}") from None


def record_key(event: dict) -> str:
    """Partition key of a (parsed) event, as named by the contract."""
    etype = event["type"]
    try:
        prefix, field = _TYPE_KEY[etype]
    except (KeyError, TypeError):
        raise Rejected(f"unknown event type {_show(etype)}") from None
    return prefix + event[field] if prefix else event[field]
