"""The per-conversation rules, on hand-made facts (no Faust, no Kafka)."""
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.contract.times import parse_time
from convoflow.tables import conversation as conv

T0 = "2024-07-18T09:00:00Z"


def at(minutes: float) -> str:
    us = parse_time(T0) + int(minutes * 60_000_000)
    from datetime import datetime, timezone

    return datetime.fromtimestamp(us / 1e6, timezone.utc).isoformat().replace("+00:00", "Z")


_n = iter(range(10**9))


def ev(typ, minutes, **fields):
    e = {"type": typ, "event_id": fields.pop("event_id", f"e{next(_n):06d}"), "occurred_at": at(minutes), "conversation_id": "c1"}
    e["t"] = parse_time(e["occurred_at"])
    e.update(fields)
    return e


def msg(minutes, mid, direction, agent=None, **kw):
    return ev("message.created", minutes, message_id=mid, direction=direction, channel_id="ch1",
              contact_profile_id="ct1", message_type="TEXT", agent_id=agent, **kw)


def status(minutes, s, **kw):
    return ev("conversation.status_changed", minutes, status=s, **kw)


def build(events):
    state = conv.new_state()
    for e in events:
        conv.apply(state, {k: v for k, v in e.items() if v is not None})
    return state


def test_first_response_after_handover_pairs_latest_new_with_first_outbound():
    state = build([
        msg(0, "m1", "INBOUND"), status(0, "NEW", started_by="CONTACT_MESSAGE"),
        msg(1, "m2", "OUTBOUND", virtual_agent_id="va1"),
        status(2, "NEW", started_by="VA_HANDED_OVER_CONVERSATION"),
        msg(5, "m3", "OUTBOUND", agent="a1"), msg(6, "m4", "OUTBOUND", agent="a1"),
        status(10, "NEW", started_by="CONTACT_MESSAGE"), msg(12, "m5", "OUTBOUND", agent="a2"),
    ])
    pairs = conv.responses(state)
    assert [(p.new_change[conv.S_STARTED_BY], p.time_us // 60_000_000) for p in pairs] == [
        ("VA_HANDED_OVER_CONVERSATION", 3), ("CONTACT_MESSAGE", 2)]


def test_outbound_before_any_new_is_no_response():
    state = build([msg(0, "m1", "OUTBOUND", agent="a1"), status(1, "NEW", started_by="AGENT_MOVED")])
    assert conv.responses(state) == []


def test_lock_sessions_are_classified_by_what_the_same_agent_did_inside():
    state = build([
        msg(0, "m1", "INBOUND"), status(0, "NEW", started_by="CONTACT_MESSAGE"),
        ev("lock.acquired", 1, lock_id="l1", agent_id="a1", team_id="t1"),
        msg(2, "m2", "OUTBOUND", agent="a1"),
        ev("lock.released", 3, lock_id="l1", agent_id="a1"),
        ev("lock.acquired", 4, lock_id="l2", agent_id="a2", team_id="t2"),
        ev("lock.released", 5, lock_id="l2", agent_id="a2"),
        ev("lock.acquired", 6, lock_id="l3", agent_id="a1"),
        status(7, "RESOLVED", agent_id="a1", resolved_by="AGENT", resolve_trigger="HUMAN_AGENT"),
        ev("lock.released", 8, lock_id="l3", agent_id="a1", team_id="t1"),
        ev("lock.acquired", 9, lock_id="l4", agent_id="a1"),  # never released: not a session
    ])
    sessions = {s.lock_id: (s.kind, s.team_id, s.duration_us // 60_000_000) for s in conv.lock_sessions(state)}
    assert sessions == {"l1": ("handle", "t1", 2), "l2": ("cherry_picking", "t2", 1), "l3": ("no_reply", "t1", 2)}


def test_resolution_cycles_with_and_without_reply():
    state = build([
        msg(0, "m1", "INBOUND"), msg(1, "m2", "OUTBOUND", agent="a1"),
        status(2, "RESOLVED", resolved_by="AGENT", resolve_trigger="HUMAN_AGENT"),
        msg(3, "m3", "INBOUND"),
        status(4, "RESOLVED", resolved_by="SYSTEM", resolve_trigger="AUTO_RESOLVE"),
    ])
    cycles = conv.resolution_cycles(state)
    assert [(c.with_reply, c.resolution_time_us // 60_000_000) for c in cycles] == [(True, 2), (False, 4)]


def test_current_topics_follow_the_latest_event_and_order_by_application():
    state = build([
        status(0, "NEW", started_by="X"),
        ev("topic.applied", 1, topic_id="b"), ev("topic.applied", 2, topic_id="a"),
        ev("topic.removed", 3, topic_id="b"), ev("topic.applied", 4, topic_id="b"),
        ev("topic.applied", 5, topic_id="c"), ev("topic.removed", 6, topic_id="c"),
    ])
    assert conv.current_topics(state) == ["a", "b"]


def test_message_updates_latest_value_wins_and_first_create_counts():
    state = build([
        msg(0, "m1", "INBOUND", content="one"),
        msg(1, "m1", "INBOUND", content="duplicate create, ignored"),
        ev("message.updated", 3, message_id="m1", content="three"),
        ev("message.updated", 2, message_id="m1", content="two", post_url="u"),
        ev("message.deleted", 5, message_id="m1"), ev("message.deleted", 4, message_id="m1"),
    ])
    m = state["m"]["m1"]
    view = conv.message_view(state, "m1", m)
    assert (view[conv.M_CONTENT], view[conv.M_POST_URL]) == ("three", "u")
    assert state["d"]["m1"][0] == parse_time(at(4))
    assert conv.message_last_updated(state, "m1", m) == parse_time(at(4))  # the second delete does not count


def test_last_updated_ignores_unreleased_locks_and_unsent_surveys():
    state = build([
        msg(0, "m1", "INBOUND"),
        ev("lock.acquired", 5, lock_id="l1", agent_id="a1"),
        ev("csat.answered", 6, survey_id="s1", completed_status="COMPLETED", score=5),
    ])
    assert conv.last_updated(state) == parse_time(at(0))
    assert conv.csat(state) is None


def _scenario():
    return [
        msg(0, "m1", "INBOUND", language="en"), status(0, "NEW", started_by="CONTACT_MESSAGE"),
        ev("lock.acquired", 1, lock_id="l1", agent_id="a1"), msg(2, "m2", "OUTBOUND", agent="a1"),
        ev("lock.released", 3, lock_id="l1", agent_id="a1"),
        ev("tag.applied", 3, message_id="m1", tag_id="g1"), ev("tag.removed", 4, message_id="m1", tag_id="g1"),
        ev("topic.applied", 4, topic_id="p1"),
        status(5, "RESOLVED", agent_id="a1", resolved_by="AGENT", resolve_trigger="HUMAN_AGENT"),
        ev("csat.sent", 6, survey_id="s1", agent_id="a1"),
        ev("csat.answered", 7, survey_id="s1", completed_status="COMPLETED", score=4),
        ev("csat.answered", 8, survey_id="s1", completed_status="COMPLETED", score=2),
        ev("message.updated", 9, message_id="m2", content="edited"),
        msg(9, "m3", "INBOUND", language="nl"),
    ]


SCENARIO = _scenario()


@settings(max_examples=200, deadline=None)
@given(st.permutations(SCENARIO), st.lists(st.sampled_from(SCENARIO), max_size=8))
def test_state_is_independent_of_order_and_duplicates(order, duplicates):
    expected = orjson.dumps(build(SCENARIO), option=orjson.OPT_SORT_KEYS)
    assert orjson.dumps(build(list(order) + duplicates), option=orjson.OPT_SORT_KEYS) == expected


def test_created_without_messages_is_the_first_event_of_any_kind():
    state = build([
        status(5, "NEW", started_by="X"),
        ev("message.updated", 3, message_id="m9", content="b"), ev("message.updated", 1, message_id="m9", content="a"),
        ev("csat.sent", 4, survey_id="s1"),
        ev("csat.answered", 2, survey_id="s1", completed_status="COMPLETED", score=3),
        ev("csat.answered", 6, survey_id="s1", completed_status="COMPLETED", score=4),
    ])
    assert conv.created_at(state) == parse_time(at(1))
    assert conv.last_updated(state) == parse_time(at(6))
    assert conv.csat(state)[1][3] == 4


def test_a_stored_conversation_carries_its_summary_in_front():
    state = conv.new_state()
    for e in [msg(0, "m1", "INBOUND"), msg(3, "m2", "OUTBOUND", agent="a1"),
              ev("conversation.status_changed", 1, status="NEW"),
              ev("conversation.status_changed", 5, status="RESOLVED", agent_id="a1", team_id="t1",
                 resolved_by="AGENT")]:
        conv.apply(state, e)
    value = conv.encode(state)
    assert conv.decode(value) == orjson.loads(orjson.dumps(state))
    s = conv.decode_head(conv.head(value))
    assert s == orjson.loads(orjson.dumps(conv.summary(state)))
    assert (s["status"], s["inbound"], s["outbound"], s["last_agent"]) == ("RESOLVED", 1, 1, "a1")
    assert s["first_resolved"] == parse_time(at(5)) and s["first_response"] == 2 * 60_000_000
    assert conv.decode(None) is None
    assert conv.decode_head(conv.head(conv.encode(conv.new_state()))) is None, "a conversation that does not exist yet"
    assert conv.head(value) == value[:value.index(b"\n")] and conv.head(b"{}") == b"{}", "a value of no summary is its own"


# ---------------------------------------------------------------- the facts' layouts

POSITIONS = {
    conv.Message: {"M_T": "t", "M_EID": "event_id", "M_DIR": "direction", "M_CHANNEL": "channel_id",
                   "M_CONTACT": "contact_profile_id", "M_AGENT": "agent_id", "M_TEAM": "team_id",
                   "M_VA": "virtual_agent_id", "M_TYPE": "message_type", "M_ORIGIN": "origin",
                   "M_OBTYPE": "outbound_message_type", "M_SUT": "system_user_type", "M_CONTENT": "content",
                   "M_POST_URL": "post_url", "M_LANG": "language", "M_PRIMARY": "contact_primary_identifier",
                   "M_SECONDARY": "contact_secondary_identifier"},
    conv.StatusChange: {"S_T": "t", "S_EID": "event_id", "S_STATUS": "status", "S_AGENT": "agent_id",
                        "S_TEAM": "team_id", "S_VA": "virtual_agent_id", "S_STARTED_BY": "started_by",
                        "S_HANDOVER": "handover_reason", "S_INBOUND": "inbound_message_id",
                        "S_RESOLVED_BY": "resolved_by", "S_TRIGGER": "resolve_trigger", "S_REASON": "resolve_reason",
                        "S_COMMENT": "resolve_comment"},
    conv.Annotation: {"A_T": "t", "A_EID": "event_id", "A_KIND": "kind", "A_TARGET": "target_id",
                      "A_MESSAGE": "message_id", "A_AGENT": "agent_id", "A_TEAM": "team_id", "A_VA": "virtual_agent_id"},
    conv.LockEnd: {"L_T": "t", "L_EID": "event_id", "L_AGENT": "agent_id", "L_TEAM": "team_id"},
    conv.SurveySent: {"L_T": "t", "L_EID": "event_id", "L_AGENT": "agent_id", "L_TEAM": "team_id"},
    conv.SurveyAnswer: {"C_T": "t", "C_EID": "event_id", "C_COMPLETED": "completed_status", "C_SCORE": "score",
                        "C_QUESTION": "follow_up_question", "C_ANSWER": "follow_up_answer"},
}


def test_every_position_is_the_place_of_its_field_in_its_layout():
    for layout, names in POSITIONS.items():
        assert sorted(names.values(), key=layout._fields.index) == list(layout._fields), layout.__name__
        for constant, field in names.items():
            assert getattr(conv, constant) == layout._fields.index(field), (layout.__name__, constant)


def test_a_stored_fact_viewed_through_its_layout_gives_the_events_fields():
    m = msg(1, "m1", "OUTBOUND", agent="a1", team_id="t1", virtual_agent_id="va1", origin="API", content="hi",
            post_url="https://x", language="nl", contact_primary_identifier="p", contact_secondary_identifier="s",
            outbound_message_type="REPLY", system_user_type="BOT")
    s = status(2, "RESOLVED", agent_id="a1", team_id="t1", resolved_by="AGENT", resolve_trigger="MANUAL",
               resolve_reason="done", resolve_comment="ok", virtual_agent_id="va1")
    a = ev("tag.applied", 3, tag_id="tg1", message_id="m1", agent_id="a1", team_id="t1", virtual_agent_id="va1")
    lock = ev("lock.acquired", 4, lock_id="l1", agent_id="a1", team_id="t1")
    sent = ev("csat.sent", 5, survey_id="sv1", agent_id="a1", team_id="t1")
    answer = ev("csat.answered", 6, survey_id="sv1", completed_status="COMPLETED", score=4,
                follow_up_question="why", follow_up_answer="quick")
    state = build([m, s, a, lock, sent, answer])
    assert conv.Message._make(state["m"]["m1"])._asdict() == {f: m.get(f) for f in conv.Message._fields[2:]} | {
        "t": m["t"], "event_id": m["event_id"]}
    assert conv.StatusChange._make(state["s"][s["event_id"]])._asdict() == {
        f: s.get(f) for f in conv.StatusChange._fields[2:]} | {"t": s["t"], "event_id": s["event_id"]}
    assert conv.Annotation._make(state["a"][a["event_id"]]) == (a["t"], a["event_id"], "tag.applied", "tg1", "m1", "a1", "t1", "va1")
    assert conv.LockEnd._make(state["la"]["l1"]) == (lock["t"], lock["event_id"], "a1", "t1")
    assert conv.SurveySent._make(state["cs"]["sv1"]) == (sent["t"], sent["event_id"], "a1", "t1")
    assert conv.SurveyAnswer._make(state["ca"]["sv1"]) == (answer["t"], answer["event_id"], "COMPLETED", 4, "why", "quick")


def test_a_message_view_has_the_latest_updated_values_and_the_created_ones_otherwise():
    state = build([msg(1, "m1", "INBOUND", content="first"),
                   ev("message.updated", 2, message_id="m1", content="second"),
                   ev("message.updated", 0.5, message_id="m1", post_url="https://before-created")])
    view = conv.Message._make(conv.message_view(state, "m1", state["m"]["m1"]))
    assert (view.content, view.post_url, view.message_type) == ("second", None, "TEXT")
    untouched = build([msg(1, "m2", "INBOUND", content="x")])
    assert conv.Message._make(conv.message_view(untouched, "m2", untouched["m"]["m2"])).content == "x"


def test_a_message_s_last_update_is_the_same_from_the_conversation_s_tag_times():
    """``messages`` works out every message's tag times once per conversation (``last_tag_times``);
    each message's Last Updated is what asking about it alone gives, and what the state says."""
    from convoflow.tools import simulate

    events = simulate.generate(seed=3, agents=4, teams=2, conversations=40, days=2, start="2024-07-01T00:00:00Z")
    events += [ev("tag.applied", 9000, message_id=e["message_id"], tag_id="late", conversation_id=e["conversation_id"])
               for e in events[::7] if e["type"] == "message.created"]
    states: dict = {}
    for e in events:
        if "conversation_id" in e and e["type"] != "contact.attribute_set":
            conv.apply(states.setdefault(e["conversation_id"], {}), {**e, "t": parse_time(e["occurred_at"])})
    checked = tagged = 0
    for state in states.values():
        times = conv.last_tag_times(state)
        for mid, m in state.get("m", {}).items():
            # the latest of the message's own facts and of every tag change about it, read straight off the state
            expected = max([m[conv.M_T], *[a[conv.A_T] for a in state.get("a", {}).values()
                                            if a[conv.A_MESSAGE] == mid and a[conv.A_KIND].startswith("tag.")],
                            *([state["u"][mid]["_"][0]] if "_" in state.get("u", {}).get(mid, {}) else []),
                            *([state["d"][mid][0]] if mid in state.get("d", {}) else [])])
            assert conv.message_last_updated(state, mid, m, times) == conv.message_last_updated(state, mid, m) == expected
            checked += 1
            tagged += mid in times
    assert checked > 100 and tagged > 10
