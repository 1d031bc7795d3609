"""Tests of status changes, lock sessions, topics, tags and CSAT (convoflow/tools/simulate/handling.py)."""
from __future__ import annotations

import collections

from convoflow.tools.simulate import GHOST_SURVEY_ID
from tests.convoflow.tools.simulate.helpers import us


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
