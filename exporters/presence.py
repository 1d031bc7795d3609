"""agent_presence: one row per AVAILABLE or AWAY interval that overlaps R.

Choices where the spec leaves room:
- An interval is ``[from, to)``, an ongoing one ``[from, as_of)``; it is listed
  when that half-open interval and R share at least one instant
  (``max(from, start) < min(end, R's end)``); an interval ending exactly at R's
  start is not listed. An ongoing interval whose ``from`` is at or after
  ``as_of`` (an ``as_of`` in the past) is listed when its ``from`` is in R, with
  Duration 0 (see ``convoflow.tables.presence.clipped_end``).
- Duration (s) is ``to − from``, or ``as_of − from`` while ongoing, not clipped to R.
- Away State is the ``away_state`` of the change that started the interval as the
  presence table keeps it (for ``AWAY`` only, an empty name being no name), so an
  ``AVAILABLE`` row has an empty Away State.
- Rows by User ID, then From, then the rest of the row, all as written: two
  intervals that start in the same second are ordered by their remaining cells
  (Type, Away State, To, ...), not by the fraction of a second the file does not
  show, and on a DST fall-back day the written From is not chronological.
- Presence is never filtered by channel.
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.exporters.headers import HEADERS
from convoflow.tables import presence

FROM = HEADERS["agent_presence"].index("From")

TYPES = {"AVAILABLE": "Available", "AWAY": "Away"}


def rows(ctx: ReportContext, agent_id: str, state: dict):
    listed = None
    for start, end, kind, away_state in presence.intervals(state):
        label = TYPES.get(kind)
        if label is None:
            continue
        until = presence.clipped_end(start, end, ctx.as_of_us)
        if not presence.overlaps(start, until, ctx.start_us, ctx.end_us):
            continue
        if listed is None:
            f = ctx.directory.fields("agent", agent_id)
            listed = [cell.text(agent_id), cell.text(f.get("name")), cell.text(f.get("email"))]
        row = listed + [label, cell.text(away_state), ctx.ts(start), ctx.ts(end), cell.seconds(until - start)]
        yield [row[0], row[FROM]] + row[1:FROM] + row[FROM + 1:], row
