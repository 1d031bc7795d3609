"""A contact's state: identifiers, attributes and last-updated, merged order-independently.

Stored per ``contact_profile_id`` as a dict:
- ``p`` / ``s``: latest non-empty primary / secondary identifier ``[t, event_id, value]``
  (from the contact's ``message.created`` events, re-keyed from conversations);
- ``a``: per attribute id, the latest set/cleared event ``[t, event_id, set?, name, type, value]``;
- ``lu``: latest ``[t, event_id]`` of its messages and attribute events.
Every merge is a max over ``(occurred_at, event_id)``: replays and disorder change nothing.
"""
from __future__ import annotations


def _later(stored: list | None, t: int, eid: str) -> bool:
    return stored is None or (t, eid) > (stored[0], stored[1])


def message_contribution(event: dict) -> dict:
    """What a message.created tells its contact (sent to the contact's partition)."""
    return {
        "c": event["contact_profile_id"],
        "t": event["t"],
        "e": event["event_id"],
        "p": event.get("contact_primary_identifier") or None,
        "s": event.get("contact_secondary_identifier") or None,
    }


def apply_message(state: dict, c: dict) -> bool:
    changed = False
    t, eid = c["t"], c["e"]
    for field in ("p", "s"):
        if c[field] and _later(state.get(field), t, eid):
            state[field] = [t, eid, c[field]]
            changed = True
    if _later(state.get("lu"), t, eid):
        state["lu"] = [t, eid]
        changed = True
    return changed


def apply_attribute(state: dict, event: dict) -> bool:
    t, eid = event["t"], event["event_id"]
    changed = False
    attrs = state.setdefault("a", {})
    aid = event["attribute_id"]
    if _later(attrs.get(aid), t, eid):
        if event["type"] == "contact.attribute_set":
            attrs[aid] = [t, eid, True, event["attribute_name"], event["attribute_type"], event["value"]]
        else:
            attrs[aid] = [t, eid, False, None, None, None]
        changed = True
    if _later(state.get("lu"), t, eid):
        state["lu"] = [t, eid]
        changed = True
    return changed


def identifiers(state: dict | None) -> tuple[str | None, str | None]:
    if not state:
        return None, None
    p, s = state.get("p"), state.get("s")
    return (p[2] if p else None), (s[2] if s else None)


def current_attributes(state: dict) -> dict[str, list]:
    return {aid: a for aid, a in state.get("a", {}).items() if a[2]}
