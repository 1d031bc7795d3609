"""Reference data (channels, agents, teams, topics, tags, virtual agents): latest event wins whole.

Stored per entity key ``<kind>:<id>`` as ``[t, event_id, active, fields, ut, ueid]``:
the latest event decides ``active``; the latest upsert gives every field (an
upsert replaces all of them, a delete keeps the last upsert's). Both are maxima
over ``(occurred_at, event_id)``, so arrival order does not matter.
Pure Python, shared by the directory agent and every reader.
"""
from __future__ import annotations

# Positions in a stored entry: the latest event's stamp and what it says, the latest upsert's fields and stamp.
D_T, D_EID, D_ACTIVE, D_FIELDS, D_UPSERT_T, D_UPSERT_EID = range(6)

FIELDS = {
    "channel": ("medium", "name", "display_name"),
    "agent": ("name", "email", "reference"),
    "team": ("name", "created_at"),
    "topic": ("name",),
    "tag": ("name",),
    "virtual_agent": ("name",),
}


def entity_key(event: dict) -> str:
    kind = event["type"].split(".", 1)[0]
    return f"{kind}:{event[kind + '_id']}"


def merge(stored: list | None, event: dict) -> list | None:
    """The new stored entry, or None when the event changes nothing."""
    t, eid = event["t"], event["event_id"]
    kind, action = event["type"].split(".", 1)
    entry = list(stored) if stored is not None else [t, eid, True, {}, None, None]
    changed = stored is None
    if (t, eid) > (entry[D_T], entry[D_EID]):
        entry[D_T], entry[D_EID], entry[D_ACTIVE] = t, eid, action != "deleted"
        changed = True
    elif stored is None:
        entry[D_ACTIVE] = action != "deleted"
    if action != "deleted" and (entry[D_UPSERT_T] is None or (t, eid) > (entry[D_UPSERT_T], entry[D_UPSERT_EID])):
        entry[D_FIELDS] = {f: event.get(f) for f in FIELDS[kind]}
        entry[D_UPSERT_T], entry[D_UPSERT_EID] = t, eid
        changed = True
    return entry if changed else None


class Directory:
    """Read access for reports: names of everything, empty when unknown."""

    def __init__(self, entries: dict[str, list] | None = None):
        self.entries = entries if entries is not None else {}

    def fields(self, kind: str, ident: str | None) -> dict:
        if ident is None:
            return {}
        entry = self.entries.get(f"{kind}:{ident}")
        return entry[D_FIELDS] if entry else {}

    def name(self, kind: str, ident: str | None) -> str | None:
        return self.fields(kind, ident).get("name")

    def active(self, kind: str, ident: str) -> bool:
        entry = self.entries.get(f"{kind}:{ident}")
        return True if entry is None else entry[D_ACTIVE]
