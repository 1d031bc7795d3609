"""Hand-computed scenarios for the reference model (tests/reference/model.py).

Every expected file below was worked out by hand from the report rules (docs/reports.md) and is written
literally; none of it is produced by calling the model.  The comments next to
the events give the arithmetic.
"""
from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference.model import HEADERS, report, rows

# The seed article (Sparkcentral's "Data Exports" page), kept in the repository for its header tables.
SEED = Path(__file__).resolve().parent / "seed" / "sparkcentral-data-exports.txt"
URL = "https://app.convoflow.local/conversations/"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class Log:
    """Builds a list of contract events with unique event ids."""

    def __init__(self):
        self.events: list[dict] = []

    def add(self, type_: str, at: str, eid: str | None = None, **fields) -> dict:
        event = {"type": type_, "event_id": eid or f"e{len(self.events):04d}", "occurred_at": at}
        event.update({k: v for k, v in fields.items() if v is not None})
        self.events.append(event)
        return event

    def msg(self, at, conv, mid, direction, channel="ch-wa", contact="cp-0", eid=None, **f):
        f.setdefault("message_type", "TEXT")
        return self.add("message.created", at, eid, message_id=mid, conversation_id=conv, channel_id=channel,
                        contact_profile_id=contact, direction=direction, **f)

    def status(self, at, conv, status, eid=None, **f):
        return self.add("conversation.status_changed", at, eid, conversation_id=conv, status=status, **f)

    def new(self, at, conv, started_by="CONTACT_MESSAGE", **f):
        return self.status(at, conv, "NEW", started_by=started_by, **f)

    def resolve(self, at, conv, resolved_by="AGENT", trigger="HUMAN_AGENT", **f):
        return self.status(at, conv, "RESOLVED", resolved_by=resolved_by, resolve_trigger=trigger, **f)

    def lock(self, at_acquired, at_released, conv, lock_id, agent, team=None, release_team=None):
        self.add("lock.acquired", at_acquired, conversation_id=conv, lock_id=lock_id, agent_id=agent, team_id=team)
        if at_released is not None:
            self.add("lock.released", at_released, conversation_id=conv, lock_id=lock_id, agent_id=agent,
                     team_id=release_team)

    def presence(self, at, agent, state, away_state=None, eid=None):
        return self.add("presence.changed", at, eid, agent_id=agent, state=state, away_state=away_state)


def base_directory(log: Log) -> None:
    log.add("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch-wa", medium="whatsapp", name="WA Support",
            display_name="Support, NL")
    log.add("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch-sms", medium="sms", name="SMS")
    # latest upsert wins whole: the older one (listed later) must not win
    log.add("agent.upserted", "2024-01-02T00:00:00Z", agent_id="a-1", name="Ann", email="ann@x.test",
            reference="-ref1")
    log.add("agent.upserted", "2023-12-01T00:00:00Z", agent_id="a-1", name="Old Ann", email="old@x.test",
            reference="r0")
    log.add("team.upserted", "2024-01-01T00:00:00Z", team_id="t-1", name="Tier 1",
            created_at="2023-01-02T03:04:05.678+01:00")
    log.add("topic.upserted", "2024-01-01T00:00:00Z", topic_id="tp-1", name="Billing")
    log.add("topic.upserted", "2024-01-01T00:00:00Z", topic_id="tp-3", name="Refund")
    log.add("tag.upserted", "2024-01-01T00:00:00Z", tag_id="g-1", name="VIP")
    log.add("virtual_agent.upserted", "2024-01-01T00:00:00Z", virtual_agent_id="va-1", name="Botty")


def csv_bytes(*lines: str) -> bytes:
    return ("".join(line + "\r\n" for line in lines)).encode("utf-8")


def header(export_type: str) -> str:
    return ",".join(HEADERS[export_type])


def check(events, export_type, expected_lines, time_zone, date_from, date_to=None, **kw):
    got = report(events, export_type, time_zone, date_from, date_to or date_from, **kw)
    expected = csv_bytes(header(export_type), *expected_lines)
    if got != expected:  # a readable cell-by-cell diff before failing
        got_rows = list(csv.reader(io.StringIO(got.decode("utf-8"), newline="")))
        exp_rows = list(csv.reader(io.StringIO(expected.decode("utf-8"), newline="")))
        for i, (g, e) in enumerate(zip(got_rows, exp_rows)):
            if g != e:
                diff = [(h, gc, ec) for h, gc, ec in zip(HEADERS[export_type], g, e) if gc != ec]
                print(f"row {i}: len got {len(g)} expected {len(e)}; differing (column, got, expected): {diff}")
        print("row counts", len(got_rows), len(exp_rows))
    assert got == expected


# --------------------------------------------------------------------------
# headers
# --------------------------------------------------------------------------


def _seed_headers() -> list[list[str]]:
    sections, current = [], None
    for line in open(SEED, encoding="utf-8").read().split("\n"):
        if line.startswith("Header | Description"):
            current = []
            sections.append(current)
        elif current is not None and (line.startswith("This export") or line.startswith("Can't find")):
            current = None
        elif current is not None and not line.startswith("---"):
            m = re.match(r"^(.+?) \|", line)
            if m:
                current.append(m.group(1))
    return sections


def test_headers_match_seed():
    order = ["conversations_resolved", "conversations_open", "messages", "teams", "contacts", "topics", "tags",
             "agent_presence", "agent_metrics", "agent_responses", "virtual_agents", "contact_attributes"]
    assert list(HEADERS) == order
    assert [HEADERS[k] for k in order] == _seed_headers()
    assert HEADERS["messages"][8] == "Contact Secondary identifier"
    assert HEADERS["virtual_agents"][-2:] == [
        "Total Messages Tagged", "The number of messages that have been tagged overall"]
    assert HEADERS["conversations_resolved"][-4:] == [
        "CSAT Score", "CSAT Completed Status", "CSAT Follow-up Question", "CSAT Follow-up Answer"]
    assert "Resolve Reason" not in HEADERS["conversations_open"]


# --------------------------------------------------------------------------
# conversations_resolved (Europe/Amsterdam, 2024-07-18 = [07-17T22:00Z, 07-18T22:00Z))
# --------------------------------------------------------------------------


def resolved_scenario() -> list[dict]:
    log = Log()
    base_directory(log)
    # c-1: VA first, handover, three lock sessions, two resolutions and a reopen
    log.msg("2024-07-18T08:00:00Z", "c-1", "m1", "INBOUND", contact="cp-1", origin="CONTACT",
            contact_primary_identifier="+31 6 1234", contact_secondary_identifier="Alice", language="nl")
    log.msg("2024-07-18T08:00:05Z", "c-1", "m2", "OUTBOUND", contact="cp-1", origin="VIRTUAL_AGENT",
            virtual_agent_id="va-1")
    log.msg("2024-07-18T08:01:00Z", "c-1", "m3", "INBOUND", contact="cp-1", contact_primary_identifier="",
            contact_secondary_identifier="Alice B", language="en")
    log.new("2024-07-18T08:02:00Z", "c-1", "VA_HANDED_OVER_CONVERSATION", virtual_agent_id="va-1",
            handover_reason="USER_REQUEST", inbound_message_id="m3")
    # L1 handle: a-1 replies (m4) inside [08:03:00, 08:05:30.5] -> 150.5 s
    log.lock("2024-07-18T08:03:00Z", "2024-07-18T10:05:30.5+02:00", "c-1", "L1", "a-1", team="t-1")
    log.msg("2024-07-18T08:04:10Z", "c-1", "m4", "OUTBOUND", contact="cp-1", origin="AGENT", agent_id="a-1",
            team_id="t-1")  # first response: 08:04:10 - 08:02:00 = 130 s
    log.status("2024-07-18T08:05:00Z", "c-1", "PENDING", agent_id="a-1", team_id="t-1")
    log.add("topic.applied", "2024-07-18T08:06:00Z", conversation_id="c-1", topic_id="tp-1", agent_id="a-1")
    log.add("topic.applied", "2024-07-18T08:07:00Z", conversation_id="c-1", topic_id="tp-2")
    # L2 no-reply: a-2 resolves at 08:11 inside [08:10:00, 08:12:00.4] -> 120.4 s; team from the release
    log.lock("2024-07-18T08:10:00Z", "2024-07-18T08:12:00.4Z", "c-1", "L2", "a-2", release_team="t-1")
    log.resolve("2024-07-18T08:11:00Z", "c-1", agent_id="a-2", resolve_reason="Fixed", resolve_comment="first")
    log.add("topic.removed", "2024-07-18T08:30:00Z", conversation_id="c-1", topic_id="tp-1")
    log.add("topic.applied", "2024-07-18T08:40:00Z", conversation_id="c-1", topic_id="tp-3")
    log.msg("2024-07-18T09:00:00Z", "c-1", "m5", "INBOUND", contact="cp-1", contact_primary_identifier="+31 6 9999",
            language="")
    log.new("2024-07-18T09:00:01Z", "c-1", inbound_message_id="m5")
    # L3 cherry-picking: nothing by a-1 in [09:05:00, 09:05:10.5] -> 10.5 s
    log.lock("2024-07-18T09:05:00Z", "2024-07-18 09:05:10.5000009z", "c-1", "L3", "a-1", team="t-1")
    log.msg("2024-07-18T09:10:00Z", "c-1", "m6", "OUTBOUND", contact="cp-1", agent_id="a-2", team_id="t-1")
    log.add("topic.applied", "2024-07-18T09:15:00Z", conversation_id="c-1", topic_id="tp-1")  # re-applied
    log.resolve("2024-07-18T09:20:00Z", "c-1", agent_id="a-1", team_id="t-1", resolve_reason="Answered",
                resolve_comment="=SUM(1,2)")
    log.add("csat.sent", "2024-07-18T09:21:00Z", conversation_id="c-1", survey_id="s-1", agent_id="a-1",
            team_id="t-1")
    log.add("csat.answered", "2024-07-18T09:25:00Z", conversation_id="c-1", survey_id="s-1",
            completed_status="PARTIALLY_COMPLETED", score=2)
    log.add("csat.answered", "2024-07-18T09:30:00Z", conversation_id="c-1", survey_id="s-1",
            completed_status="COMPLETED", score=4, follow_up_question="Why?", follow_up_answer='Fast, "friendly"')
    log.lock("2024-07-18T10:00:00Z", None, "c-1", "L4", "a-1")  # never released: counts nowhere
    log.add("csat.answered", "2024-07-18T11:00:00Z", conversation_id="c-1", survey_id="s-x",
            completed_status="COMPLETED", score=1)  # never sent: counts nowhere

    # c-2: everything missing from the directory
    log.msg("2024-07-18T20:00:00Z", "c-2", "m20", "INBOUND", channel="ch-x", contact="cp-2")
    log.new("2024-07-18T20:00:00Z", "c-2", inbound_message_id="m20")
    log.resolve("2024-07-18T21:00:00Z", "c-2", agent_id="a-9", team_id="t-9")
    log.add("csat.sent", "2024-07-18T21:00:01Z", conversation_id="c-2", survey_id="s-2")

    # c-3: first resolved on 07-17 -> not listed although resolved again in R
    log.msg("2024-07-17T09:00:00Z", "c-3", "m30", "INBOUND", contact="cp-3")
    log.resolve("2024-07-17T10:00:00Z", "c-3", "SYSTEM", "AUTO_RESOLVE")
    log.new("2024-07-18T09:59:00Z", "c-3")
    log.resolve("2024-07-18T10:00:00Z", "c-3", "SYSTEM", "AUTO_RESOLVE")

    # c-4: first resolution at local 2024-07-19 00:00 -> outside R
    log.msg("2024-07-18T21:00:00Z", "c-4", "m40", "INBOUND", contact="cp-4")
    log.resolve("2024-07-18T22:00:00Z", "c-4", "BULK", "AUTOMATION")

    # c-5: only a status change, at local 2024-07-18 00:00 -> in R, no channel
    log.resolve("2024-07-17T22:00:00Z", "c-5", "BULK", "AUTOMATION")
    return log.events


RESOLVED_C1 = (
    "c-1,whatsapp,WA Support,\"Support, NL\",cp-1,'+31 6 9999,Alice B,2024-07-18T10:00:00+02:00,"
    "a-1,Ann,'-ref1,t-1,Tier 1,RESOLVED,AGENT,Answered,\"'=SUM(1,2)\",HUMAN_AGENT,2024-07-18T11:20:00+02:00,"
    "a-1,Ann,'-ref1,3,3,130,151,120,11,4800,tp-2;tp-3;tp-1,;Refund;Billing,"
    f"{URL}c-1,2024-07-18T11:30:00+02:00,en,4,COMPLETED,Why?,\"Fast, \"\"friendly\"\"\""
)
RESOLVED_C2 = (
    "c-2,,,,cp-2,,,2024-07-18T22:00:00+02:00,a-9,,,t-9,,RESOLVED,AGENT,,,HUMAN_AGENT,2024-07-18T23:00:00+02:00,"
    f"a-9,,,1,0,,0,0,0,3600,,,{URL}c-2,2024-07-18T23:00:01+02:00,,,SENT,,"
)
RESOLVED_C5 = (
    "c-5,,,,,,,2024-07-18T00:00:00+02:00,,,,,,RESOLVED,BULK,,,AUTOMATION,2024-07-18T00:00:00+02:00,"
    f",,,0,0,,0,0,0,,,,{URL}c-5,2024-07-18T00:00:00+02:00,,,,,"
)


def test_conversations_resolved():
    check(resolved_scenario(), "conversations_resolved", [RESOLVED_C1, RESOLVED_C2, RESOLVED_C5],
          "Europe/Amsterdam", "2024-07-18", as_of="2024-07-19T00:00:00Z")


def test_conversations_resolved_channel_filter():
    events = resolved_scenario()
    kw = dict(as_of="2024-07-19T00:00:00Z")
    # c-2 is on ch-x, c-5 has no channel: only c-1 passes
    check(events, "conversations_resolved", [RESOLVED_C1], "Europe/Amsterdam", "2024-07-18", channels=["ch-wa"], **kw)
    check(events, "conversations_resolved", [RESOLVED_C2], "Europe/Amsterdam", "2024-07-18", channels=["ch-x"], **kw)
    check(events, "conversations_resolved", [], "Europe/Amsterdam", "2024-07-18", channels=["nope"], **kw)
    # an empty list means all channels
    check(events, "conversations_resolved", [RESOLVED_C1, RESOLVED_C2, RESOLVED_C5], "Europe/Amsterdam",
          "2024-07-18", channels=[], **kw)
    # on 07-17 only c-3 was first resolved (12:00 local); c-5 (local 07-18 00:00) is outside.
    # c-3 shows its latest resolution (07-18 12:00 local); resolution time 07-18T10:00Z - 07-17T09:00Z = 90000
    check(events, "conversations_resolved", [
        f"c-3,{WA},cp-3,,,2024-07-17T11:00:00+02:00,,,,,,RESOLVED,SYSTEM,,,AUTO_RESOLVE,2024-07-18T12:00:00+02:00,"
        f",,,1,0,,0,0,0,90000,,,{URL}c-3,2024-07-18T12:00:00+02:00,,,,,",
    ], "Europe/Amsterdam", "2024-07-17", **kw)


# --------------------------------------------------------------------------
# conversations_open (America/New_York, -05:00 in early March)
# --------------------------------------------------------------------------


def test_conversations_open():
    log = Log()
    base_directory(log)
    # o-1: resolved by a-1, reopened, answered by a-2 (not in the directory), pending
    log.msg("2024-03-01T10:00:00Z", "o-1", "mo1", "INBOUND", channel="ch-sms", contact="cp-9",
            contact_primary_identifier="@bob")
    log.new("2024-03-01T10:00:00Z", "o-1", inbound_message_id="mo1")
    log.resolve("2024-03-01T10:30:00Z", "o-1", agent_id="a-1", team_id="t-1", resolve_reason="x")
    log.msg("2024-03-01T11:00:00Z", "o-1", "mo2", "INBOUND", channel="ch-sms", contact="cp-9")
    log.new("2024-03-01T11:00:00Z", "o-1", inbound_message_id="mo2")
    # the 10:00 NEW has no response: the latest NEW before 11:05 is 11:00 -> 300 s
    log.msg("2024-03-01T11:05:00Z", "o-1", "mo3", "OUTBOUND", channel="ch-sms", contact="cp-9", agent_id="a-2")
    log.status("2024-03-01T11:06:00Z", "o-1", "PENDING", agent_id="a-2")
    # o-2: messages only -> NEW; fraction truncated in the timestamp
    log.msg("2024-03-02T08:00:00.999999Z", "o-2", "mo4", "INBOUND", contact="cp-8", language="de")
    # o-3: resolved -> not open
    log.msg("2024-03-01T12:00:00Z", "o-3", "mo5", "INBOUND", contact="cp-7")
    log.resolve("2024-03-01T12:10:00Z", "o-3", "SYSTEM", "AUTO_RESOLVE")
    # o-4: a status change only -> exists, no channel
    log.status("2024-02-01T00:00:00Z", "o-4", "PENDING", agent_id="a-1")
    # o-5: a topic only -> does not exist
    log.add("topic.applied", "2024-03-01T00:00:00Z", conversation_id="o-5", topic_id="tp-1")
    u = "https://x.test/c?id={conversation_id}&v=1"
    check(log.events, "conversations_open", [
        "o-1,sms,SMS,,cp-9,'@bob,,2024-03-01T05:00:00-05:00,a-2,,,,,PENDING,AGENT,2024-03-01T05:30:00-05:00,"
        "a-1,Ann,'-ref1,2,1,300,0,0,0,1800,,,https://x.test/c?id=o-1&v=1,2024-03-01T06:06:00-05:00,",
        "o-2,whatsapp,WA Support,\"Support, NL\",cp-8,,,2024-03-02T03:00:00-05:00,,,,,,NEW,,,,,,1,0,,0,0,0,,,,"
        "https://x.test/c?id=o-2&v=1,2024-03-02T03:00:00-05:00,de",
        "o-4,,,,,,,2024-01-31T19:00:00-05:00,a-1,Ann,'-ref1,,,PENDING,,,,,,0,0,,0,0,0,,,,"
        "https://x.test/c?id=o-4&v=1,2024-01-31T19:00:00-05:00,",
    ], "America/New_York", "2020-01-01", as_of="2024-03-03T00:00:00Z", url_template=u)


# --------------------------------------------------------------------------
# messages (Asia/Tokyo +09:00; 2024-05-10 = [05-09T15:00Z, 05-10T15:00Z))
# --------------------------------------------------------------------------


def test_messages():
    log = Log()
    base_directory(log)
    log.add("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch-tw", medium="twitter", name="TW",
            display_name='Twitter "main"')
    log.add("tag.upserted", "2024-01-01T00:00:00Z", tag_id="g-2", name="=bad")
    log.msg("2024-05-10T00:00:00Z", "c-m", "mm1", "INBOUND", channel="ch-tw", contact="cp-m", origin="CONTACT",
            content="Hello", post_url="https://tw/1", system_user_type="CUSTOMER", contact_primary_identifier="cust")
    log.msg("2024-05-10T00:01:00Z", "c-m", "mm2", "OUTBOUND", channel="ch-tw", contact="cp-m", origin="AGENT",
            outbound_message_type="REPLY", agent_id="a-1", team_id="t-1", content="-1 for you")
    tag = dict(conversation_id="c-m", message_id="mm1")
    log.add("tag.applied", "2024-05-10T00:02:00Z", tag_id="g-1", **tag)
    log.add("tag.applied", "2024-05-10T00:03:00Z", tag_id="g-2", **tag)
    log.add("tag.removed", "2024-05-10T00:04:00Z", tag_id="g-1", **tag)
    log.add("message.updated", "2024-05-10T00:05:00Z", content="mid", **tag)
    log.add("tag.applied", "2024-05-10T00:06:00Z", tag_id="g-3", **tag)  # same time as g-1: by id
    log.add("tag.applied", "2024-05-10T00:06:00Z", tag_id="g-1", **tag)
    log.add("message.updated", "2024-05-10T00:10:00Z", content='Hi, "you"\r\nbye', system_user_type="", **tag)
    log.add("message.updated", "2024-05-10T00:20:00Z", message_type="IMAGE", **tag)
    log.add("message.deleted", "2024-05-10T00:40:00Z", conversation_id="c-m", message_id="mm2")
    log.add("message.deleted", "2024-05-10T00:30:00Z", conversation_id="c-m", message_id="mm2")  # first counts
    log.msg("2024-05-09T14:59:59Z", "c-m3", "mm3", "INBOUND", channel="ch-tw", contact="cp-z")  # 23:59:59 05-09
    log.msg("2024-05-09T15:00:00Z", "c-m2", "mm4", "INBOUND", channel="ch-fb", contact="cp-n",
            message_type="LOCATION", content="\tTabbed")
    log.msg("2024-05-09T16:00:00Z", "c-m2", "mm4", "INBOUND", channel="ch-fb", contact="cp-n",
            content="second create, ignored")
    events = log.events + [dict(log.events[-6])]  # a duplicate delivery
    tw = 'twitter,TW,"Twitter ""main"""'
    check(events, "messages", [
        f"mm1,2024-05-10T09:00:00+09:00,c-m,{tw},cp-m,cust,,IMAGE,CONTACT,,INBOUND,,,,,,g-2;g-1;g-3,'=bad;VIP;,"
        f"\"Hi, \"\"you\"\"\r\nbye\",{URL}c-m,https://tw/1,2024-05-10T09:20:00+09:00,,",
        f"mm2,2024-05-10T09:01:00+09:00,c-m,{tw},cp-m,cust,,TEXT,AGENT,REPLY,OUTBOUND,a-1,Ann,'-ref1,t-1,Tier 1,,,"
        f"'-1 for you,{URL}c-m,,2024-05-10T09:30:00+09:00,2024-05-10T09:30:00+09:00,",
        f"mm4,2024-05-10T00:00:00+09:00,c-m2,,,,cp-n,,,LOCATION,,,INBOUND,,,,,,,,'\tTabbed,{URL}c-m2,,"
        "2024-05-10T00:00:00+09:00,,",
    ], "Asia/Tokyo", "2024-05-10")


def test_channel_filter_uses_message_channel_for_messages():
    log = Log()
    base_directory(log)
    log.msg("2024-06-01T01:00:00Z", "mix-1", "x1", "INBOUND", channel="ch-wa", contact="cp-1")
    log.msg("2024-06-01T01:05:00Z", "mix-1", "x2", "OUTBOUND", channel="ch-sms", contact="cp-1", agent_id="a-1")
    ev = log.events
    kw = dict(time_zone="UTC", date_from="2024-06-01", date_to="2024-06-01", as_of="2024-06-02T00:00:00Z")
    assert [r[0] for r in rows(ev, "messages", channels=["ch-sms"], **kw)[1:]] == ["x2"]
    assert [r[0] for r in rows(ev, "messages", channels=["ch-wa"], **kw)[1:]] == ["x1"]
    # the conversation's channel is the one of its first message
    assert [r[0] for r in rows(ev, "conversations_open", channels=["ch-sms"], **kw)[1:]] == []
    assert [r[0] for r in rows(ev, "conversations_open", channels=["ch-wa"], **kw)[1:]] == ["mix-1"]
    # teams/agents follow the conversation's channel too: a-1's reply is on a ch-wa conversation
    assert [r[0] for r in rows(ev, "agent_metrics", channels=["ch-sms"], **kw)[1:]] == []
    assert [r[0] for r in rows(ev, "agent_metrics", channels=["ch-wa"], **kw)[1:]] == ["a-1"]


# --------------------------------------------------------------------------
# agent_responses (Asia/Kathmandu +05:45; 2024-07-18 = [07-17T18:15Z, 07-18T18:15Z))
# --------------------------------------------------------------------------


def responses_scenario() -> list[dict]:
    log = Log()
    base_directory(log)
    log.msg("2024-07-18T03:00:00Z", "r-1", "r1-in1", "INBOUND", contact="cp-r")
    log.new("2024-07-18T03:00:00Z", "r-1", inbound_message_id="r1-in1")
    log.msg("2024-07-18T08:47:00.5+05:45", "r-1", "h1", "OUTBOUND", contact="cp-r", agent_id="a-1")  # 120.5 -> 121
    log.msg("2024-07-18T03:03:00Z", "r-1", "h2", "OUTBOUND", contact="cp-r", agent_id="a-1")  # not a response
    log.msg("2024-07-18T03:09:00Z", "r-1", "r1-in2", "INBOUND", contact="cp-r")
    log.new("2024-07-18T03:10:00Z", "r-1", "VA_HANDED_OVER_CONVERSATION", handover_reason="ERROR",
            virtual_agent_id="va-1", inbound_message_id="r1-in2")
    log.msg("2024-07-18T03:10:00Z", "r-1", "h3", "OUTBOUND", contact="cp-r", agent_id="a-2")  # same time: 0 s
    log.msg("2024-07-18T03:15:00Z", "r-1", "h4", "OUTBOUND", contact="cp-r", agent_id="a-1")  # not a response
    # r-2: NEW before R, outbound at local 00:00 -> listed, 900 s
    log.msg("2024-07-17T17:59:00Z", "r-2", "r2-in", "INBOUND", contact="cp-s")
    log.new("2024-07-17T18:00:00Z", "r-2", inbound_message_id="r2-in")
    log.msg("2024-07-17T18:15:00Z", "r-2", "r2-out", "OUTBOUND", contact="cp-s", agent_id="a-1")
    # r-3: outbound at local 07-19 00:00 -> not listed
    log.msg("2024-07-18T18:00:00Z", "r-3", "r3-in", "INBOUND", contact="cp-w")
    log.new("2024-07-18T18:00:00Z", "r-3", inbound_message_id="r3-in")
    log.msg("2024-07-18T18:15:00Z", "r-3", "r3-out", "OUTBOUND", contact="cp-w", agent_id="a-1")
    # r-4: proactive outbound (no NEW before it), then a NEW never answered
    log.msg("2024-07-18T05:00:00Z", "r-4", "r4-out", "OUTBOUND", contact="cp-x", agent_id="a-1")
    log.new("2024-07-18T06:00:00Z", "r-4", "AGENT_MOVED")
    # r-5: same To instant as r-1's h3 -> ordered by Conversation ID
    log.msg("2024-07-18T03:08:30Z", "r-5", "r5-in", "INBOUND", channel="ch-sms", contact="cp-t")
    log.new("2024-07-18T03:09:00Z", "r-5", inbound_message_id="r5-in")
    log.msg("2024-07-18T03:10:00Z", "r-5", "r5-out", "OUTBOUND", channel="ch-sms", contact="cp-t", agent_id="a-1")
    # r-0: To 0.7 s later, but written as the same second -> by Conversation ID: before r-1 and r-5
    log.msg("2024-07-18T03:09:20Z", "r-0", "r0-in", "INBOUND", contact="cp-u")
    log.new("2024-07-18T03:09:30Z", "r-0", "AUTOMATION")
    log.msg("2024-07-18T03:10:00.7Z", "r-0", "r0-out", "OUTBOUND", contact="cp-u", agent_id="a-2")  # 30.7 -> 31
    return log.events


WA = 'whatsapp,WA Support,"Support, NL"'
R5_LINE = (f"r-5,sms,SMS,,cp-t,CONTACT_MESSAGE,,2024-07-18T08:54:00+05:45,2024-07-18T08:55:00+05:45,60,"
           f"a-1,Ann,'-ref1,r5-in,r5-out,{URL}r-5")


def test_agent_responses_kathmandu():
    check(responses_scenario(), "agent_responses", [
        f"r-2,{WA},cp-s,CONTACT_MESSAGE,,2024-07-17T23:45:00+05:45,2024-07-18T00:00:00+05:45,900,"
        f"a-1,Ann,'-ref1,r2-in,r2-out,{URL}r-2",
        f"r-1,{WA},cp-r,CONTACT_MESSAGE,,2024-07-18T08:45:00+05:45,2024-07-18T08:47:00+05:45,121,"
        f"a-1,Ann,'-ref1,r1-in1,h1,{URL}r-1",
        f"r-0,{WA},cp-u,AUTOMATION,,2024-07-18T08:54:30+05:45,2024-07-18T08:55:00+05:45,31,a-2,,,,r0-out,{URL}r-0",
        f"r-1,{WA},cp-r,VA_HANDED_OVER_CONVERSATION,ERROR,2024-07-18T08:55:00+05:45,2024-07-18T08:55:00+05:45,0,"
        f"a-2,,,r1-in2,h3,{URL}r-1",
        R5_LINE,
    ], "Asia/Kathmandu", "2024-07-18", as_of="2024-07-19T00:00:00Z")


def test_agent_responses_channel_filter():
    check(responses_scenario(), "agent_responses", [R5_LINE], "Asia/Kathmandu", "2024-07-18",
          channels=["ch-sms", "ch-unknown"], as_of="2024-07-19T00:00:00Z")


# --------------------------------------------------------------------------
# teams and agent_metrics (UTC 2024-06-01, as_of 12:00)
# --------------------------------------------------------------------------


def ops_scenario() -> list[dict]:
    log = Log()
    base_directory(log)
    log.presence("2024-06-01T08:00:00Z", "a-1", "AVAILABLE")  # available 08:00-11:00 = 10800
    log.presence("2024-06-01T11:00:00Z", "a-1", "AWAY", "Lunch")  # away 11:00-as_of 12:00 = 3600
    log.presence("2024-06-01T10:00:00Z", "p-5", "AWAY")  # away 7200, available 0
    # g-1
    log.msg("2024-06-01T08:00:00Z", "g-1", "g1-in", "INBOUND", contact="cp-g1")
    log.new("2024-06-01T08:00:00Z", "g-1", inbound_message_id="g1-in")
    log.lock("2024-06-01T08:10:00Z", "2024-06-01T08:20:00.5Z", "g-1", "k1", "a-1", team="t-1")  # handle 600.5
    log.lock("2024-06-01T08:14:00Z", "2024-06-01T08:16:00Z", "g-1", "k5", "a-1", team="t-1")  # handle 120
    log.msg("2024-06-01T08:15:00Z", "g-1", "g1-out", "OUTBOUND", contact="cp-g1", agent_id="a-1",
            team_id="t-1")  # first response 900 s
    log.add("topic.applied", "2024-06-01T08:16:00Z", conversation_id="g-1", topic_id="tp-1", agent_id="a-1",
            team_id="t-1")
    log.add("tag.applied", "2024-06-01T08:17:00Z", conversation_id="g-1", message_id="g1-in", tag_id="g-1",
            agent_id="a-1", team_id="t-1")
    log.resolve("2024-06-01T08:25:00Z", "g-1", agent_id="a-1", team_id="t-1")  # with reply; 1500 s
    log.add("csat.sent", "2024-06-01T08:26:00Z", conversation_id="g-1", survey_id="s-g1", agent_id="a-1",
            team_id="t-1")
    log.add("csat.answered", "2024-06-01T08:30:00Z", conversation_id="g-1", survey_id="s-g1",
            completed_status="COMPLETED", score=5)
    # g-2
    log.msg("2024-06-01T09:00:00Z", "g-2", "g2-in", "INBOUND", contact="cp-g2")
    log.new("2024-06-01T09:00:00Z", "g-2", inbound_message_id="g2-in")
    log.lock("2024-06-01T09:00:00Z", "2024-06-01T09:01:00Z", "g-2", "k2", "a-1", team="t-1")  # no-reply 60
    log.resolve("2024-06-01T09:00:30Z", "g-2", agent_id="a-1", team_id="t-1")  # without reply; 30 s
    log.lock("2024-06-01T09:02:00Z", "2024-06-01T09:03:00.25Z", "g-2", "k3", "z-3")  # cherry 60.25
    log.lock("2024-06-01T09:05:00Z", "2024-06-02T00:00:00Z", "g-2", "k4", "a-1", team="t-1")  # released after R
    log.add("csat.sent", "2024-06-01T09:04:00Z", conversation_id="g-2", survey_id="s-g2", agent_id="a-1",
            team_id="t-1")
    log.add("csat.answered", "2024-06-02T01:00:00Z", conversation_id="g-2", survey_id="s-g2",
            completed_status="COMPLETED", score=1)  # answered after R
    log.add("csat.answered", "2024-06-01T09:06:00Z", conversation_id="g-2", survey_id="s-g3",
            completed_status="COMPLETED", score=3)  # never sent
    # g-3: team t-2 resolves but never replies -> no t-2 row; a-7 gets a row
    log.msg("2024-06-01T10:00:00Z", "g-3", "g3-in", "INBOUND", channel="ch-sms", contact="cp-g3")
    log.resolve("2024-06-01T10:05:00Z", "g-3", agent_id="a-7", team_id="t-2")
    return log.events


def test_teams():
    check(ops_scenario(), "teams", [
        # avg FRT 900/1; avg resolution (1500+30)/2; handle 720.5 over 1 conversation
        "2023-01-02T02:04:05+00:00,t-1,Tier 1,1,1,900.00,765.00,721,60,0,720.50,1,0,0,0,0,1,1,1,1",
    ], "UTC", "2024-06-01", as_of="2024-06-01T12:00:00Z")


def test_agent_metrics():
    check(ops_scenario(), "agent_metrics", [
        # utilization (720.5 + 60 + 0) / 10800 * 100 = 7.2268..
        "a-1,Ann,ann@x.test,'-ref1,10800,3600,1,720.50,721,60,0,1,1,1,1,1,7.23,0,0,0,0,1",
        "a-7,,,,0,0,0,,0,0,0,0,0,1,0,0,,0,0,0,0,0",
        "p-5,,,,0,7200,0,,0,0,0,0,0,0,0,0,,0,0,0,0,0",
        "z-3,,,,0,0,0,,0,0,60,0,0,0,0,0,,0,0,0,0,0",
    ], "UTC", "2024-06-01", as_of="2024-06-01T12:00:00Z")


# --------------------------------------------------------------------------
# agent_presence (UTC 2024-06-01, as_of 18:00)
# --------------------------------------------------------------------------


def test_agent_presence():
    log = Log()
    base_directory(log)
    log.presence("2024-05-31T20:00:00Z", "a-1", "AWAY", "Early")  # ends before R: not listed
    log.presence("2024-05-31T23:00:00Z", "a-1", "AVAILABLE")
    log.presence("2024-06-01T01:00:00Z", "a-1", "AVAILABLE")  # repeat: ignored
    log.presence("2024-06-01T02:00:00Z", "a-1", "AWAY", "Lunch")
    log.presence("2024-06-01T02:30:00Z", "a-1", "AWAY", "Lunch")  # repeat: ignored
    log.presence("2024-06-01T03:00:00Z", "a-1", "AWAY", "Meeting")  # other away state: a change
    log.presence("2024-06-01T04:00:00Z", "a-1", "OFFLINE")
    log.presence("2024-06-01T05:00:00Z", "a-1", "AVAILABLE", eid="p-07")  # next change same time: not listed
    log.presence("2024-06-01T05:00:00Z", "a-1", "AWAY", "Break", eid="p-08")  # 3600.6 s
    log.presence("2024-06-01T06:00:00.6Z", "a-1", "AVAILABLE")  # ongoing: 43199.4 s
    log.presence("2024-05-30T10:00:00Z", "b-2", "AWAY")  # before R: not listed
    log.presence("2024-05-31T10:00:00Z", "b-2", "OFFLINE")
    log.presence("2024-06-01T23:59:59Z", "b-2", "AWAY", "")
    log.presence("2024-06-02T01:00:00Z", "b-2", "OFFLINE")
    events = list(reversed(log.events))
    check(events, "agent_presence", [
        "a-1,Ann,ann@x.test,Available,,2024-05-31T23:00:00+00:00,2024-06-01T02:00:00+00:00,10800",
        "a-1,Ann,ann@x.test,Away,Lunch,2024-06-01T02:00:00+00:00,2024-06-01T03:00:00+00:00,3600",
        "a-1,Ann,ann@x.test,Away,Meeting,2024-06-01T03:00:00+00:00,2024-06-01T04:00:00+00:00,3600",
        "a-1,Ann,ann@x.test,Away,Break,2024-06-01T05:00:00+00:00,2024-06-01T06:00:00+00:00,3601",
        "a-1,Ann,ann@x.test,Available,,2024-06-01T06:00:00+00:00,,43199",
        "b-2,,,Away,,2024-06-01T23:59:59+00:00,2024-06-02T01:00:00+00:00,3601",
    ], "UTC", "2024-06-01", as_of="2024-06-01T18:00:00Z")
    # the same events as agent_metrics: available (02:00-00:00) 7200 + (as_of - 06:00:00.6) 43199.4;
    # away 3600 + 3600 + 3600.6 for a-1; b-2 away 1 s inside R
    check(events, "agent_metrics", [
        "a-1,Ann,ann@x.test,'-ref1,50399,10801,0,,0,0,0,0,0,0,0,0,0.00,0,0,0,0,0",
        "b-2,,,,0,1,0,,0,0,0,0,0,0,0,0,,0,0,0,0,0",
    ], "UTC", "2024-06-01", as_of="2024-06-01T18:00:00Z")


# --------------------------------------------------------------------------
# DST days in Europe/Amsterdam
# --------------------------------------------------------------------------


def dst_autumn_scenario() -> list[dict]:
    log = Log()
    base_directory(log)
    log.add("agent.upserted", "2024-01-01T00:00:00Z", agent_id="d-1", name="Dee", email="dee@x.test")
    log.presence("2024-10-26T20:00:00Z", "d-1", "AVAILABLE")  # 22:00+02:00 on 10-26
    log.presence("2024-10-27T00:30:00Z", "d-1", "AWAY", "Coffee")  # 02:30+02:00
    log.presence("2024-10-27T01:00:00Z", "d-1", "AVAILABLE")  # 02:00+01:00 (later, but sorts lower as text)
    log.presence("2024-10-28T00:00:00Z", "d-1", "OFFLINE")  # 01:00+01:00 on 10-28
    log.msg("2024-10-26T21:59:59Z", "dst-1", "dm1", "INBOUND", contact="cp-d")  # 23:59:59+02:00 on 10-26: out
    log.msg("2024-10-27T00:30:00Z", "dst-1", "dm2", "INBOUND", contact="cp-d")  # 02:30+02:00
    log.msg("2024-10-27T01:30:00Z", "dst-1", "dm3", "OUTBOUND", contact="cp-d", origin="API")  # 02:30+01:00
    log.msg("2024-10-27T22:59:59Z", "dst-1", "dm4", "INBOUND", contact="cp-d")  # 23:59:59+01:00
    log.msg("2024-10-27T23:00:00Z", "dst-1", "dm5", "INBOUND", contact="cp-d")  # 10-28 00:00: out
    return log.events


def test_dst_autumn_25_hour_day():
    events = dst_autumn_scenario()
    kw = dict(time_zone="Europe/Amsterdam", date_from="2024-10-27", as_of="2024-10-29T00:00:00Z")
    # rows by From as written: "02:00+01:00" (the later instant) comes before "02:30+02:00"
    check(events, "agent_presence", [
        "d-1,Dee,dee@x.test,Available,,2024-10-26T22:00:00+02:00,2024-10-27T02:30:00+02:00,16200",
        "d-1,Dee,dee@x.test,Available,,2024-10-27T02:00:00+01:00,2024-10-28T01:00:00+01:00,82800",
        "d-1,Dee,dee@x.test,Away,Coffee,2024-10-27T02:30:00+02:00,2024-10-27T02:00:00+01:00,1800",
    ], **kw)
    # R is 25 h: available 2.5 h + 22 h = 88200, away 1800 -> 90000 s in all
    check(events, "agent_metrics", [
        "d-1,Dee,dee@x.test,,88200,1800,0,,0,0,0,0,0,0,0,0,0.00,0,0,0,0,0",
    ], **kw)
    check(events, "messages", [
        f"dm2,2024-10-27T02:30:00+02:00,dst-1,{WA},cp-d,,,TEXT,,,INBOUND,,,,,,,,,{URL}dst-1,,"
        "2024-10-27T02:30:00+02:00,,",
        f"dm3,2024-10-27T02:30:00+01:00,dst-1,{WA},cp-d,,,TEXT,API,,OUTBOUND,,,,,,,,,{URL}dst-1,,"
        "2024-10-27T02:30:00+01:00,,",
        f"dm4,2024-10-27T23:59:59+01:00,dst-1,{WA},cp-d,,,TEXT,,,INBOUND,,,,,,,,,{URL}dst-1,,"
        "2024-10-27T23:59:59+01:00,,",
    ], **kw)
    check(events, "contacts", [
        "cp-d,whatsapp,,,2024-10-27T02:30:00+02:00,1,2,1,2024-10-28T00:00:00+01:00",
    ], **kw)


def test_dst_spring_23_hour_day():
    log = Log()
    log.presence("2024-03-30T12:00:00Z", "e-1", "AVAILABLE")
    log.presence("2024-04-01T12:00:00Z", "e-1", "OFFLINE")
    kw = dict(time_zone="Europe/Amsterdam", date_from="2024-03-31", as_of="2024-04-02T00:00:00Z")
    check(log.events, "agent_presence", [
        "e-1,,,Available,,2024-03-30T13:00:00+01:00,2024-04-01T14:00:00+02:00,172800",
    ], **kw)
    check(log.events, "agent_metrics", ["e-1,,,,82800,0,0,,0,0,0,0,0,0,0,0,0.00,0,0,0,0,0"], **kw)


# --------------------------------------------------------------------------
# contacts (UTC 2024-06-01)
# --------------------------------------------------------------------------


def contacts_scenario() -> list[dict]:
    log = Log()
    base_directory(log)
    log.msg("2024-05-31T12:00:00Z", "k-a", "ka1", "INBOUND", contact="cp-1", contact_primary_identifier="P-old")
    log.msg("2024-06-01T09:00:00Z", "k-a", "ka2", "INBOUND", contact="cp-1")
    log.msg("2024-06-01T10:00:00Z", "k-a", "ka3", "OUTBOUND", contact="cp-1", agent_id="a-1")
    log.msg("2024-06-01T11:00:00Z", "k-b", "kb1", "INBOUND", channel="ch-sms", contact="cp-1",
            contact_primary_identifier="P-new", contact_secondary_identifier="=S")
    log.add("contact.attribute_set", "2024-06-03T00:00:00Z", contact_profile_id="cp-1", attribute_id="at-1",
            attribute_name="N", attribute_type="TEXT", value="v")
    log.msg("2024-05-30T00:00:00Z", "k-c", "kc1", "INBOUND", contact="cp-2")
    log.msg("2024-06-01T23:59:59.999Z", "k-d", "kd1", "INBOUND", channel="ch-x", contact="cp-3")
    return log.events


def test_contacts():
    kw = dict(time_zone="UTC", date_from="2024-06-01", as_of="2024-06-02T00:00:00Z")
    check(contacts_scenario(), "contacts", [
        "cp-1,sms,P-new,'=S,2024-06-01T09:00:00+00:00,2,2,1,2024-06-03T00:00:00+00:00",
        "cp-3,,,,2024-06-01T23:59:59+00:00,1,1,0,2024-06-01T23:59:59+00:00",
    ], **kw)
    # messages on ch-wa only; identifiers and Last Updated are the contact's (any channel, any time)
    check(contacts_scenario(), "contacts", [
        "cp-1,whatsapp,P-new,'=S,2024-06-01T09:00:00+00:00,1,1,1,2024-06-03T00:00:00+00:00",
    ], channels=["ch-wa"], **kw)


# --------------------------------------------------------------------------
# topics / tags (UTC 2024-06-01)
# --------------------------------------------------------------------------


def test_topics():
    log = Log()
    base_directory(log)
    log.add("topic.upserted", "2024-01-01T00:00:00Z", topic_id="tp-2", name="Old")
    log.add("topic.deleted", "2024-02-01T00:00:00Z", topic_id="tp-2")
    log.add("topic.upserted", "2024-01-01T00:00:00Z", topic_id="tp-4", name="A")
    log.add("topic.deleted", "2024-01-02T00:00:00Z", topic_id="tp-4")
    log.add("topic.upserted", "2024-01-03T00:00:00Z", topic_id="tp-4", name="B")
    log.msg("2024-05-31T00:00:00Z", "q-1", "q1", "INBOUND", contact="cp-1")
    log.msg("2024-05-31T00:00:00Z", "q-2", "q2", "INBOUND", contact="cp-2")
    log.msg("2024-05-31T00:00:00Z", "q-3", "q3", "INBOUND", channel="ch-sms", contact="cp-3")

    def topic(type_, at, conv, tid):
        log.add(type_, at, conversation_id=conv, topic_id=tid)

    topic("topic.applied", "2024-06-01T01:00:00Z", "q-1", "tp-1")
    topic("topic.applied", "2024-06-01T02:00:00Z", "q-2", "tp-1")
    topic("topic.removed", "2024-06-02T00:00:00Z", "q-2", "tp-1")  # after R, still counts for "current"
    topic("topic.applied", "2024-06-01T03:00:00Z", "q-3", "tp-1")
    topic("topic.applied", "2024-06-01T04:00:00Z", "q-1", "tp-2")
    topic("topic.removed", "2024-06-01T05:00:00Z", "q-1", "tp-2")
    topic("topic.applied", "2024-06-01T06:00:00Z", "q-1", "tp-2")
    topic("topic.applied", "2024-05-31T10:00:00Z", "q-1", "tp-9")  # before R
    topic("topic.applied", "2024-06-01T07:00:00Z", "q-2", "tp-9")
    topic("topic.applied", "2024-06-01T08:00:00Z", "q-3", "tp-4")
    check(log.events, "topics", [
        "tp-1,Billing,true,1,1,sms,SMS,",
        f"tp-1,Billing,true,2,1,{WA}",
        f"tp-2,Old,false,1,1,{WA}",
        "tp-4,B,true,1,1,sms,SMS,",
        f"tp-9,,true,1,1,{WA}",
    ], "UTC", "2024-06-01", as_of="2024-06-03T00:00:00Z")


def test_tags():
    log = Log()
    base_directory(log)
    log.add("tag.upserted", "2024-01-01T00:00:00Z", tag_id="g-2", name="Spam")
    log.add("tag.deleted", "2024-03-01T00:00:00Z", tag_id="g-2")
    log.msg("2024-06-01T00:10:00Z", "x-1", "xm1", "INBOUND", contact="cp-a")
    log.msg("2024-06-01T00:20:00Z", "x-1", "xm2", "INBOUND", contact="cp-a")
    log.msg("2024-06-01T00:30:00Z", "x-2", "xm3", "INBOUND", contact="cp-b")
    log.msg("2024-06-01T00:40:00Z", "x-3", "xm5", "INBOUND", channel="ch-sms", contact="cp-c")

    def tag(type_, at, conv, mid, tid):
        log.add(type_, at, conversation_id=conv, message_id=mid, tag_id=tid)

    tag("tag.applied", "2024-05-31T00:00:00Z", "x-1", "xm1", "g-1")  # before R
    tag("tag.applied", "2024-06-01T01:00:00Z", "x-1", "xm1", "g-1")
    tag("tag.applied", "2024-06-01T01:10:00Z", "x-1", "xm2", "g-1")
    tag("tag.removed", "2024-06-01T01:20:00Z", "x-1", "xm2", "g-1")
    tag("tag.applied", "2024-06-01T01:30:00Z", "x-2", "xm3", "g-1")
    tag("tag.applied", "2024-06-01T01:40:00Z", "x-2", "xm-ghost", "g-1")  # never created: contact of x-2
    tag("tag.applied", "2024-06-01T01:50:00Z", "x-3", "xm5", "g-1")
    tag("tag.applied", "2024-06-01T02:00:00Z", "x-1", "xm1", "g-2")
    tag("tag.removed", "2024-06-02T00:00:00Z", "x-1", "xm1", "g-2")
    check(log.events, "tags", [
        "g-1,VIP,true,1,1,1,sms,SMS,",
        f"g-1,VIP,true,2,4,3,{WA}",
        f"g-2,Spam,false,1,1,0,{WA}",
    ], "UTC", "2024-06-01", as_of="2024-06-03T00:00:00Z")


# --------------------------------------------------------------------------
# virtual_agents (UTC 2024-06-01)
# --------------------------------------------------------------------------


def test_virtual_agents():
    log = Log()
    base_directory(log)
    log.msg("2024-06-01T09:00:00Z", "v-1", "v1-m0", "INBOUND", contact="cp-v1")
    log.msg("2024-06-01T09:00:01Z", "v-1", "v1-m1", "OUTBOUND", contact="cp-v1", origin="VIRTUAL_AGENT",
            virtual_agent_id="va-1")
    log.msg("2024-06-01T09:01:00Z", "v-1", "v1-m2", "OUTBOUND", contact="cp-v1", virtual_agent_id="va-1")
    log.add("topic.applied", "2024-06-01T09:01:30Z", conversation_id="v-1", topic_id="tp-1", virtual_agent_id="va-1")
    for at, mid, tid in [("09:01:40", "v1-m1", "g-1"), ("09:01:41", "v1-m1", "g-2"), ("09:01:42", "v1-m2", "g-1")]:
        log.add("tag.applied", f"2024-06-01T{at}Z", conversation_id="v-1", message_id=mid, tag_id=tid,
                virtual_agent_id="va-1")
    log.new("2024-06-01T09:02:00Z", "v-1", "VA_HANDED_OVER_CONVERSATION", virtual_agent_id="va-1",
            handover_reason="ERROR")
    log.msg("2024-06-01T10:00:00Z", "v-2", "v2-m0", "INBOUND", contact="cp-v2")
    log.msg("2024-06-01T10:00:05Z", "v-2", "v2-m1", "OUTBOUND", contact="cp-v2", virtual_agent_id="va-1")
    log.resolve("2024-06-01T10:01:00Z", "v-2", "VIRTUAL_AGENT", "VIRTUAL_AGENT", virtual_agent_id="va-1")
    log.msg("2024-05-31T23:00:00Z", "v-3", "v3-m0", "OUTBOUND", channel="ch-sms", contact="cp-v3",
            virtual_agent_id="va-1")  # before R
    log.msg("2024-06-01T11:00:00Z", "v-3", "v3-m1", "INBOUND", channel="ch-sms", contact="cp-v3")
    log.new("2024-06-01T11:01:00Z", "v-3", "VA_HANDED_OVER_CONVERSATION", virtual_agent_id="va-2",
            handover_reason="USER_ASKED")
    log.new("2024-06-01T11:02:00Z", "v-3", "VA_HANDED_OVER_CONVERSATION")  # no virtual agent: counts for none
    log.resolve("2024-06-01T11:03:00Z", "v-3", "AGENT", virtual_agent_id="va-2")  # not resolved_by VIRTUAL_AGENT
    check(log.events, "virtual_agents", [
        f"va-1,Botty,{WA},2,1,1,1,1,2,1.50",  # 3 applications over 2 messages
        "va-2,,sms,SMS,,0,1,0,0,0,0,",
    ], "UTC", "2024-06-01", as_of="2024-06-02T00:00:00Z")


# --------------------------------------------------------------------------
# contact_attributes (UTC 2024-06-01)
# --------------------------------------------------------------------------


def test_contact_attributes():
    log = Log()
    base_directory(log)
    log.msg("2024-06-01T05:00:00Z", "ca-1", "ca1", "INBOUND", contact="cp-1", contact_primary_identifier="Zoë")
    log.msg("2024-06-01T06:00:00Z", "ca-2", "ca2", "OUTBOUND", contact="cp-2", agent_id="a-1")  # outbound only
    log.msg("2024-05-31T06:00:00Z", "ca-3", "ca3", "INBOUND", contact="cp-3")  # before R

    def put(at, contact, aid, name, type_, value):
        log.add("contact.attribute_set", at, contact_profile_id=contact, attribute_id=aid, attribute_name=name,
                attribute_type=type_, value=value)

    def clear(at, contact, aid):
        log.add("contact.attribute_cleared", at, contact_profile_id=contact, attribute_id=aid)

    put("2024-05-01T00:00:00Z", "cp-1", "at-1", "Name", "TEXT", 'Zoë, "Z"\nSecond line')
    put("2024-05-01T00:00:00Z", "cp-1", "at-2", "Score", "NUMBER", "42")
    put("2024-05-01T00:00:00Z", "cp-1", "at-10", "Formula", "TEXT", "=1+1")
    put("2024-05-01T00:00:00Z", "cp-1", "at-3", "Gone", "TEXT", "x")
    clear("2024-05-02T00:00:00Z", "cp-1", "at-3")
    put("2024-05-01T00:00:00Z", "cp-1", "at-4", "Plan", "LIST", "basic")
    clear("2024-05-02T00:00:00Z", "cp-1", "at-4")
    put("2024-05-03T00:00:00Z", "cp-1", "at-4", "Plan tier", "LIST", "pro, plus")
    put("2024-07-01T00:00:00Z", "cp-1", "at-5", "City", "TEXT", "Utrecht")  # after R and as_of: still shown
    put("2024-05-01T00:00:00Z", "cp-2", "at-1", "Name", "TEXT", "Out")
    put("2024-05-01T00:00:00Z", "cp-3", "at-1", "Name", "TEXT", "Early")
    check(log.events, "contact_attributes", [
        'cp-1,Zoë,,at-1,Name,"Zoë, ""Z""\nSecond line",TEXT',
        "cp-1,Zoë,,at-10,Formula,'=1+1,TEXT",
        "cp-1,Zoë,,at-2,Score,42,NUMBER",
        'cp-1,Zoë,,at-4,Plan tier,"pro, plus",LIST',
        "cp-1,Zoë,,at-5,City,Utrecht,TEXT",
    ], "UTC", "2024-06-01", as_of="2024-06-02T00:00:00Z")


# --------------------------------------------------------------------------
# property: the result depends on the set of events, not on order or duplicates
# --------------------------------------------------------------------------

_TIMES = [
    "2024-10-26T21:30:00Z", "2024-10-26T22:00:00Z", "2024-10-27T00:30:00Z", "2024-10-27T01:00:00.5Z",
    "2024-10-27 03:15:00.25+02:00", "2024-10-27T09:00:00z", "2024-10-27T09:00:00Z", "2024-10-27T18:15:00+05:45",
    "2024-10-27T22:59:59.999999Z", "2024-10-27T23:00:00Z", "2024-10-28T10:00:00Z",
]
_C = ["c1", "c2", "c3"]
_M = ["m1", "m2", "m3", "m4"]
_A = ["a1", "a2"]
_T = ["t1", "t2"]
_CH = ["ch1", "ch2"]
_P = ["p1", "p2"]


def _opt(draw, values):
    return draw(st.one_of(st.none(), st.sampled_from(values)))


@st.composite
def event_sets(draw):
    n = draw(st.integers(min_value=1, max_value=35))
    events = []
    for i in range(n):
        at = draw(st.sampled_from(_TIMES))
        kind = draw(st.sampled_from([
            "in", "out", "out", "upd", "del", "new", "pending", "resolved", "acq", "rel", "presence", "sent",
            "answered", "topic", "tag", "attr", "dir"]))
        e = {"event_id": f"e{draw(st.integers(0, 10**6)):07d}-{i}", "occurred_at": at}
        conv, mid = draw(st.sampled_from(_C)), draw(st.sampled_from(_M))
        if kind in ("in", "out"):
            e.update(type="message.created", conversation_id=conv, message_id=mid, channel_id=draw(st.sampled_from(_CH)),
                     contact_profile_id=draw(st.sampled_from(_P)), direction="INBOUND" if kind == "in" else "OUTBOUND",
                     message_type="TEXT", agent_id=_opt(draw, _A) if kind == "out" else None,
                     team_id=_opt(draw, _T), virtual_agent_id=_opt(draw, ["v1"]),
                     contact_primary_identifier=_opt(draw, ["", "=x", "y"]), language=_opt(draw, ["", "en", "nl"]),
                     content=_opt(draw, ["a,b", "-1", 'q"\n']))
        elif kind == "upd":
            e.update(type="message.updated", conversation_id=conv, message_id=mid, content=_opt(draw, ["", "u"]))
        elif kind == "del":
            e.update(type="message.deleted", conversation_id=conv, message_id=mid)
        elif kind in ("new", "pending", "resolved"):
            e.update(type="conversation.status_changed", conversation_id=conv, status=kind.upper(),
                     agent_id=_opt(draw, _A), team_id=_opt(draw, _T), virtual_agent_id=_opt(draw, ["v1"]))
            if kind == "new":
                e.update(started_by=draw(st.sampled_from(["CONTACT_MESSAGE", "VA_HANDED_OVER_CONVERSATION"])),
                         handover_reason=_opt(draw, ["ERROR"]), inbound_message_id=_opt(draw, _M))
            if kind == "resolved":
                e.update(resolved_by=draw(st.sampled_from(["AGENT", "VIRTUAL_AGENT"])), resolve_trigger="HUMAN_AGENT")
        elif kind in ("acq", "rel"):
            e.update(type="lock.acquired" if kind == "acq" else "lock.released", conversation_id=conv,
                     lock_id=draw(st.sampled_from(["l1", "l2"])), agent_id=draw(st.sampled_from(_A)),
                     team_id=_opt(draw, _T))
        elif kind == "presence":
            state = draw(st.sampled_from(["AVAILABLE", "AWAY", "OFFLINE"]))
            e.update(type="presence.changed", agent_id=draw(st.sampled_from(_A)), state=state,
                     away_state=_opt(draw, ["Lunch", "Break"]) if state == "AWAY" else None)
        elif kind == "sent":
            e.update(type="csat.sent", conversation_id=conv, survey_id=draw(st.sampled_from(["s1", "s2"])),
                     agent_id=_opt(draw, _A), team_id=_opt(draw, _T))
        elif kind == "answered":
            e.update(type="csat.answered", conversation_id=conv, survey_id=draw(st.sampled_from(["s1", "s2"])),
                     completed_status="COMPLETED", score=_opt(draw, [1, 3, 5]))
        elif kind == "topic":
            e.update(type=draw(st.sampled_from(["topic.applied", "topic.removed"])), conversation_id=conv,
                     topic_id=draw(st.sampled_from(["tp1", "tp2"])), agent_id=_opt(draw, _A), team_id=_opt(draw, _T),
                     virtual_agent_id=_opt(draw, ["v1"]))
        elif kind == "tag":
            e.update(type=draw(st.sampled_from(["tag.applied", "tag.removed"])), conversation_id=conv, message_id=mid,
                     tag_id=draw(st.sampled_from(["g1", "g2"])), agent_id=_opt(draw, _A), team_id=_opt(draw, _T),
                     virtual_agent_id=_opt(draw, ["v1"]))
        elif kind == "attr":
            if draw(st.booleans()):
                e.update(type="contact.attribute_set", contact_profile_id=draw(st.sampled_from(_P)),
                         attribute_id=draw(st.sampled_from(["at1", "at2"])), attribute_name="N",
                         attribute_type="TEXT", value=draw(st.sampled_from(["v", "-w", "x,y"])))
            else:
                e.update(type="contact.attribute_cleared", contact_profile_id=draw(st.sampled_from(_P)),
                         attribute_id=draw(st.sampled_from(["at1", "at2"])))
        else:
            which = draw(st.sampled_from(["channel", "agent", "team", "topic", "tag", "topic.deleted"]))
            if which == "channel":
                e.update(type="channel.upserted", channel_id=draw(st.sampled_from(_CH)), medium="sms",
                         name=_opt(draw, ["N1", "N2"]))
            elif which == "agent":
                e.update(type="agent.upserted", agent_id=draw(st.sampled_from(_A)), name=_opt(draw, ["Ann", "Bob"]))
            elif which == "team":
                e.update(type="team.upserted", team_id=draw(st.sampled_from(_T)), name=_opt(draw, ["T", "U"]),
                         created_at=_opt(draw, ["2024-01-01T00:00:00Z"]))
            elif which == "topic.deleted":
                e.update(type="topic.deleted", topic_id=draw(st.sampled_from(["tp1", "tp2"])))
            else:
                e.update(type=f"{which}.upserted", **{f"{which}_id": draw(st.sampled_from(["tp1", "g1"]))},
                         name=_opt(draw, ["X", "Y"]))
        events.append({k: v for k, v in e.items() if v is not None})
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), seed=st.integers(0, 2**32 - 1),
       tz=st.sampled_from(["UTC", "Europe/Amsterdam", "Asia/Kathmandu"]),
       channels=st.sampled_from([None, ["ch1"], ["ch2", "nope"]]))
def test_order_and_duplicates_do_not_matter(events, seed, tz, channels):
    rnd = random.Random(seed)
    shuffled = [dict(e) for e in events] + [dict(rnd.choice(events)) for _ in range(rnd.randint(0, len(events)))]
    rnd.shuffle(shuffled)
    for export_type in HEADERS:
        kw = dict(channels=channels, as_of="2024-10-28T00:00:00Z")
        expected = report(events, export_type, tz, "2024-10-27", "2024-10-27", **kw)
        assert report(shuffled, export_type, tz, "2024-10-27", "2024-10-27", **kw) == expected, export_type
        parsed = list(csv.reader(io.StringIO(expected.decode("utf-8"), newline="")))
        assert parsed[0] == HEADERS[export_type]
        assert all(len(r) == len(HEADERS[export_type]) for r in parsed)


# --------------------------------------------------------------------------
# a few unit checks of the shared arithmetic
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text,micros", [
    ("1970-01-01T00:00:00Z", 0),
    ("1970-01-01T00:00:01.1234567Z", 1_123_456),
    ("1970-01-01 01:00:00+01:00", 0),
    ("1970-01-01t00:00:00.5z", 500_000),
    ("1969-12-31T23:59:59.999999-00:00", -1),
])
def test_parse_instant(text, micros):
    from tests.reference.model import parse_instant

    assert parse_instant(text) == micros


def test_rounding():
    from tests.reference.model import average_seconds, percentage, ratio, seconds

    assert [seconds(x) for x in (0, 499_999, 500_000, 1_499_999, 1_500_000)] == ["0", "0", "1", "1", "2"]
    assert average_seconds(1_000_000, 3) == "0.33"
    assert average_seconds(5_000, 1) == "0.01"  # 0.005 rounds half up
    assert average_seconds(4_999, 1) == "0.00"
    assert average_seconds(0, 0) == ""
    assert ratio(3, 2) == "1.50" and ratio(2, 3) == "0.67" and ratio(1, 0) == ""
    assert percentage(1, 0) == "" and percentage(0, 5) == "0.00" and percentage(1, 8) == "12.50"
