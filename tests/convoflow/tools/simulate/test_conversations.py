"""Tests of how simulated conversations go (convoflow/tools/simulate/conversations.py)."""
from __future__ import annotations

import collections

from tests.convoflow.tools.simulate.helpers import us


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
