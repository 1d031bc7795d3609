"""Tests of the contact-centre simulation (convoflow.simulate)."""

from __future__ import annotations

import collections
import re
import time
from datetime import datetime

import orjson
import pytest

from convoflow.simulate import (
    GHOST_MESSAGE_ID,
    GHOST_SURVEY_ID,
    disorder,
    generate,
    iter_jsonl,
    key_of,
)

ALL_TYPES = {
    "message.created", "message.updated", "message.deleted",
    "conversation.status_changed",
    "lock.acquired", "lock.released",
    "presence.changed",
    "csat.sent", "csat.answered",
    "topic.applied", "topic.removed", "tag.applied", "tag.removed",
    "contact.attribute_set", "contact.attribute_cleared",
    "channel.upserted", "agent.upserted", "team.upserted", "topic.upserted",
    "topic.deleted", "tag.upserted", "tag.deleted", "virtual_agent.upserted",
}
DIRECTORY_TYPES = {t for t in ALL_TYPES if t.split(".")[0] in
                   ("channel", "agent", "team", "topic", "tag", "virtual_agent")
                   and t not in ("topic.applied", "topic.removed", "tag.applied", "tag.removed")}
START = "2024-07-15T00:00:00Z"
MESSAGE_REFS = ("tag.applied", "tag.removed", "message.updated", "message.deleted")

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_STANDARD = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def us(ts: str) -> int:
    """RFC 3339 -> µs since the epoch (independent of convoflow.events)."""
    assert _RFC3339.fullmatch(ts), ts
    text = ts.replace(" ", "T").replace("t", "T")
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    m = re.search(r"\.(\d+)", text)
    if m:  # fromisoformat wants 3 or 6 digits; truncate to microseconds
        text = text[:m.start(1)] + m.group(1)[:6].ljust(6, "0") + text[m.end(1):]
    dt = datetime.fromisoformat(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return generate()


@pytest.fixture(scope="module")
def by_type(events) -> dict[str, list[dict]]:
    out = collections.defaultdict(list)
    for e in events:
        out[e["type"]].append(e)
    return out


@pytest.fixture(scope="module")
def by_conv(events) -> dict[str, list[dict]]:
    out = collections.defaultdict(list)
    for e in events:
        if "conversation_id" in e:
            out[e["conversation_id"]].append(e)
    return out


# ----------------------------------------------------------------- basics

def test_deterministic_same_seed():
    a = generate(seed=7, conversations=200)
    b = generate(seed=7, conversations=200)
    assert a == b
    assert b"".join(iter_jsonl(a)) == b"".join(iter_jsonl(b))


def test_different_seed_differs():
    a = generate(seed=1, conversations=200)
    b = generate(seed=2, conversations=200)
    assert a != b
    assert [e["type"] for e in a] != [e["type"] for e in b]


def test_size_with_defaults(events):
    assert 10_000 <= len(events) <= 20_000


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_every_event_type_occurs(seed):
    types = {e["type"] for e in generate(seed=seed)}
    assert types == ALL_TYPES


def test_envelope_and_ids(events):
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids)
    for e in events:
        assert list(e)[:3] == ["event_id", "type", "occurred_at"]
        assert re.fullmatch(r"e-\d{6,}", e["event_id"])
        for k, v in e.items():
            if k.endswith("_id") and v is not None:
                assert isinstance(v, str) and 0 < len(v) <= 256, (k, e)
    msg_ids = [e["message_id"] for e in events if e["type"] == "message.created"]
    # exactly one deliberate re-delivery of a message.created under a new event id
    assert len(msg_ids) - len(set(msg_ids)) == 1
    for e in events:
        for field, prefix in (("message_id", "m-"), ("conversation_id", "c-"),
                              ("contact_profile_id", "ct-"), ("agent_id", "a-"),
                              ("team_id", "t-"), ("lock_id", "l-"), ("survey_id", "s-"),
                              ("channel_id", "ch-"), ("virtual_agent_id", "va-"),
                              ("topic_id", "tp-"), ("tag_id", "tg-")):
            if e.get(field) is not None:
                assert e[field].startswith(prefix), (field, e)


def test_sorted_by_occurred_at(events):
    keys = [(us(e["occurred_at"]), e["event_id"]) for e in events]
    assert all(a < b for a, b in zip(keys, keys[1:]))


def test_timestamp_forms(events):
    forms = collections.Counter()
    t0 = us(START)
    inside = 0
    for e in events:
        ts = e["occurred_at"]
        assert _RFC3339.fullmatch(ts), ts
        if _STANDARD.fullmatch(ts):
            forms["standard"] += 1
        elif ts.endswith("+02:00"):
            forms["+02:00"] += 1
        elif ts.endswith("-05:00"):
            forms["-05:00"] += 1
        elif re.search(r"\.\d{6}Z$", ts):
            forms["micro"] += 1
        elif re.search(r":\d{2}Z$", ts):
            forms["whole"] += 1
        elif " " in ts and ts.endswith("z"):
            forms["space"] += 1
        inside += t0 <= us(ts) < t0 + 3 * 86400 * 1_000_000
    assert forms["standard"] > 0.95 * len(events)
    assert all(forms[k] > 0 for k in ("+02:00", "-05:00", "micro", "whole", "space")), forms
    assert inside > 0.95 * len(events)


def test_message_references_stay_in_conversation(events):
    conv_of = {}
    for e in events:
        if e["type"] == "message.created":
            conv_of.setdefault(e["message_id"], e["conversation_id"])
    ghosts = 0
    for e in events:
        if e["type"] in MESSAGE_REFS:
            if e["message_id"] == GHOST_MESSAGE_ID:  # deliberately never created
                assert e["type"] in ("tag.applied", "tag.removed")
                ghosts += e["type"] == "tag.applied"
                continue
            assert conv_of.get(e["message_id"]) == e["conversation_id"], e
    assert ghosts == 1


def test_iter_jsonl(events):
    lines = list(iter_jsonl(events[:500]))
    assert all(isinstance(b, bytes) and b.endswith(b"\n") and b.count(b"\n") == 1 for b in lines)
    assert [orjson.loads(b) for b in lines] == events[:500]


def test_key_of(events):
    for e in events:
        k = key_of(e)
        t = e["type"]
        if t.startswith(("message.", "conversation.", "lock.", "csat.")) or \
                t in ("topic.applied", "topic.removed", "tag.applied", "tag.removed"):
            assert k == e["conversation_id"]
        elif t == "presence.changed":
            assert k == e["agent_id"]
        elif t.startswith("contact."):
            assert k == e["contact_profile_id"]
        else:
            kind = t.split(".")[0]
            assert k == f"{kind}:{e[kind + '_id']}"


def test_arguments_checked():
    with pytest.raises(ValueError):
        generate(agents=0)
    with pytest.raises(ValueError):
        generate(conversations=-1)


@pytest.mark.parametrize("kw", [
    dict(agents=1, teams=1, channels=1, conversations=1, days=1, virtual_agents=0),
    dict(conversations=0),
    dict(agents=3, teams=9, channels=9, conversations=30, virtual_agents=5),
    dict(agents=5, conversations=80, days=2, start="2024-03-30T22:00:00.5+01:00"),
])
def test_small_and_odd_parameters(kw):
    ev = generate(**kw)
    keys = [(us(e["occurred_at"]), e["event_id"]) for e in ev]
    assert all(a < b for a, b in zip(keys, keys[1:]))
    assert len({e["event_id"] for e in ev}) == len(ev)
    events_mod = pytest.importorskip("convoflow.events")
    for e in ev:
        events_mod.parse_record(events_mod.topic_of(e["type"]), orjson.dumps(e))


def test_generation_is_fast_and_linear():
    t = time.perf_counter()
    ev = generate(conversations=10_000, days=10, agents=60)
    elapsed = time.perf_counter() - t
    assert len(ev) > 150_000
    assert elapsed < 15, elapsed  # about 1 s on a laptop; 100,000 conversations take ~12 s


# ---------------------------------------------------------------- contract

def test_every_event_passes_the_contract(events):
    ev_mod = pytest.importorskip("convoflow.events")
    for e in events:
        parsed = ev_mod.parse_record(ev_mod.topic_of(e["type"]), orjson.dumps(e))
        assert parsed["event_id"] == e["event_id"]
        assert parsed["t"] == us(e["occurred_at"])
        record_key = getattr(ev_mod, "record_key", None)
        if record_key is not None:
            assert record_key(parsed) == key_of(e)


@pytest.mark.parametrize("seed", [2, 3])
def test_other_seeds_pass_the_contract(seed):
    ev_mod = pytest.importorskip("convoflow.events")
    for e in generate(seed=seed):
        ev_mod.parse_record(ev_mod.topic_of(e["type"]), orjson.dumps(e))


# ----------------------------------------------------------------- disorder

def test_disorder_identity():
    ev = generate(conversations=50)
    out = disorder(ev, seed=3)
    assert out == ev
    assert all(a is not b for a, b in zip(out, ev))  # copies


@pytest.mark.parametrize("rate,window", [(0.0, 50), (0.1, 0), (0.2, 200), (1.0, 5)])
def test_disorder_multiset_and_duplicates(rate, window):
    ev = generate(conversations=100)
    out = disorder(ev, seed=11, duplicate_rate=rate, window=window)
    assert out == disorder(ev, seed=11, duplicate_rate=rate, window=window)
    first: dict[str, dict] = {}
    dups = 0
    for e in out:
        if e["event_id"] in first:
            dups += 1
            assert e == first[e["event_id"]]  # identical content
        else:
            first[e["event_id"]] = e
    assert len(out) == len(ev) + dups
    key = lambda e: orjson.dumps(e, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    assert sorted(map(key, first.values())) == sorted(map(key, ev))
    if rate == 0:
        assert dups == 0
    elif rate == 1.0:
        assert dups == len(ev)
    else:
        assert 0.5 * rate * len(ev) < dups < 1.5 * rate * len(ev)
    if window == 0:
        # order kept, each duplicate right after its original
        dedup = []
        for e in out:
            if not dedup or dedup[-1] != e["event_id"]:
                dedup.append(e["event_id"])
        assert dedup == [e["event_id"] for e in ev]
    else:
        assert [e["event_id"] for e in out] != [e["event_id"] for e in ev]
        # bounded displacement: an event moves at most `window` positions
        # (plus the duplicates inserted before it)
        pos = {}
        for i, e in enumerate(out):
            pos.setdefault(e["event_id"], i)
        for k, e in enumerate(ev):
            assert k - window <= pos[e["event_id"]] <= k + dups + window


def test_disorder_seed_matters():
    ev = generate(conversations=50)
    assert disorder(ev, seed=1, window=20) != disorder(ev, seed=2, window=20)


# ------------------------------------------------------------------ realism

def test_directory_first(events, by_type):
    first_other = next(i for i, e in enumerate(events) if e["type"] not in DIRECTORY_TYPES)
    head = {e["type"] for e in events[:first_other]}
    assert head == {"channel.upserted", "team.upserted", "agent.upserted",
                    "virtual_agent.upserted", "topic.upserted", "tag.upserted"}
    channels = by_type["channel.upserted"]
    assert len(channels) == 4
    assert {c["medium"] for c in channels} <= {"twitter", "facebook", "whatsapp", "sms",
                                               "messenger", "instagram"}
    displays = [c.get("display_name") for c in channels]
    assert any("," in d for d in displays if d)
    assert any(not d.isascii() for d in displays if d)
    assert all(t.get("name") and t.get("created_at") for t in by_type["team.upserted"])
    assert all(a.get("name") for a in by_type["agent.upserted"])
    assert sum(1 for a in by_type["agent.upserted"] if a.get("email") and a.get("reference")) >= 19
    assert len(by_type["topic.deleted"]) == 1 and len(by_type["tag.deleted"]) == 1
    names = collections.defaultdict(list)
    for a in by_type["agent.upserted"]:
        names[a["agent_id"]].append(a["name"])
    renamed = [k for k, v in names.items() if len(v) > 1]
    assert len(renamed) == 1 and len(set(names[renamed[0]])) == 2


def test_ghost_ids_are_used_but_never_upserted(events, by_type):
    def upserted(kind):
        return {e[f"{kind}_id"] for e in by_type[f"{kind}.upserted"]}

    def used(field, types=None):
        return {e[field] for e in events if e.get(field) and (types is None or e["type"] in types)
                and not e["type"].endswith((".upserted", ".deleted"))}

    assert used("agent_id") - upserted("agent")
    assert used("team_id") - upserted("team")
    assert used("channel_id") - upserted("channel")
    assert used("virtual_agent_id") - upserted("virtual_agent")
    assert used("topic_id") - upserted("topic")
    assert used("tag_id") - upserted("tag")


def test_presence(by_type):
    pres = by_type["presence.changed"]
    agents = {e["agent_id"] for e in pres}
    assert len(agents) == 21  # 20 agents and the one never upserted
    away = collections.Counter(e.get("away_state") for e in pres if e["state"] == "AWAY")
    assert {"Lunch", "Break", "Training"} <= set(away)
    assert None in away  # AWAY without a custom away state
    states = collections.Counter(e["state"] for e in pres)
    assert states["AVAILABLE"] and states["AWAY"] and states["OFFLINE"]
    last, repeats, crossing, zero = {}, 0, 0, 0
    shift_day = {}
    prev_t = {}
    for e in pres:
        a, t = e["agent_id"], us(e["occurred_at"])
        k = (e["state"], e.get("away_state"))
        repeats += last.get(a) == k
        zero += prev_t.get(a) == t
        last[a], prev_t[a] = k, t
        day = t // 86_400_000_000
        if e["state"] == "AVAILABLE":
            shift_day.setdefault(a, day)
        elif e["state"] == "OFFLINE" and a in shift_day:
            crossing += shift_day.pop(a) != day
    assert repeats > 0 and crossing > 0 and zero > 0
    assert last["a-1"][0] != "OFFLINE"  # one shift never ends


def test_contacts(by_type, by_conv):
    msgs = by_type["message.created"]
    contacts = {e["contact_profile_id"] for e in msgs}
    assert 200 <= len(contacts) <= 260
    per_contact = collections.Counter()
    for es in by_conv.values():
        ms = [e for e in es if e["type"] == "message.created"]
        if ms:
            per_contact[ms[0]["contact_profile_id"]] += 1
    assert sum(1 for n in per_contact.values() if n > 1) > 50
    prim = collections.defaultdict(set)
    absent = empty = 0
    for e in msgs:
        p = e.get("contact_primary_identifier")
        if p is None:
            absent += 1
        elif p == "":
            empty += 1
        else:
            prim[e["contact_profile_id"]].add(p)
    assert absent and empty
    assert any(len(v) > 1 for v in prim.values())  # identifiers change
    secs = [e.get("contact_secondary_identifier", "<absent>") for e in msgs
            if "contact_primary_identifier" in e]
    assert "" in secs and "<absent>" in secs
    idents = {p for v in prim.values() for p in v}
    assert any(p.startswith("+") for p in idents) and any(p.startswith("@") for p in idents)
    assert any(not p.isascii() for p in idents)


def test_conversations_start_with_inbound_and_new(by_conv):
    proactive = 0
    for cid, es in by_conv.items():
        ms = [e for e in es if e["type"] == "message.created"]
        assert ms, cid
        if ms[0]["direction"] == "OUTBOUND":
            assert ms[0]["outbound_message_type"] == "PROACTIVE" and ms[0]["agent_id"]
            proactive += 1
            continue
        assert ms[0]["origin"] == "CONTACT"
        st = [e for e in es if e["type"] == "conversation.status_changed"]
        assert st[0]["status"] == "NEW" and st[0]["started_by"] == "CONTACT_MESSAGE"
        assert st[0]["inbound_message_id"] == ms[0]["message_id"]
        assert us(st[0]["occurred_at"]) >= us(ms[0]["occurred_at"])
    assert proactive > 0


def test_messages(by_type):
    msgs = by_type["message.created"]
    kinds = collections.Counter((e["direction"], e.get("origin"), e.get("outbound_message_type"))
                                for e in msgs)
    assert kinds[("INBOUND", "CONTACT", None)] > 0
    assert kinds[("OUTBOUND", "AGENT", "REPLY")] > 0
    assert kinds[("OUTBOUND", "AGENT", "PROACTIVE")] > 0
    assert kinds[("OUTBOUND", "VIRTUAL_AGENT", None)] > 0
    for e in msgs:
        if e.get("origin") == "VIRTUAL_AGENT":
            assert e["virtual_agent_id"] and "agent_id" not in e
        if e.get("origin") == "AGENT":
            assert e["agent_id"] and e["team_id"]
    types = collections.Counter(e["message_type"] for e in msgs)
    assert types["TEXT"] > 0.8 * len(msgs) and types["IMAGE"] > 0
    langs = collections.Counter(e.get("language", "<absent>") for e in msgs)
    assert {"en", "nl", "fr", "de", "<absent>"} <= set(langs)
    contents = [e["content"] for e in by_type["message.created"] if e.get("content")]
    for ch in ",\"\n":
        assert any(ch in c for c in contents), ch
    for ch in "=+-":
        assert any(c.startswith(ch) for c in contents), ch
    assert any(not c.isascii() for c in contents)
    assert any(e.get("post_url") for e in msgs)
    assert len({e["channel_id"] for e in msgs}) == 5  # 4 channels and one never upserted
    assert by_type["message.updated"] and by_type["message.deleted"]
    deleted = collections.Counter(e["message_id"] for e in by_type["message.deleted"])
    assert max(deleted.values()) == 2  # one message deleted twice


def test_virtual_agents(by_conv, by_type):
    va_convs = sum(1 for es in by_conv.values()
                   if any(e["type"] == "message.created" and e.get("virtual_agent_id") for e in es))
    assert 0.2 * len(by_conv) < va_convs < 0.4 * len(by_conv)
    st = by_type["conversation.status_changed"]
    va_res = [e for e in st if e.get("resolved_by") == "VIRTUAL_AGENT"]
    assert va_res and all(e["resolve_trigger"] == "VIRTUAL_AGENT" and e["virtual_agent_id"]
                          and "agent_id" not in e for e in va_res)
    handovers = [e for e in st if e.get("started_by") == "VA_HANDED_OVER_CONVERSATION"]
    reasons = collections.Counter(e.get("handover_reason") for e in handovers)
    assert reasons["ERROR"] > 0 and reasons["CONTACT_REQUESTED_AGENT"] > 0
    assert sum(1 for e in handovers if e.get("virtual_agent_id")) > 0.9 * len(handovers)


def test_status_changes(by_type, by_conv):
    st = by_type["conversation.status_changed"]
    res = collections.Counter((e.get("resolved_by"), e.get("resolve_trigger"), bool(e.get("agent_id")))
                              for e in st if e["status"] == "RESOLVED")
    assert res[("AGENT", "HUMAN_AGENT", True)] > 0
    assert res[("BULK", "AUTOMATION", False)] > 0
    assert res[("SYSTEM", "AUTO_RESOLVE", False)] > 0
    assert any(e.get("resolve_reason") for e in st) and any(e.get("resolve_comment") for e in st)
    assert any(e["status"] == "PENDING" and e.get("agent_id") and e.get("team_id") for e in st)
    assert any(e.get("started_by") == "AGENT_MOVED" for e in st)
    final = collections.Counter()
    reopened = 0
    for es in by_conv.values():
        s = [e for e in es if e["type"] == "conversation.status_changed"]
        final[s[-1]["status"] if s else "NEW"] += 1
        resolutions = [e for e in s if e["status"] == "RESOLVED"]
        if len(resolutions) > 1:
            reopened += 1
            after = [e for e in s if us(e["occurred_at"]) > us(resolutions[0]["occurred_at"])]
            assert after[0]["status"] == "NEW"
    assert final["NEW"] > 0 and final["PENDING"] > 0 and final["RESOLVED"] > 0.7 * len(by_conv)
    assert reopened > 10


def test_lock_sessions(by_type, by_conv):
    acq = {e["lock_id"]: e for e in by_type["lock.acquired"]}
    rel = {e["lock_id"]: e for e in by_type["lock.released"]}
    assert set(rel) <= set(acq)
    assert 0 < len(set(acq) - set(rel)) <= 2  # a lock never released
    classes = collections.Counter()
    for lid, a in acq.items():
        assert a["agent_id"]
        if lid not in rel:
            continue
        r = rel[lid]
        assert r["agent_id"] == a["agent_id"] and r["conversation_id"] == a["conversation_id"]
        assert a.get("team_id") or r.get("team_id")
        t1, t2 = us(a["occurred_at"]), us(r["occurred_at"])
        assert t1 <= t2
        es = by_conv[a["conversation_id"]]

        def within(e):
            return e.get("agent_id") == a["agent_id"] and t1 <= us(e["occurred_at"]) <= t2

        if any(e["type"] == "message.created" and e["direction"] == "OUTBOUND" and within(e) for e in es):
            classes["handle"] += 1
        elif any(e["type"] == "conversation.status_changed" and e["status"] == "RESOLVED"
                 and within(e) for e in es):
            classes["no-reply"] += 1
        else:
            classes["cherry-picking"] += 1
    assert classes["handle"] > classes["no-reply"] > 0 and classes["cherry-picking"] > 0


def test_csat(by_type, by_conv):
    sent = {e["survey_id"]: e for e in by_type["csat.sent"]}
    answers = collections.defaultdict(list)
    for e in by_type["csat.answered"]:
        answers[e["survey_id"]].append(e)
    assert set(answers) - set(sent) == {GHOST_SURVEY_ID}
    assert len(set(sent) - set(answers)) > 0  # never answered
    assert any(len(v) > 1 for v in answers.values())  # answered twice: latest wins
    early = sum(1 for s, v in answers.items() if s in sent
                and us(v[0]["occurred_at"]) < us(sent[s]["occurred_at"]))
    assert 1 <= early <= 2
    statuses = collections.Counter(e["completed_status"] for e in by_type["csat.answered"])
    assert statuses["COMPLETED"] > statuses["PARTIALLY_COMPLETED"] > 0
    for e in by_type["csat.answered"]:
        if e["completed_status"] == "COMPLETED":
            assert e["score"] in (1, 2, 3, 4, 5)
        else:
            assert "score" not in e
    assert {e.get("score") for e in by_type["csat.answered"]} >= {1, 2, 3, 4, 5}
    assert any(e.get("follow_up_answer") is not None for e in by_type["csat.answered"])
    # a survey rates the agent that resolved the conversation just before it
    for s in sent.values():
        if "agent_id" not in s:
            continue
        res = [e for e in by_conv[s["conversation_id"]]
               if e["type"] == "conversation.status_changed" and e["status"] == "RESOLVED"
               and us(e["occurred_at"]) <= us(s["occurred_at"])]
        assert res[-1]["agent_id"] == s["agent_id"] and res[-1].get("team_id") == s["team_id"]


def test_annotations(by_type, by_conv):
    applied = by_type["topic.applied"]
    assert any(e.get("agent_id") and e.get("team_id") for e in applied)
    assert any(e.get("virtual_agent_id") for e in applied)
    reapplied = 0
    for e in by_type["topic.removed"]:
        later = [x for x in by_conv[e["conversation_id"]] if x["type"] == "topic.applied"
                 and x["topic_id"] == e["topic_id"] and us(x["occurred_at"]) > us(e["occurred_at"])]
        reapplied += bool(later)
    assert reapplied > 0
    assert by_type["tag.removed"]
    assert any(e.get("virtual_agent_id") for e in by_type["tag.applied"])
    assert any(e.get("agent_id") and e.get("team_id") for e in by_type["tag.applied"])


def test_contact_attributes(by_type):
    sets = by_type["contact.attribute_set"]
    assert {e["attribute_type"] for e in sets} == {"TEXT", "NUMBER", "BOOLEAN", "DATE", "LIST"}
    values = [e["value"] for e in sets]
    for ch in ",\"\n":
        assert any(ch in v for v in values), ch
    assert any(not v.isascii() for v in values)
    per = collections.Counter((e["contact_profile_id"], e["attribute_id"]) for e in sets)
    assert any(n > 1 for n in per.values())  # overwritten
    assert by_type["contact.attribute_cleared"]
    names = {}
    for e in sets:
        assert names.setdefault(e["attribute_id"], e["attribute_name"]) == e["attribute_name"]
