"""topics, tags and virtual_agents on hand-made conversation states, merged the way the coordinator merges."""
import itertools
import random
from functools import reduce

import orjson

from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import ExportRequest
from convoflow.tables import conversation as conv
from tests.exporters.helpers import ev, make_directory, run







def context(export_type, date_from="2024-07-18", date_to="2024-07-18", tz="UTC", channels=(), dir_events=()):
    req = ExportRequest("r1", export_type, tz, date_from, date_to, tuple(channels), None)
    return ReportContext(req, parse_time("2030-01-01T00:00:00Z"), make_directory(dir_events))






def conversations(events):
    states = {}
    for e in events:
        conv.apply(states.setdefault(e["conversation_id"], conv.new_state()), e)
    return states


def msg(cid, when, mid, direction, contact, channel="ch1", **kw):
    return ev("message.created", when, conversation_id=cid, message_id=mid, direction=direction,
              channel_id=channel, contact_profile_id=contact, message_type="TEXT", **kw)


def status(cid, when, s, **kw):
    return ev("conversation.status_changed", when, conversation_id=cid, status=s, **kw)


def note(cid, when, kind, target, mid=None, **kw):
    field = "topic_id" if kind.startswith("topic.") else "tag_id"
    return ev(kind, when, conversation_id=cid, message_id=mid, **{field: target}, **kw)


DIR = [
    ev("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch1", medium="whatsapp", name="Main", display_name="Main WA"),
    ev("channel.upserted", "2024-01-01T00:00:00Z", channel_id="ch2", medium="sms", name="SMS"),
    ev("topic.upserted", "2024-01-01T00:00:00Z", topic_id="t1", name="Billing"),
    ev("topic.upserted", "2024-01-01T00:00:00Z", topic_id="t2", name="Returns"),
    ev("topic.deleted", "2024-02-01T00:00:00Z", topic_id="t2"),
    ev("tag.upserted", "2024-01-01T00:00:00Z", tag_id="g1", name="=VIP, \"gold\""),
    ev("tag.upserted", "2024-01-01T00:00:00Z", tag_id="g2", name="Spam"),
    ev("tag.deleted", "2024-03-01T00:00:00Z", tag_id="g2"),
    ev("virtual_agent.upserted", "2024-01-01T00:00:00Z", virtual_agent_id="va1", name="Bot One"),
]
CH1 = ["whatsapp", "Main", "Main WA"]
CH2 = ["sms", "SMS", ""]
NONE = ["", "", ""]


def all_splits(states, table="conversations", tries=12, seed=1):
    """The states in one shard, one per shard, and random splits over 2-3 shards in random orders."""
    keys = list(states)
    yield [{table: dict(states)}]
    yield [{table: {k: states[k]}} for k in reversed(keys)]
    rng = random.Random(seed)
    for _ in range(tries):
        n = rng.randint(2, 3)
        shards = [{table: {}} for _ in range(n)]
        shuffled = keys[:]
        rng.shuffle(shuffled)
        for k in shuffled:
            shards[rng.randrange(n)][table][k] = states[k]
        rng.shuffle(shards)
        yield shards


def assert_split_independent(export_type, ctx, states, expected):
    for shards in all_splits(states):
        assert run(export_type, ctx, shards) == expected


def assert_merge_laws(export_type, ctx, states):
    """merge is commutative and associative on the partials of every group."""
    report = REPORTS[export_type]
    by_group = {}
    for cid, state in states.items():
        for src, build in report.sources.items():
            for k, p in build(ctx, cid, orjson.loads(orjson.dumps(state))):
                by_group.setdefault(orjson.dumps(k), []).append(orjson.loads(orjson.dumps(p)))
    for parts in by_group.values():
        results = {orjson.dumps(reduce(report.merge, perm), option=orjson.OPT_SORT_KEYS)
                   for perm in itertools.permutations(parts[:5])}
        assert len(results) == 1
        if len(parts) >= 3:
            a, b, c = parts[:3]
            left = report.merge(report.merge(a, b), c)
            right = report.merge(a, report.merge(b, c))
            assert orjson.dumps(left, option=orjson.OPT_SORT_KEYS) == orjson.dumps(right, option=orjson.OPT_SORT_KEYS)


# ---------------------------------------------------------------- topics

TOPIC_EVENTS = [
    # c1 (ch1): t1 applied, removed, re-applied in R (current); t2 applied in R, removed after R;
    # t3 applied before R and removed in R (no application in R: no row)
    msg("c1", "2024-07-18T09:00:00Z", "m1", "INBOUND", "k1"),
    note("c1", "2024-07-18T09:05:00Z", "topic.applied", "t1", agent_id="a1"),
    note("c1", "2024-07-18T09:10:00Z", "topic.removed", "t1"),
    note("c1", "2024-07-18T09:20:00Z", "topic.applied", "t1"),
    note("c1", "2024-07-18T10:00:00Z", "topic.applied", "t2"),
    note("c1", "2024-07-19T08:00:00Z", "topic.removed", "t2"),
    note("c1", "2024-07-17T10:00:00Z", "topic.applied", "t3"),
    note("c1", "2024-07-18T10:00:00Z", "topic.removed", "t3"),
    # c2 (ch1): t1 applied and removed in R
    msg("c2", "2024-07-18T11:00:00Z", "m2", "INBOUND", "k2"),
    note("c2", "2024-07-18T11:00:00Z", "topic.applied", "t1"),
    note("c2", "2024-07-18T11:30:00Z", "topic.removed", "t1"),
    # c4 (ch2, its first message; a later one on ch1 does not move it): t1 current
    msg("c4", "2024-07-18T08:00:00Z", "m4", "INBOUND", "k4", channel="ch2"),
    msg("c4", "2024-07-18T08:01:00Z", "m5", "OUTBOUND", "k4", channel="ch1"),
    note("c4", "2024-07-18T12:00:00Z", "topic.applied", "t1"),
    # c3: no message, no channel; t2 applied in R, current
    note("c3", "2024-07-18T13:00:00Z", "topic.applied", "t2"),
    # c5 (ch1): t1 removed in R and applied just after R (current, but no application in R)
    msg("c5", "2024-07-18T09:00:00Z", "m6", "INBOUND", "k5"),
    note("c5", "2024-07-19T00:00:00Z", "topic.applied", "t1"),
    note("c5", "2024-07-18T23:59:59Z", "topic.removed", "t1"),
    # t4 (unknown to the directory) applied twice in one conversation: one conversation
    note("c5", "2024-07-18T14:00:00Z", "topic.applied", "t4"),
    note("c5", "2024-07-18T15:00:00Z", "topic.applied", "t4"),
]

TOPIC_ROWS = [
    ["t1", "Billing", "true", "1", "1"] + CH2,
    ["t1", "Billing", "true", "2", "1"] + CH1,
    ["t2", "Returns", "false", "1", "0"] + CH1,
    ["t2", "Returns", "false", "1", "1"] + NONE,
    ["t4", "", "true", "1", "1"] + CH1,
]


def test_topics_per_topic_and_channel_current_vs_total():
    ctx = context("topics", dir_events=DIR)
    assert run("topics", ctx, [{"conversations": conversations(TOPIC_EVENTS)}]) == TOPIC_ROWS


def test_topics_channel_filter_keeps_conversations_by_their_channel():
    ctx = context("topics", channels=["ch2"], dir_events=DIR)
    assert run("topics", ctx, [{"conversations": conversations(TOPIC_EVENTS)}]) == [TOPIC_ROWS[0]]
    ctx = context("topics", channels=["ch1", "nope"], dir_events=DIR)
    assert run("topics", ctx, [{"conversations": conversations(TOPIC_EVENTS)}]) == [
        TOPIC_ROWS[1], TOPIC_ROWS[2], TOPIC_ROWS[4]]


def test_topics_range_in_another_zone():
    # Kathmandu 2024-07-19 = [2024-07-18T18:15Z, 2024-07-19T18:15Z): only c5's late t1 application
    ctx = context("topics", "2024-07-19", "2024-07-19", tz="Asia/Kathmandu", dir_events=DIR)
    assert run("topics", ctx, [{"conversations": conversations(TOPIC_EVENTS)}]) == [
        ["t1", "Billing", "true", "1", "1"] + CH1]


def test_topics_merge_order_independence():
    ctx = context("topics", dir_events=DIR)
    states = conversations(TOPIC_EVENTS)
    assert_split_independent("topics", ctx, states, TOPIC_ROWS)
    assert_merge_laws("topics", ctx, states)


# ---------------------------------------------------------------- tags

TAG_EVENTS = [
    # c1 (ch1, contact k1): g1 on m1 (current), on m2 (removed), on mX (never created: the
    # conversation's contact k1); g2 on m1 only before R
    msg("c1", "2024-07-18T09:00:00Z", "m1", "INBOUND", "k1"),
    msg("c1", "2024-07-18T09:01:00Z", "m2", "OUTBOUND", "k1", agent_id="a1"),
    note("c1", "2024-07-18T09:02:00Z", "tag.applied", "g1", "m1"),
    note("c1", "2024-07-18T09:03:00Z", "tag.applied", "g1", "m2"),
    note("c1", "2024-07-18T09:04:00Z", "tag.removed", "g1", "m2"),
    note("c1", "2024-07-18T09:05:00Z", "tag.applied", "g1", "mX"),
    note("c1", "2024-07-17T09:05:00Z", "tag.applied", "g2", "m1"),
    # c2 (ch1, first message from k2): g1 twice on m3 (one message), on m4 whose contact is k1;
    # g2 on m3 removed in R then re-applied after R (current)
    msg("c2", "2024-07-18T10:00:00Z", "m3", "INBOUND", "k2"),
    msg("c2", "2024-07-18T10:01:00Z", "m4", "INBOUND", "k1"),
    note("c2", "2024-07-18T10:02:00Z", "tag.applied", "g1", "m3"),
    note("c2", "2024-07-18T10:03:00Z", "tag.applied", "g1", "m3"),
    note("c2", "2024-07-18T10:04:00Z", "tag.applied", "g1", "m4"),
    note("c2", "2024-07-18T10:05:00Z", "tag.applied", "g2", "m3"),
    note("c2", "2024-07-18T10:06:00Z", "tag.removed", "g2", "m3"),
    note("c2", "2024-07-19T10:06:00Z", "tag.applied", "g2", "m3"),
    # c3: no message at all: g1 on mq counts, with no contact and no channel
    note("c3", "2024-07-18T11:00:00Z", "tag.applied", "g1", "mq"),
    # c4 (ch2, contact k1): g1 on m5; the tag removal arrives first
    note("c4", "2024-07-18T13:00:00Z", "tag.removed", "g1", "m5"),
    note("c4", "2024-07-18T12:00:00Z", "tag.applied", "g1", "m5"),
    msg("c4", "2024-07-18T11:59:00Z", "m5", "INBOUND", "k1", channel="ch2"),
]

G1 = ["'=VIP, \"gold\"", "true"]
TAG_ROWS = [
    ["g1"] + G1 + ["0", "1", "1"] + NONE,
    ["g1"] + G1 + ["1", "1", "0"] + CH2,
    ["g1"] + G1 + ["2", "5", "4"] + CH1,
    ["g2", "Spam", "false", "1", "1", "1"] + CH1,
]


def test_tags_per_message_with_removed_tags_uncreated_messages_and_distinct_contacts():
    ctx = context("tags", dir_events=DIR)
    assert run("tags", ctx, [{"conversations": conversations(TAG_EVENTS)}]) == TAG_ROWS


def test_tags_distinct_contacts_across_conversations_in_different_shards():
    ctx = context("tags", dir_events=DIR)
    states = conversations(TAG_EVENTS)
    shards = [{"conversations": {"c1": states["c1"]}}, {"conversations": {"c2": states["c2"], "c3": states["c3"]}},
              {"conversations": {"c4": states["c4"]}}]
    assert run("tags", ctx, shards) == TAG_ROWS


def test_tags_merge_order_independence():
    ctx = context("tags", dir_events=DIR)
    states = conversations(TAG_EVENTS)
    assert_split_independent("tags", ctx, states, TAG_ROWS)
    assert_merge_laws("tags", ctx, states)


def test_tags_channel_filter():
    ctx = context("tags", channels=["ch2"], dir_events=DIR)
    assert run("tags", ctx, [{"conversations": conversations(TAG_EVENTS)}]) == [TAG_ROWS[1]]


# ---------------------------------------------------------------- virtual agents

VA_EVENTS = [
    # c1 (ch1): va1 sends two messages, hands over due to ERROR, applies two topics, tags
    # m1 twice (g1, g2) and m2 once: 3 applications on 2 messages -> 1.50
    msg("c1", "2024-07-18T09:00:00Z", "m1", "INBOUND", "k1"),
    status("c1", "2024-07-18T09:00:00Z", "NEW", started_by="CONTACT_MESSAGE"),
    msg("c1", "2024-07-18T09:01:00Z", "m2", "OUTBOUND", "k1", virtual_agent_id="va1", origin="VIRTUAL_AGENT"),
    msg("c1", "2024-07-18T09:02:00Z", "m3", "OUTBOUND", "k1", virtual_agent_id="va1"),
    status("c1", "2024-07-18T09:03:00Z", "NEW", started_by="VA_HANDED_OVER_CONVERSATION", handover_reason="ERROR",
           virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:01:00Z", "topic.applied", "t1", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:02:00Z", "topic.applied", "t2", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:02:00Z", "topic.applied", "t3", agent_id="a1"),
    note("c1", "2024-07-18T09:03:00Z", "tag.applied", "g1", "m1", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:04:00Z", "tag.applied", "g2", "m1", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:05:00Z", "tag.applied", "g1", "m2", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:06:00Z", "tag.removed", "g1", "m2", virtual_agent_id="va1"),
    note("c1", "2024-07-18T09:07:00Z", "tag.applied", "g3", "m1", agent_id="a1"),
    status("c1", "2024-07-18T09:30:00Z", "RESOLVED", agent_id="a1", virtual_agent_id="va1", resolved_by="AGENT",
           resolve_trigger="HUMAN_AGENT"),
    # c2 (ch1): va1 sends, hands over (no reason); va2 resolves
    msg("c2", "2024-07-18T10:00:00Z", "m4", "INBOUND", "k2"),
    msg("c2", "2024-07-18T10:01:00Z", "m5", "OUTBOUND", "k2", virtual_agent_id="va1"),
    status("c2", "2024-07-18T10:02:00Z", "NEW", started_by="VA_HANDED_OVER_CONVERSATION", virtual_agent_id="va1"),
    status("c2", "2024-07-18T10:30:00Z", "RESOLVED", virtual_agent_id="va2", resolved_by="VIRTUAL_AGENT",
           resolve_trigger="VIRTUAL_AGENT"),
    # c3 (ch2): va1 sends; a handover naming no virtual agent counts for none
    msg("c3", "2024-07-18T11:00:00Z", "m6", "INBOUND", "k3", channel="ch2"),
    msg("c3", "2024-07-18T11:01:00Z", "m7", "OUTBOUND", "k3", channel="ch2", virtual_agent_id="va1"),
    status("c3", "2024-07-18T11:02:00Z", "NEW", started_by="VA_HANDED_OVER_CONVERSATION", handover_reason="ERROR"),
    # c4 (ch1): everything outside R
    msg("c4", "2024-07-17T11:00:00Z", "m8", "OUTBOUND", "k4", virtual_agent_id="va3"),
    status("c4", "2024-07-19T00:00:00Z", "NEW", started_by="VA_HANDED_OVER_CONVERSATION", virtual_agent_id="va1"),
    note("c4", "2024-07-17T23:59:59Z", "tag.applied", "g1", "m8", virtual_agent_id="va3"),
    # c5: no messages; va4 resolves it (no channel)
    status("c5", "2024-07-18T12:00:00Z", "RESOLVED", virtual_agent_id="va4", resolved_by="VIRTUAL_AGENT",
           resolve_trigger="VIRTUAL_AGENT"),
]

VA_ROWS = [  # by the cells as written: "sms" before "whatsapp"
    ["va1", "Bot One"] + CH2 + ["1", "0", "0", "0", "0", "0", ""],
    ["va1", "Bot One"] + CH1 + ["2", "2", "1", "0", "2", "2", "1.50"],
    ["va2", ""] + CH1 + ["0", "0", "0", "1", "0", "0", ""],
    ["va4", ""] + NONE + ["0", "0", "0", "1", "0", "0", ""],
]


def test_virtual_agents_handover_resolve_topics_and_tag_ratio():
    ctx = context("virtual_agents", dir_events=DIR)
    assert run("virtual_agents", ctx, [{"conversations": conversations(VA_EVENTS)}]) == VA_ROWS


def test_virtual_agents_ratio_rounds_to_two_decimals():
    events = [msg("c9", "2024-07-18T09:00:00Z", f"m{i}", "INBOUND", "k1") for i in range(3)] + [
        note("c9", "2024-07-18T09:01:00Z", "tag.applied", g, f"m{i}", virtual_agent_id="va1")
        for i, g in [(0, "g1"), (1, "g1"), (2, "g1"), (0, "g2"), (0, "g3")]
    ]
    ctx = context("virtual_agents", dir_events=DIR)
    assert run("virtual_agents", ctx, [{"conversations": conversations(events)}]) == [
        ["va1", "Bot One"] + CH1 + ["0", "0", "0", "0", "0", "3", "1.67"]]


def test_virtual_agents_merge_order_independence_and_filter():
    ctx = context("virtual_agents", dir_events=DIR)
    states = conversations(VA_EVENTS)
    assert_split_independent("virtual_agents", ctx, states, VA_ROWS)
    assert_merge_laws("virtual_agents", ctx, states)
    ctx = context("virtual_agents", channels=["ch1"], dir_events=DIR)
    assert run("virtual_agents", ctx, [{"conversations": states}]) == [VA_ROWS[1], VA_ROWS[2]]


def test_registered_reports_have_the_headers_width():
    ctx = context("tags", dir_events=DIR)
    states = conversations(TOPIC_EVENTS + TAG_EVENTS + VA_EVENTS)
    for name in ("topics", "tags", "virtual_agents"):
        report = REPORTS[name]
        assert report.aggregate
        rows = run(name, ctx, [{"conversations": states}])
        assert rows and all(len(r) == len(report.header) for r in rows)
