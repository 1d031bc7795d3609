"""conversations_resolved and conversations_open: one row per conversation.

Both read the conversation's summary (``convoflow.tables.conversation.summary``, stored
in front of its state), never the state itself: an export over a million
conversations decodes a few hundred bytes for each, not every message.
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import conversation as conv

DECODE = {"conversations": conv.decode_summary}


def resolved_rows(ctx: ReportContext, cid: str, summary: dict | None):
    """Conversations whose first resolution is in R."""
    if summary is None or summary["first_resolved"] is None or not ctx.in_range(summary["first_resolved"]):
        return
    row = row_of(ctx, cid, summary, resolved=True)
    if row is not None:
        yield cell.sort_key(row, 1), row  # one row per conversation: its ID orders it as the whole row would


def open_rows(ctx: ReportContext, cid: str, summary: dict | None):
    """Conversations currently NEW or PENDING, whatever R."""
    if summary is None or summary["status"] not in ("NEW", "PENDING"):
        return
    row = row_of(ctx, cid, summary, resolved=False)
    if row is not None:
        yield cell.sort_key(row, 1), row


def row_of(ctx: ReportContext, cid: str, s: dict | None, resolved: bool) -> list[str] | None:
    """The conversation's row of conversations_resolved (``resolved``) or conversations_open, every
    column; None when the request's channels leave it out."""
    if s is None or not ctx.keeps_channel(s["channel"]):
        return None
    contact_id = s["contact"]
    primary, secondary = ctx.contact_identifiers(contact_id) if contact_id else (None, None)
    r = s["resolution"]
    resolved_by, reason, comment, trigger, resolved_at, resolver = r if r else (None,) * 6
    row = [cell.text(cid)] + ctx.channel_cells(s["channel"]) + [
        cell.text(contact_id), cell.text(primary), cell.text(secondary), ctx.ts(s["created"]),
    ]
    row += ctx.agent_cells(s["last_agent"])
    row += ctx.team_cells(s["last_team"])
    row += [cell.text(s["status"]), cell.text(resolved_by)]
    if resolved:
        row += [cell.text(reason), cell.text(comment), cell.text(trigger)] if r else ["", "", ""]
    row += [ctx.ts(resolved_at)]
    row += ctx.agent_cells(resolver)
    topics = s["topics"]
    row += [
        str(s["inbound"]), str(s["outbound"]), cell.seconds(s["first_response"]),
        cell.seconds(s["handle"]), cell.seconds(s["no_reply"]), cell.seconds(s["cherry_picking"]),
        cell.seconds(s["resolution_time"]),
        cell.text(cell.joined(topics)) if topics else "",
        cell.text(cell.joined(ctx.directory.name("topic", t) or "" for t in topics)) if topics else "",
        ctx.url(cid), ctx.ts(s["last_updated"]), cell.text(s["language"]),
    ]
    if resolved:
        survey = s["csat"]
        if survey is None:
            row += ["", "", "", ""]
        elif not survey:
            row += ["", "SENT", "", ""]
        else:
            score, status, question, answer = survey
            row += [cell.number(score), cell.text(status), cell.text(question), cell.text(answer)]
    return row
