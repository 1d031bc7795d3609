"""contacts and contact_attributes on hand-made conversation and contact states, merged like the coordinator."""
import csv
import io
import itertools
import random
from functools import reduce

import orjson

from convoflow.contract.times import parse_time
from convoflow.exporters import csvfile
from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import ExportRequest
from convoflow.tables import contact
from convoflow.tables import conversation as conv
from tests.exporters.helpers import ev, make_directory, run







DIR = [
    ev("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch1", medium="whatsapp", name="Main"),
    ev("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch2", medium="sms", name="SMS"),
]


def tables(events):
    """{"conversations": {...}, "contacts": {...}} as the stream processors would store them."""
    convs, contacts = {}, {}
    for e in events:
        if e["type"].startswith("contact."):
            contact.apply_attribute(contacts.setdefault(e["contact_profile_id"], {}), e)
            continue
        conv.apply(convs.setdefault(e["conversation_id"], conv.new_state()), e)
    for cid, state in convs.items():
        for c in contact.conversation_contributions(cid, state.get("m", {}).values()):
            contact.apply_conversation(contacts.setdefault(c["c"], {}), c)
    return {"conversations": convs, "contacts": contacts}


def context(export_type, states, date_from="2024-07-18", date_to="2024-07-18", tz="UTC", channels=()):
    req = ExportRequest("r1", export_type, tz, date_from, date_to, tuple(channels), None)
    contacts = states.get("contacts", {})
    return ReportContext(req, parse_time("2030-01-01T00:00:00Z"), make_directory(DIR),
                         lambda c: contact.identifiers(contacts.get(c)))




def splits(states, tries=12, seed=5):
    """Everything in one shard, every state alone, random splits of both tables over 2-3 shards."""
    flat = [(table, key) for table, group in states.items() for key in group]
    yield [states]
    yield [{table: {key: states[table][key]}} for table, key in reversed(flat)]
    rng = random.Random(seed)
    for _ in range(tries):
        n = rng.randint(2, 3)
        shards = [{"conversations": {}, "contacts": {}} for _ in range(n)]
        shuffled = flat[:]
        rng.shuffle(shuffled)
        for table, key in shuffled:
            shards[rng.randrange(n)][table][key] = states[table][key]
        yield shards


def assert_merge_laws(export_type, ctx, states):
    report = REPORTS[export_type]
    by_group = {}
    for table, build in report.sources.items():
        for key, state in states[table].items():
            for k, p in build(ctx, key, orjson.loads(orjson.dumps(state))):
                by_group.setdefault(k, []).append(orjson.loads(orjson.dumps(p)))
    for parts in by_group.values():
        dumped = {orjson.dumps(reduce(report.merge, perm), option=orjson.OPT_SORT_KEYS)
                  for perm in itertools.permutations(parts[:5])}
        assert len(dumped) == 1


def msg(cid, when, mid, direction, who, channel="ch1", **kw):
    return ev("message.created", when, conversation_id=cid, message_id=mid, direction=direction, channel_id=channel,
              contact_profile_id=who, message_type="TEXT", **kw)


def attr_set(who, when, aid, name, typ, value, **kw):
    return ev("contact.attribute_set", when, contact_profile_id=who, attribute_id=aid, attribute_name=name,
              attribute_type=typ, value=value, **kw)


def attr_cleared(who, when, aid):
    return ev("contact.attribute_cleared", when, contact_profile_id=who, attribute_id=aid)


# ---------------------------------------------------------------- contacts

CONTACT_EVENTS = [
    # k1: in c1 (ch1) before and in R, in c2 (ch2) in R and after R; an attribute set even later
    msg("c1", "2024-07-17T20:00:00Z", "m0", "INBOUND", "k1", contact_primary_identifier="+31 6 1234"),
    msg("c1", "2024-07-18T09:00:00Z", "m1", "INBOUND", "k1", contact_primary_identifier="+31 6 1234",
        contact_secondary_identifier="Kim"),
    msg("c1", "2024-07-18T09:05:00Z", "m2", "OUTBOUND", "k1", agent_id="a1"),
    msg("c2", "2024-07-18T12:00:00Z", "m3", "INBOUND", "k1", channel="ch2"),
    msg("c2", "2024-07-19T10:00:00Z", "m4", "OUTBOUND", "k1", channel="ch2", agent_id="a1"),
    attr_set("k1", "2024-07-20T08:00:00Z", "a1", "Score", "NUMBER", "7"),
    # k2: only outbound messages
    msg("c3", "2024-07-18T15:00:00Z", "m5", "OUTBOUND", "k2", agent_id="a1"),
    msg("c3", "2024-07-18T16:00:00Z", "m5b", "OUTBOUND", "k2", agent_id="a2"),
    # k3: a message before R only; an attribute event in R does not make it a row
    msg("c6", "2024-07-17T10:00:00Z", "m9", "INBOUND", "k3"),
    attr_set("k3", "2024-07-18T10:00:00Z", "a1", "Score", "NUMBER", "1"),
    # k4: a conversation on ch1 whose later message is on ch2 (each message's own channel counts)
    msg("c4", "2024-07-18T10:00:00Z", "m6", "INBOUND", "k4"),
    msg("c4", "2024-07-18T11:00:00Z", "m7", "OUTBOUND", "k4", channel="ch2", virtual_agent_id="va1"),
    # k5: two latest messages at the same time: the greater event_id is the later (ch2)
    msg("c7", "2024-07-18T18:00:00Z", "m8", "INBOUND", "k5", event_id="x2", channel="ch2"),
    msg("c8", "2024-07-18T18:00:00Z", "m8b", "INBOUND", "k5", event_id="x1"),
]

CONTACT_ROWS = [
    ["k1", "sms", "'+31 6 1234", "Kim", "2024-07-18T09:00:00+00:00", "2", "2", "1", "2024-07-20T08:00:00+00:00"],
    ["k2", "whatsapp", "", "", "2024-07-18T15:00:00+00:00", "1", "0", "2", "2024-07-18T16:00:00+00:00"],
    ["k4", "sms", "", "", "2024-07-18T10:00:00+00:00", "1", "1", "1", "2024-07-18T11:00:00+00:00"],
    ["k5", "sms", "", "", "2024-07-18T18:00:00+00:00", "2", "2", "0", "2024-07-18T18:00:00+00:00"],
]


def test_contacts_two_conversations_outbound_only_and_last_updated_any_time():
    states = tables(CONTACT_EVENTS)
    assert run("contacts", context("contacts", states), [states]) == CONTACT_ROWS


def test_contacts_channel_filter_uses_each_messages_own_channel():
    states = tables(CONTACT_EVENTS)
    assert run("contacts", context("contacts", states, channels=["ch1"]), [states]) == [
        ["k1", "whatsapp", "'+31 6 1234", "Kim", "2024-07-18T09:00:00+00:00", "1", "1", "1", "2024-07-20T08:00:00+00:00"],
        ["k2", "whatsapp", "", "", "2024-07-18T15:00:00+00:00", "1", "0", "2", "2024-07-18T16:00:00+00:00"],
        ["k4", "whatsapp", "", "", "2024-07-18T10:00:00+00:00", "1", "1", "0", "2024-07-18T11:00:00+00:00"],
        ["k5", "whatsapp", "", "", "2024-07-18T18:00:00+00:00", "1", "1", "0", "2024-07-18T18:00:00+00:00"],
    ]
    assert run("contacts", context("contacts", states, channels=["ch2"]), [states]) == [
        ["k1", "sms", "'+31 6 1234", "Kim", "2024-07-18T12:00:00+00:00", "1", "1", "0", "2024-07-20T08:00:00+00:00"],
        ["k4", "sms", "", "", "2024-07-18T11:00:00+00:00", "1", "0", "1", "2024-07-18T11:00:00+00:00"],
        ["k5", "sms", "", "", "2024-07-18T18:00:00+00:00", "1", "1", "0", "2024-07-18T18:00:00+00:00"],
    ]


def test_contacts_in_a_zone_with_an_offset():
    # Amsterdam 2024-07-18 = [07-17T22:00Z, 07-18T22:00Z)
    states = tables(CONTACT_EVENTS)
    rows = run("contacts", context("contacts", states, tz="Europe/Amsterdam"), [states])
    assert rows[0] == ["k1", "sms", "'+31 6 1234", "Kim", "2024-07-18T11:00:00+02:00", "2", "2", "1",
                       "2024-07-20T10:00:00+02:00"]


def test_contacts_last_updated_from_messages_when_the_contact_state_lags():
    states = tables(CONTACT_EVENTS)
    only_conversations = {"conversations": states["conversations"]}
    rows = run("contacts", context("contacts", states), [only_conversations])
    assert rows[0][-1] == "2024-07-19T10:00:00+00:00"  # m4, after R, seen in c2
    assert [r[0] for r in rows] == ["k1", "k2", "k4", "k5"]


def test_contacts_merge_order_independence():
    states = tables(CONTACT_EVENTS)
    ctx = context("contacts", states)
    for shards in splits(states):
        assert run("contacts", ctx, shards) == CONTACT_ROWS
    assert_merge_laws("contacts", ctx, states)


# ---------------------------------------------------------------- contact_attributes

NOTE = 'He said "hi", then\nleft, — ünïcödé ✓ 🎉'
ATTRIBUTE_EVENTS = [
    # k1: an INBOUND message in R; attributes with commas, quotes, newlines, unicode, a formula,
    # an empty value, one cleared, one cleared and set again (events out of order)
    msg("c1", "2024-07-18T09:00:00Z", "m1", "INBOUND", "k1", contact_primary_identifier="+31 6 1234",
        contact_secondary_identifier="Kim"),
    attr_set("k1", "2024-07-01T00:00:00Z", "a2", "Note, long", "TEXT", NOTE),
    attr_set("k1", "2024-07-01T00:00:00Z", "a1", "Score", "NUMBER", "=1+1"),
    attr_set("k1", "2024-07-01T00:00:00Z", "a10", "Empty", "TEXT", ""),
    attr_set("k1", "2024-07-01T00:00:00Z", "a3", "Gone", "TEXT", "x"),
    attr_cleared("k1", "2024-07-02T00:00:00Z", "a3"),
    attr_set("k1", "2024-07-05T00:00:00Z", "a4", "Plan", "LIST", "v2"),
    attr_cleared("k1", "2024-07-03T00:00:00Z", "a4"),
    attr_set("k1", "2024-07-01T00:00:00Z", "a4", "Plan", "LIST", "v1"),
    # k2: only outbound in R
    msg("c3", "2024-07-18T15:00:00Z", "m5", "OUTBOUND", "k2", agent_id="a1"),
    attr_set("k2", "2024-07-01T00:00:00Z", "b1", "Tier", "TEXT", "gold"),
    # k3: inbound in R, no attribute
    msg("c4", "2024-07-18T10:00:00Z", "m6", "INBOUND", "k3"),
    # k5: inbound on ch1 in a conversation whose channel (first message) is ch2
    msg("c9", "2024-07-18T09:00:00Z", "m10", "OUTBOUND", "k5", channel="ch2", agent_id="a1"),
    msg("c9", "2024-07-18T09:10:00Z", "m11", "INBOUND", "k5"),
    attr_set("k5", "2024-07-18T09:11:00Z", "b1", "Tier", "TEXT", "silver"),
    # k6: inbound in R, its only attribute cleared (after R: every event counts)
    msg("c10", "2024-07-18T11:00:00Z", "m12", "INBOUND", "k6"),
    attr_set("k6", "2024-07-01T00:00:00Z", "b1", "Tier", "TEXT", "gold"),
    attr_cleared("k6", "2024-07-25T00:00:00Z", "b1"),
    # k7: inbound before R only
    msg("c11", "2024-07-17T23:59:59Z", "m13", "INBOUND", "k7"),
    attr_set("k7", "2024-07-01T00:00:00Z", "b1", "Tier", "TEXT", "gold"),
]

K1 = ["k1", "'+31 6 1234", "Kim"]
ATTRIBUTE_ROWS = [
    K1 + ["a1", "Score", "'=1+1", "NUMBER"],
    K1 + ["a10", "Empty", "", "TEXT"],
    K1 + ["a2", "Note, long", NOTE, "TEXT"],
    K1 + ["a4", "Plan", "v2", "LIST"],
    ["k5", "", "", "b1", "Tier", "silver", "TEXT"],
]


def test_contact_attributes_current_values_for_contacts_with_an_inbound_message():
    states = tables(ATTRIBUTE_EVENTS)
    rows = run("contact_attributes", context("contact_attributes", states), [states])
    assert rows == ATTRIBUTE_ROWS
    data = csvfile.encode(REPORTS["contact_attributes"].header, rows)
    assert b'"He said ""hi"", then\nleft, \xe2\x80\x94 ' in data and data.endswith(b"\r\n")
    assert list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:] == ATTRIBUTE_ROWS


def test_contact_attributes_channel_filter_is_the_conversations_channel():
    states = tables(ATTRIBUTE_EVENTS)
    assert run("contact_attributes", context("contact_attributes", states, channels=["ch1"]), [states]) == ATTRIBUTE_ROWS[:4]
    assert run("contact_attributes", context("contact_attributes", states, channels=["ch2"]), [states]) == ATTRIBUTE_ROWS[4:]


def test_contact_attributes_merge_order_independence():
    states = tables(ATTRIBUTE_EVENTS)
    ctx = context("contact_attributes", states)
    for shards in splits(states):
        assert run("contact_attributes", ctx, shards) == ATTRIBUTE_ROWS
    assert_merge_laws("contact_attributes", ctx, states)


def test_contact_reports_have_the_headers_width():
    for name, events in (("contacts", CONTACT_EVENTS), ("contact_attributes", ATTRIBUTE_EVENTS)):
        states = tables(events)
        rows = run(name, context(name, states), [states])
        assert rows and all(len(r) == len(REPORTS[name].header) for r in rows)
