"""A contact's state: identifiers, attributes and last-updated, merged order-independently.

Stored per ``contact_profile_id`` as a dict:
- ``p`` / ``s``: latest non-empty primary / secondary identifier ``[t, event_id, value]``
  (from the contact's ``message.created`` events, re-keyed from conversations);
- ``cv``: per conversation, ``[inbound, outbound]`` counts of the contact's messages there
  (each conversation re-sends its whole count, so a repeat replaces, never adds);
- ``a``: per attribute id, the latest set/cleared event ``[t, event_id, set?, name, type, value]``;
- ``lu``: latest ``[t, event_id]`` of its messages and attribute events.
Every merge is a max over ``(occurred_at, event_id)``: replays and disorder change nothing.
"""
from __future__ import annotations

from convoflow.tables.conversation import M_CONTACT, M_DIR, M_EID, M_PRIMARY, M_SECONDARY, M_T

IDENTIFIER = 2  # the value's position in an identifier's [t, event_id, value]
ATTR_SET, ATTR_NAME, ATTR_TYPE, ATTR_VALUE = range(2, 6)  # positions in an attribute's [t, event_id, set?, name, type, value]


def _later(stored: list | None, t: int, eid: str) -> bool:
    return stored is None or (t, eid) > (stored[0], stored[1])


def conversation_contributions(conversation_id: str, messages) -> list[dict]:
    """What a conversation tells each contact of its messages (sent to the contact's partition).

    ``messages`` are created-message facts of convoflow.tables.conversation (``Message``).
    """
    per_contact: dict[str, dict] = {}
    for m in messages:
        t, eid, direction, contact_id = m[M_T], m[M_EID], m[M_DIR], m[M_CONTACT]
        c = per_contact.setdefault(contact_id, {"c": contact_id, "cv": conversation_id, "n": [0, 0], "p": None, "s": None, "lu": None})
        c["n"][0 if direction == "INBOUND" else 1] += 1
        for field, value in (("p", m[M_PRIMARY]), ("s", m[M_SECONDARY])):
            if value and _later(c[field], t, eid):
                c[field] = [t, eid, value]
        if _later(c["lu"], t, eid):
            c["lu"] = [t, eid]
    return list(per_contact.values())


def apply_conversation(state: dict, c: dict) -> bool:
    changed = False
    for field in ("p", "s", "lu"):
        new = c[field]
        if new and _later(state.get(field), new[0], new[1]):
            state[field] = new
            changed = True
    counts = state.setdefault("cv", {})
    if counts.get(c["cv"]) != c["n"]:
        counts[c["cv"]] = c["n"]
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
    return (p[IDENTIFIER] if p else None), (s[IDENTIFIER] if s else None)


def message_counts(state: dict) -> tuple[int, int, int]:
    """(conversations, inbound messages, outbound messages) of the contact, all time."""
    counts = state.get("cv", {}).values()
    return len(counts), sum(n[0] for n in counts), sum(n[1] for n in counts)


def current_attributes(state: dict) -> dict[str, list]:
    return {aid: a for aid, a in state.get("a", {}).items() if a[ATTR_SET]}
