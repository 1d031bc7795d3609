"""agent_responses: one row per response whose human outbound is in R.

Rows by To, then Conversation ID, then the remaining cells, all as written: two
replies in the same second are ordered by their conversations' IDs, not by the
fraction of a second the file does not show (and on a DST fall-back day the
written To is not chronological).
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.exporters.headers import HEADERS
from convoflow.tables import conversation as conv
from convoflow.tables.conversation import M_AGENT, M_EID, M_T, S_HANDOVER, S_INBOUND, S_STARTED_BY, S_T

TO = HEADERS["agent_responses"].index("To")


def rows(ctx: ReportContext, cid: str, state: dict):
    if not state.get("m"):
        return
    channel_id = conv.channel(state)
    if not ctx.keeps_channel(channel_id):
        return
    changes = conv.status_changes(state)
    outbound_ids = None
    for r in conv.responses(state, changes):
        h, n = r.outbound, r.new_change
        if not ctx.in_range(h[M_T]):
            continue
        if outbound_ids is None:
            outbound_ids = {m[M_EID]: mid for mid, m in state["m"].items()}
        row = [cell.text(cid)] + ctx.channel_cells(channel_id) + [
            cell.text(conv.contact(state)), cell.text(n[S_STARTED_BY]), cell.text(n[S_HANDOVER]),
            ctx.ts(n[S_T]), ctx.ts(h[M_T]), cell.seconds(r.time_us),
        ]
        row += ctx.agent_cells(h[M_AGENT])
        row += [cell.text(n[S_INBOUND]), cell.text(outbound_ids[h[M_EID]]), ctx.url(cid)]
        yield [row[TO], row[0]] + row[1:TO] + row[TO + 1:], row
