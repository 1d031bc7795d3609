"""conversations_resolved and conversations_open: one row per conversation."""
from __future__ import annotations

from exporters import csvfile as cell
from exporters.context import ReportContext
from tables import conversation as conv
from tables.conversation import M_DIR, S_AGENT, S_COMMENT, S_REASON, S_RESOLVED_BY, S_T, S_TEAM, S_TRIGGER


def resolved_rows(ctx: ReportContext, cid: str, state: dict):
    """Conversations whose first resolution is in R."""
    changes = conv.status_changes(state)
    first = next((c for c in changes if c[2] == "RESOLVED"), None)
    if first is None or not ctx.in_range(first[S_T]):
        return
    row = _row(ctx, cid, state, changes, resolved=True)
    if row is not None:
        yield row, row


def open_rows(ctx: ReportContext, cid: str, state: dict):
    """Conversations currently NEW or PENDING, whatever R."""
    changes = conv.status_changes(state)
    if conv.current_status(changes) not in ("NEW", "PENDING"):
        return
    row = _row(ctx, cid, state, changes, resolved=False)
    if row is not None:
        yield row, row


def _row(ctx: ReportContext, cid: str, state: dict, changes: list, resolved: bool) -> list[str] | None:
    if not conv.exists(state):
        return None
    channel_id = conv.channel(state)
    if not ctx.keeps_channel(channel_id):
        return None
    contact_id = conv.contact(state)
    primary, secondary = ctx.contact_identifiers(contact_id) if contact_id else (None, None)
    last_change = conv.last_status_change_by_agent(changes)
    cycles = conv.resolution_cycles(state, changes)
    latest = cycles[-1] if cycles else None
    r = latest.change if latest else None
    responses = conv.responses(state, changes)
    sessions = conv.lock_sessions(state, changes)
    totals = {"handle": 0, "no_reply": 0, "cherry_picking": 0}
    for s in sessions:
        totals[s.kind] += s.duration_us
    msgs = state.get("m", {}).values()
    inbound = sum(1 for m in msgs if m[M_DIR] == "INBOUND")
    topics = conv.current_topics(state)
    row = [cell.text(cid)] + ctx.channel_cells(channel_id) + [
        cell.text(contact_id), cell.text(primary), cell.text(secondary),
        ctx.ts(conv.created_at(state)),
    ]
    row += ctx.agent_cells(last_change[S_AGENT] if last_change else None)
    row += ctx.team_cells(last_change[S_TEAM] if last_change else None)
    row += [cell.text(conv.current_status(changes)), cell.text(r[S_RESOLVED_BY] if r else None)]
    if resolved:
        row += [cell.text(r[S_REASON]), cell.text(r[S_COMMENT]), cell.text(r[S_TRIGGER])] if r else ["", "", ""]
    row += [ctx.ts(r[S_T] if r else None)]
    row += ctx.agent_cells(r[S_AGENT] if r else None)
    row += [
        str(inbound), str(len(msgs) - inbound),
        cell.seconds(responses[0].time_us if responses else None),
        cell.seconds(totals["handle"]), cell.seconds(totals["no_reply"]), cell.seconds(totals["cherry_picking"]),
        cell.seconds(latest.resolution_time_us if latest else None),
        cell.text(cell.joined(topics)),
        cell.text(cell.joined(ctx.directory.name("topic", t) or "" for t in topics)),
        ctx.url(cid), ctx.ts(conv.last_updated(state)), cell.text(conv.language(state)),
    ]
    if resolved:
        survey = conv.csat(state)
        answer = survey[1] if survey else None
        if survey is None:
            row += ["", "", "", ""]
        elif answer is None:
            row += ["", "SENT", "", ""]
        else:
            row += [cell.number(answer[3]), cell.text(answer[2]), cell.text(answer[4]), cell.text(answer[5])]
    return row
