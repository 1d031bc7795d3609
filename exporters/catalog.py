"""topics, tags and virtual_agents: aggregates per (topic | tag | virtual agent, channel).

Every builder reads one conversation and yields ``(group_key, partial)`` with
``group_key = [id, channel_id or ""]`` ("" = the conversation has no channel:
no ``message.created``; channel ids are never empty). The channel is the
*conversation's* channel (its first ``message.created``), and the channel
filter keeps or drops whole conversations by it. A conversation lives in one
shard only, so per-conversation distinct counts (conversations, messages) are
plain sums; only distinct contacts span conversations and travel as a sorted list.

Choices where the spec leaves room:
- Annotations count whether or not the conversation "exists" (has a message or
  a status change): the reports count applications, and a tag on a message
  never created still counts. A conversation without messages has no channel
  (empty Medium/Channel cells) and is dropped by any channel filter.
- topics: Total Conversations = conversations with a ``topic.applied`` of the
  topic in R; Total Current Conversations = those of them where the topic is
  current now (every event, any time, counts for "current").
- tags: a tagged message is ``(conversation, message_id)`` with a ``tag.applied``
  of the tag in R; Total Current Messages = those still tagged now; Total
  Contacts = distinct contacts of those messages: the message's
  ``contact_profile_id``, else the conversation's contact; a message never
  created in a conversation without messages has no contact and adds none.
- virtual_agents (per virtual agent id named by the event, conversation's channel):
  Total Conversations = conversations with a ``message.created`` in R carrying
  its ``virtual_agent_id`` (any direction); Handover to Agent / due to Error and
  Resolved count status changes (not conversations), Total Conversations with
  Topic counts ``topic.applied`` events in R with its id, Total Messages Tagged
  counts distinct messages it tagged in R, and the last column is its
  ``tag.applied`` count in R / Total Messages Tagged, two decimals, empty when
  Total Messages Tagged is 0. A row is written when any of the six counts is
  non-zero.
- Active: not deleted in the directory (an id unknown to the directory is active).
- Rows sorted by the cells as written.
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import conversation as conv
from convoflow.tables.conversation import (
    A_KIND, A_MESSAGE, A_T, A_TARGET, A_VA, M_CONTACT, M_T, M_VA, S_HANDOVER, S_RESOLVED_BY, S_STARTED_BY,
    S_STATUS, S_T, S_VA,
)

HANDOVER = "VA_HANDED_OVER_CONVERSATION"


def _channel(ctx: ReportContext, state: dict) -> tuple[bool, str | None]:
    channel_id = conv.channel(state)
    return ctx.keeps_channel(channel_id), channel_id


def _sum(p1: dict, p2: dict) -> dict:
    out = dict(p1)
    for k, v in p2.items():
        out[k] = out.get(k, 0) + v
    return out


def _channel_of(group_key) -> str | None:
    return group_key[1] or None


# ---------------------------------------------------------------- topics


def topic_partials(ctx: ReportContext, cid: str, state: dict):
    notes = state.get("a")
    if not notes:
        return
    applied = {a[A_TARGET] for a in notes.values() if a[A_KIND] == "topic.applied" and ctx.in_range(a[A_T])}
    if not applied:
        return
    keep, channel_id = _channel(ctx, state)
    if not keep:
        return
    current = conv.current_annotations(conv.annotations(state), "topic.")
    for topic_id in sorted(applied):
        yield [topic_id, channel_id or ""], {"c": 1, "cur": int((topic_id, None) in current)}


def topic_finish(ctx: ReportContext, group_key, partial: dict):
    topic_id, channel_id = group_key[0], _channel_of(group_key)
    row = [
        cell.text(topic_id), cell.text(ctx.directory.name("topic", topic_id)),
        cell.boolean(ctx.directory.active("topic", topic_id)),
        str(partial.get("c", 0)), str(partial.get("cur", 0)),
    ] + ctx.channel_cells(channel_id)
    yield row, row


# ---------------------------------------------------------------- tags


def tag_partials(ctx: ReportContext, cid: str, state: dict):
    notes = state.get("a")
    if not notes:
        return
    tagged: dict[str, set] = {}  # tag_id -> message ids with an application in R
    for a in notes.values():
        if a[A_KIND] == "tag.applied" and ctx.in_range(a[A_T]):
            tagged.setdefault(a[A_TARGET], set()).add(a[A_MESSAGE])
    if not tagged:
        return
    keep, channel_id = _channel(ctx, state)
    if not keep:
        return
    current = conv.current_annotations(conv.annotations(state), "tag.")
    created = state.get("m", {})
    fallback = conv.contact(state)
    for tag_id in sorted(tagged):
        mids = tagged[tag_id]
        contacts = set()
        for mid in mids:
            m = created.get(mid)
            contact_id = m[M_CONTACT] if m else fallback
            if contact_id is not None:
                contacts.add(contact_id)
        yield [tag_id, channel_id or ""], {
            "m": len(mids),
            "cur": sum(1 for mid in mids if (tag_id, mid) in current),
            "k": sorted(contacts),
        }


def tag_merge(p1: dict, p2: dict) -> dict:
    return {
        "m": p1.get("m", 0) + p2.get("m", 0),
        "cur": p1.get("cur", 0) + p2.get("cur", 0),
        "k": sorted(set(p1.get("k", ())) | set(p2.get("k", ()))),
    }


def tag_finish(ctx: ReportContext, group_key, partial: dict):
    tag_id, channel_id = group_key[0], _channel_of(group_key)
    row = [
        cell.text(tag_id), cell.text(ctx.directory.name("tag", tag_id)),
        cell.boolean(ctx.directory.active("tag", tag_id)),
        str(len(partial.get("k", ()))), str(partial.get("m", 0)), str(partial.get("cur", 0)),
    ] + ctx.channel_cells(channel_id)
    yield row, row


# ---------------------------------------------------------------- virtual agents

VA_COUNTS = ("conv", "handover", "error", "resolved", "topics", "tagged", "tags")


def virtual_agent_partials(ctx: ReportContext, cid: str, state: dict):
    counts: dict[str, dict] = {}

    def add(va: str, what: str, n: int = 1) -> None:
        c = counts.setdefault(va, {})
        c[what] = c.get(what, 0) + n

    for m in state.get("m", {}).values():
        va = m[M_VA]
        if va is not None and ctx.in_range(m[M_T]) and "conv" not in counts.get(va, {}):
            add(va, "conv")
    for s in state.get("s", {}).values():
        va = s[S_VA]
        if va is None or not ctx.in_range(s[S_T]):
            continue
        if s[S_STATUS] == "NEW" and s[S_STARTED_BY] == HANDOVER:
            add(va, "handover")
            if s[S_HANDOVER] == "ERROR":
                add(va, "error")
        elif s[S_STATUS] == "RESOLVED" and s[S_RESOLVED_BY] == "VIRTUAL_AGENT":
            add(va, "resolved")
    tagged: dict[str, set] = {}
    for a in state.get("a", {}).values():
        va = a[A_VA]
        if va is None or not ctx.in_range(a[A_T]):
            continue
        if a[A_KIND] == "topic.applied":
            add(va, "topics")
        elif a[A_KIND] == "tag.applied":
            add(va, "tags")
            tagged.setdefault(va, set()).add(a[A_MESSAGE])
    if not counts:
        return
    keep, channel_id = _channel(ctx, state)
    if not keep:
        return
    for va, mids in tagged.items():
        counts[va]["tagged"] = len(mids)
    for va in sorted(counts):
        yield [va, channel_id or ""], counts[va]


def virtual_agent_finish(ctx: ReportContext, group_key, partial: dict):
    va, channel_id = group_key[0], _channel_of(group_key)
    c = {k: partial.get(k, 0) for k in VA_COUNTS}
    if not any(c[k] for k in VA_COUNTS):
        return
    row = [cell.text(va), cell.text(ctx.directory.name("virtual_agent", va))] + ctx.channel_cells(channel_id) + [
        str(c["conv"]), str(c["handover"]), str(c["error"]), str(c["resolved"]), str(c["topics"]),
        str(c["tagged"]), cell.ratio(c["tags"], c["tagged"]),
    ]
    yield row, row


merge_counts = _sum
