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
    tags = None
    for mid, m in created.items():
        if not ctx.in_range(m[M_T]) or not ctx.keeps_channel(m[M_CHANNEL]):
            continue
        if tags is None:
            tags = conv.current_tags_by_message(state)
        view = conv.message_view(state, mid, m)
        primary, secondary = ctx.contact_identifiers(m[M_CONTACT])
        human = m[M_DIR] == "OUTBOUND" and m[M_AGENT] is not None
        tag_ids = tags.get(mid, [])
        deleted = state.get("d", {}).get(mid)
        row = [cell.text(mid), ctx.ts(m[M_T]), cell.text(cid)] + ctx.channel_cells(m[M_CHANNEL]) + [
            cell.text(m[M_CONTACT]), cell.text(primary), cell.text(secondary),
            cell.text(view[M_TYPE]), cell.text(m[M_ORIGIN]), cell.text(m[M_OBTYPE]), cell.text(m[M_DIR]),
        ]
        row += ctx.agent_cells(m[M_AGENT] if human else None)
        row += ctx.team_cells(m[M_TEAM] if human else None)
        row += [
            cell.text(cell.joined(tag_ids)),
            cell.text(cell.joined(ctx.directory.name("tag", t) or "" for t in tag_ids)),
            cell.text(view[M_CONTENT]), ctx.url(cid), cell.text(view[M_POST_URL]),
            ctx.ts(conv.message_last_updated(state, mid, m)), ctx.ts(deleted[0] if deleted else None),
            cell.text(view[M_SUT]),
        ]
        yield cell.sort_key(row, 3), row  # a message's ID, time and conversation order it as its row would
