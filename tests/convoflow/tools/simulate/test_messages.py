"""Tests of the simulated messages (convoflow/tools/simulate/messages.py)."""
from __future__ import annotations

import collections

from convoflow.tools.simulate import GHOST_MESSAGE_ID
from tests.convoflow.tools.simulate.helpers import MESSAGE_REFS


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
