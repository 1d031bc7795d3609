"""conversations_resolved and conversations_open: one row per conversation.

Both read the conversation's summary (``convoflow.tables.conversation.summary``, stored
in front of its state, and kept again by itself in the store's heads), never the state
itself: an export over a million conversations reads and decodes a few hundred bytes for
each, not every message.
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import conversation as conv

DECODE = {"conversations": conv.decode_head}
HEADS = frozenset({"conversations"})  # the summaries alone


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
    column; None when the request's channels leave it out. (Built as one list, with ``text`` and
    ``seconds`` bound locally: this runs once per row of the largest exports.)"""
    if s is None or not ctx.keeps_channel(s["channel"]):
        return None
    text, seconds, ts = cell.text, cell.seconds, ctx.ts
    contact_id = s["contact"]
    primary, secondary = ctx.contact_identifiers(contact_id) if contact_id else (None, None)
    r = s["resolution"]
    resolved_by, reason, comment, trigger, resolved_at, resolver = r if r else _NO_RESOLUTION
    topics = s["topics"]
    row = [
        text(cid), *ctx.channel_cells(s["channel"]),
        text(contact_id), text(primary), text(secondary), ts(s["created"]),
        *ctx.agent_cells(s["last_agent"]), *ctx.team_cells(s["last_team"]),
        text(s["status"]), text(resolved_by),
        *((text(reason), text(comment), text(trigger)) if resolved else ()),
        ts(resolved_at), *ctx.agent_cells(resolver),
        str(s["inbound"]), str(s["outbound"]), seconds(s["first_response"]),
        seconds(s["handle"]), seconds(s["no_reply"]), seconds(s["cherry_picking"]),
        seconds(s["resolution_time"]),
        text(cell.joined(topics)) if topics else "",
        text(cell.joined(ctx.directory.name("topic", t) or "" for t in topics)) if topics else "",
        ctx.url(cid), ts(s["last_updated"]), text(s["language"]),
    ]
    if resolved:
        survey = s["csat"]
        if survey is None:
            row += _NO_SURVEY
        elif not survey:
            row += _SURVEY_SENT
        else:
            score, status, question, answer = survey
            row += [cell.number(score), text(status), text(question), text(answer)]
    return row


_NO_RESOLUTION = (None,) * 6
_NO_SURVEY = ("", "", "", "")
_SURVEY_SENT = ("", "SENT", "", "")
