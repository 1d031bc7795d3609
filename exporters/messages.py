"""messages: one row per message.created in R, filtered by the message's own channel."""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import conversation as conv
from convoflow.tables.conversation import (
    M_AGENT, M_CHANNEL, M_CONTACT, M_CONTENT, M_DIR, M_OBTYPE, M_ORIGIN, M_POST_URL, M_SUT, M_T, M_TEAM, M_TYPE,
)


def rows(ctx: ReportContext, cid: str, state: dict):
    created = state.get("m")
    if not created:
        return
    tags = tag_times = cid_cell = url = None
    deleted_all = state.get("d", {})
    identifiers: dict = {}  # contact -> its identifier cells (a conversation's messages share one contact)
    text, ts = cell.text, ctx.ts
    for mid, m in created.items():
        if not ctx.in_range(m[M_T]) or not ctx.keeps_channel(m[M_CHANNEL]):
            continue
        if tags is None:  # what every message of the conversation shares, once
            tags, tag_times = conv.current_tags_by_message(state), conv.last_tag_times(state)
            cid_cell, url = text(cid), ctx.url(cid)
        view = conv.message_view(state, mid, m)
        contact = m[M_CONTACT]
        ids = identifiers.get(contact)
        if ids is None:
            primary, secondary = ctx.contact_identifiers(contact)
            ids = identifiers[contact] = [text(contact), text(primary), text(secondary)]
        human = m[M_DIR] == "OUTBOUND" and m[M_AGENT] is not None
        tag_ids = tags.get(mid, [])
        deleted = deleted_all.get(mid)
        row = [text(mid), ts(m[M_T]), cid_cell, *ctx.channel_cells(m[M_CHANNEL]), *ids,
               text(view[M_TYPE]), text(m[M_ORIGIN]), text(m[M_OBTYPE]), text(m[M_DIR])]
        row += ctx.agent_cells(m[M_AGENT] if human else None)
        row += ctx.team_cells(m[M_TEAM] if human else None)
        row += [
            text(cell.joined(tag_ids)) if tag_ids else "",
            text(cell.joined(ctx.directory.name("tag", t) or "" for t in tag_ids)) if tag_ids else "",
            text(view[M_CONTENT]), url, text(view[M_POST_URL]),
            ts(conv.message_last_updated(state, mid, m, tag_times)), ts(deleted[0] if deleted else None),
            text(view[M_SUT]),
        ]
        yield cell.sort_key(row, 3), row  # a message's ID, time and conversation order it as its row would
