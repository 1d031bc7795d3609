"""The shipped JSON Schema (convoflow/contract/schema) and the validator (convoflow/contract/events.py) never disagree.

Both get the same valid and invalid events: the cases of test_events.py, the examples of
docs/events.md, and random events built by hypothesis. The one difference JSON Schema cannot
avoid (it has one number type, so a score written 5.0 is the integer 5 to it) is checked as such.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convoflow.contract import schema
from convoflow.contract.events import TYPE_TOPIC, Rejected, describe, parse_record
from convoflow.contract.times import parse_time
from convoflow.tools.validate import check
from tests.convoflow.contract.test_events import MISSING_CASES, VALID, ev, with_, without

ROOT = Path(__file__).resolve().parents[3]
ANY = jsonschema.Draft202012Validator(schema.load())
PER_TYPE = {t: jsonschema.Draft202012Validator(schema.load(t)) for t in TYPE_TOPIC}


def validator_accepts(event) -> bool:
    try:
        check(orjson.dumps(event))
    except Rejected:
        return False
    return True


def schema_accepts(event) -> bool:
    ok = ANY.is_valid(event)
    etype = event.get("type") if isinstance(event, dict) else None
    if isinstance(etype, str) and etype in PER_TYPE:  # the type's own file says the same as event.json
        assert PER_TYPE[etype].is_valid(event) == ok, event
    return ok


def integral_float_score(event) -> bool:
    """The one known difference: a score 1.0-5.0, which JSON Schema reads as an integer."""
    score = event.get("score") if isinstance(event, dict) else None
    return isinstance(score, float) and score.is_integer() and 1 <= score <= 5


def assert_agree(event) -> None:
    by_validator, by_schema = validator_accepts(event), schema_accepts(event)
    if by_validator != by_schema and integral_float_score(event):
        assert by_schema and not by_validator
        assert validator_accepts({**event, "score": int(event["score"])}) is True, "only the score differs"
        return
    assert by_validator == by_schema, f"validator {by_validator}, schema {by_schema}: {event!r:.500}"


# --------------------------------------------------------------------------
# The files


def test_shipped_files_are_generated_from_events_py():
    built = schema.build()
    shipped = {p.stem: p for p in schema.SCHEMA_DIR.glob("*.json")}
    assert set(shipped) == set(built) == {"event", *TYPE_TOPIC}
    for name, content in built.items():
        assert shipped[name].read_text(encoding="utf-8") == schema.render(content), \
            f"{name}.json is stale: run python -m convoflow.contract.schema"


@pytest.mark.parametrize("name", schema.names())
def test_every_file_is_a_valid_2020_12_schema(name):
    jsonschema.Draft202012Validator.check_schema(schema.load(name))


def test_the_files_are_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"convoflow.contract.schema" = ["*.json"]' in text


def test_unknown_name_is_refused():
    with pytest.raises(schema.UnknownType, match="unknown event type 'message.sent'"):
        schema.text("message.sent")


# --------------------------------------------------------------------------
# The examples of docs/events.md


def documented_examples() -> list[dict]:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_docs_show_one_example_of_every_type_and_it_is_valid():
    examples = documented_examples()
    assert sorted(e["type"] for e in examples) == sorted(TYPE_TOPIC)
    for example in examples:
        assert example == schema.EXAMPLES[example["type"]]
        assert parse_record(TYPE_TOPIC[example["type"]], orjson.dumps(example)) is not None
        assert schema_accepts(example)
        assert schema.load(example["type"])["examples"] == [example]


# --------------------------------------------------------------------------
# The same events to both


def cases() -> list:
    out = [copy.deepcopy(e) for e in VALID.values()] + list(schema.EXAMPLES.values())
    for etype, spec in describe().items():  # minimal events: required fields only
        out.append(ev(etype, **{n: ("INBOUND" if n == "direction" else "x") for n, k, r, _ in spec["fields"]
                                if r and k in ("id", "string")},
                      **{n: v[0] for n, k, r, v in spec["fields"] if r and k == "enum"}))
    out += [without(t, f) for t, f in MISSING_CASES] + [with_(t, **{f: None}) for t, f in MISSING_CASES]
    out += [
        without("message.deleted", "event_id"), with_("message.deleted", event_id=None),
        with_("message.deleted", event_id=""), with_("message.deleted", event_id=12),
        with_("message.deleted", event_id="e" * 257), with_("message.deleted", event_id="😀" * 256),
        without("message.deleted", "type"), with_("message.deleted", type=3),
        with_("message.deleted", type="message.sent"), with_("message.deleted", type="Message.Deleted"),
        without("message.deleted", "occurred_at"), with_("message.deleted", occurred_at=1721294102),
        with_("message.created", direction="inbound"), with_("message.created", direction=1),
        with_("conversation.status_changed", status="CLOSED"), with_("conversation.status_changed", resolved_by="HUMAN"),
        with_("presence.changed", state=""), with_("message.created", content=5),
        with_("message.created", agent_id=""), with_("message.created", team_id={"id": 1}),
        with_("contact.attribute_set", value=["a"]), with_("team.upserted", created_at="2023-02-30T00:00:00Z"),
        with_("team.upserted", created_at=None), with_("agent.upserted", email={}),
        with_("message.created", extra={"nested": [1, 2]}, another=None),
        # fields of another status are ignored extras, those of its own are checked
        with_("conversation.status_changed", status="PENDING", resolved_by=5, started_by=None),
        with_("conversation.status_changed", status="NEW", started_by="X"),
        with_("conversation.status_changed", status="NEW", started_by=1),
        ev("conversation.status_changed", conversation_id="c", status="NEW", started_by="X", inbound_message_id=""),
        ev("conversation.status_changed", conversation_id="c", status="NEW"),
        ev("conversation.status_changed", conversation_id="c", status="PENDING"),
        [1, 2], "message.created", 42, None, {},
    ]
    for score in (1, 5, 0, 6, -1, True, False, "5", 4.5, 5.0, 1.0, 0.0, 1e30, [5], {"v": 5}, None):
        out.append(with_("csat.answered", score=score))
    return out


@pytest.mark.parametrize("event", cases(), ids=lambda e: repr(e)[:60])
def test_schema_and_validator_agree(event):
    assert_agree(event)


def test_the_known_difference_is_only_an_integral_float_score():
    event = with_("csat.answered", score=5.0)
    assert schema_accepts(event) and not validator_accepts(event)
    assert schema_accepts(with_("csat.answered", score=5)) and validator_accepts(with_("csat.answered", score=5))


TIMESTAMPS = [
    "2024-07-18T09:15:02.123Z", "2024-07-18t09:15:02Z", "2024-07-18 09:15:02+05:45", "2024-07-18T09:15:02-00:00",
    "2024-02-29T23:59:59.5+23:59", "2000-02-29T00:00:00Z", "0400-02-29T00:00:00Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999z", "2024-07-18T09:15:02", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z",
    "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
    "2024-01-00T00:00:00Z", "2024-07-18T24:00:00Z", "2024-07-18T23:60:00Z", "2024-07-18T23:59:60Z",
    "0000-01-01T00:00:00Z", "2024-07-18T09:15:02+24:00", "2024-07-18T09:15:02+05:60", "2024-07-18T09:15:02+0545",
    "2024-07-18T09:15:02.Z", "2024-07-18T09:15:02Z\n", " 2024-07-18T09:15:02Z", "2024-07-18T09:15:02ZZ",
    "２０２４-07-18T09:15:02Z", "2024-07-18T09:15:02.１Z", "", "2024-07-18T09:15:02\nZ",
]


@pytest.mark.parametrize("ts", TIMESTAMPS)
def test_timestamps_agree(ts):
    assert_agree(with_("message.deleted", occurred_at=ts))
    assert_agree(with_("team.upserted", created_at=ts))


def pattern_accepts(text: str) -> bool:
    return re.search(schema.TIMESTAMP_PATTERN, text) is not None


def parse_time_accepts(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(y=st.integers(0, 9999), mo=st.integers(0, 13), d=st.integers(0, 32), h=st.integers(0, 25),
       mi=st.integers(0, 61), s=st.integers(0, 61), frac=st.sampled_from(["", ".5", ".123456789", "."]),
       sep=st.sampled_from("Tt _"), off=st.sampled_from(["Z", "z", "+00:00", "-23:59", "+24:00", "+05:60", "", "+0545"]))
def test_timestamp_pattern_agrees_with_parse_time(y, mo, d, h, mi, s, frac, sep, off):
    text = f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{off}"
    assert pattern_accepts(text) == parse_time_accepts(text), text


# Random events: a valid example with some fields replaced by values of every kind, or removed.
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 8), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1.0, 5.0, 4.5]),
    st.text(max_size=4), st.sampled_from(["", "x" * 256, "x" * 257, "😀" * 257, "INBOUND", "AWAY", "NEW", "PENDING",
                                           "RESOLVED", "AGENT", "HUMAN_AGENT", "2024-07-18T09:15:02Z",
                                           "2024-02-30T00:00:00Z", "message.created", "presence.changed"]),
    st.lists(st.integers(-5, 5), max_size=1), st.dictionaries(st.text(max_size=2), st.integers(-5, 5), max_size=1),
)
_REMOVE = object()


def _names(etype: str) -> list[str]:
    spec = describe()[etype]
    names = ["event_id", "type", "occurred_at", "extra"] + [n for n, *_ in spec["fields"]]
    return names + [n for fields in spec["status_fields"].values() for n, *_ in fields]


@st.composite
def random_events(draw):
    etype = draw(st.sampled_from(sorted(TYPE_TOPIC)))
    event = copy.deepcopy(draw(st.sampled_from([schema.EXAMPLES[etype], VALID[etype]])))
    for name in draw(st.lists(st.sampled_from(_names(etype)), max_size=3, unique=True)):
        value = draw(st.one_of(st.just(_REMOVE), _VALUES))
        if value is _REMOVE:
            event.pop(name, None)
        else:
            event[name] = value
    return event


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=random_events())
def test_random_events_agree(event):
    assert_agree(event)
