"""Live lookups for dashboards: one conversation, one contact, an agent's presence now; and the
live dashboard's first response times (``exporters/dashboard_figures.py``).

They run through the same shard requests as exports (streams/export_engine/), a
keyed lookup only on the owner of the key's partition, and build their answers
with the same code as the reports, so a lookup and a CSV row agree.
"""
from __future__ import annotations

from convoflow.exporters import conversations, dashboard_figures
from convoflow.exporters.context import ReportContext
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.reports import Report
from convoflow.tables import contact, presence


def _utc(ctx: ReportContext, us: int | None) -> str | None:
    return ctx.ts(us) if us is not None else None


def conversation_row(ctx: ReportContext, cid: str, summary: dict | None):
    """The conversation's row of the conversations report (all columns), as a JSON object."""
    row = conversations.row_of(ctx, cid, summary, resolved=True)
    if row is not None:
        yield cid, dict(zip(HEADERS["conversations_resolved"], row))


def presence_now(ctx: ReportContext, agent_id: str, state: dict):
    intervals = presence.intervals(state)
    if intervals:
        start, _, kind, away = intervals[-1]
        yield agent_id, {"agent_id": agent_id, "state": kind, "away_state": away, "since": _utc(ctx, start)}


def contact_now(ctx: ReportContext, contact_id: str, state: dict):
    primary, secondary = contact.identifiers(state)
    conversations_count, inbound, outbound = contact.message_counts(state)
    lu = state.get("lu")
    yield contact_id, {
        "contact_profile_id": contact_id,
        "primary_identifier": primary,
        "secondary_identifier": secondary,
        "attributes": [
            {"attribute_id": aid, "name": a[contact.ATTR_NAME], "type": a[contact.ATTR_TYPE], "value": a[contact.ATTR_VALUE]}
            for aid, a in sorted(contact.current_attributes(state).items())
        ],
        "conversations": conversations_count,
        "inbound_messages": inbound,
        "outbound_messages": outbound,
        "last_updated": _utc(ctx, lu[0] if lu else None),
    }


LOOKUPS: dict[str, Report] = {
    "conversation": Report("conversation", {"conversations": conversation_row}, decode=conversations.DECODE,
                           heads=conversations.HEADS),
    "presence_now": Report("presence_now", {"presence": presence_now}, group_by={"presence": presence.agent_of}),
    "contact": Report("contact", {"contacts": contact_now}),
    "dashboard_first_responses": dashboard_figures.FIRST_RESPONSES,
}
