"""Tests of the simulation's output: ids, timestamps, disorder, JSON lines, keys (convoflow/tools/simulate/output.py)."""
from __future__ import annotations

import collections
import re

import orjson
import pytest

from convoflow.tools.simulate import disorder, generate, iter_jsonl, key_of
from tests.convoflow.tools.simulate.helpers import RFC3339, START, STANDARD, us


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
        assert RFC3339.fullmatch(ts), ts
        if STANDARD.fullmatch(ts):
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
