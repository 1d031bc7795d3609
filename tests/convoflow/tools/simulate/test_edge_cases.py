"""Tests of the one-off edge cases (convoflow/tools/simulate/edge_cases.py)."""
from __future__ import annotations

from convoflow.tools.simulate import GHOST_SURVEY_ID, generate


def test_one_answer_to_a_survey_never_sent(by_type):
    answered = [e for e in by_type["csat.answered"] if e["survey_id"] == GHOST_SURVEY_ID]
    assert len(answered) == 1 and answered[0]["completed_status"] == "COMPLETED"
    assert all(e["survey_id"] != GHOST_SURVEY_ID for e in by_type["csat.sent"])


def test_without_conversations_no_conversation_is_named():
    events = generate(conversations=0)
    assert events and not [e for e in events if "conversation_id" in e]


def test_the_one_off_cases_come_once_in_a_larger_run():
    events = generate(seed=3, conversations=1500)
    created = [e["message_id"] for e in events if e["type"] == "message.created"]
    deleted = [e["message_id"] for e in events if e["type"] == "message.deleted"]
    assert len(created) - len(set(created)) == 1  # one message.created delivered twice
    assert sum(deleted.count(m) == 2 for m in set(deleted)) == 1  # one message deleted twice
    handovers = [e for e in events if e.get("handover_reason") == "ERROR"]
    assert handovers
