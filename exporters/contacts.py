"""contacts and contact_attributes: aggregates per contact, from conversations and the contacts table.

contacts — group key ``contact_profile_id``; partial
``{"n": conversations, "i": inbound, "o": outbound, "f": first t, "l": [t, event_id, channel_id], "u": last updated t}``:
- source ``conversations``: per contact of the messages of one conversation, the
  messages in R whose *own* ``channel_id`` passes the channel filter (the
  ``contacts`` report looks at each message's channel, for Medium and for the
  filter); the contact is each message's own ``contact_profile_id``. A
  conversation lives in one shard, so Number of Conversations is a plain sum of
  one per conversation. ``u`` carries the latest of every message of that
  contact in the conversation (any time, any channel).
- source ``contacts``: the contact's ``lu`` (its messages and attribute events,
  any time), sent only when it is at or after R's start: an earlier one can never
  be the maximum for a contact that has a message in R.
- a row only for a contact with a message in R (``n > 0``). Medium: of the channel
  of its latest message in R (by ``(occurred_at, event_id)``); Created At: its
  first message in R; Last Updated: the latest of the contact's ``lu`` and its
  messages seen; identifiers: the latest non-empty ones (contacts table).

contact_attributes — group key ``contact_profile_id``; partial ``{"in": 1, "a": {attribute_id: [name, type, value]}}``:
- source ``conversations``: contacts (each message's own ``contact_profile_id``)
  with an ``INBOUND`` message in R. The spec names only ``messages`` and
  ``contacts`` as looking at each message's own channel, so here the channel
  filter is the ordinary one: the *conversation's* channel keeps or drops its
  messages (a conversation's messages normally share one channel anyway).
- source ``contacts``: the currently set attributes (latest set/cleared event per
  attribute is a set, any time); a cleared attribute has no row. Not pruned by
  time: attribute events before R still describe the contact.
- one row per (contact, attribute currently set), rows by Contact Profile ID, then
  Attribute ID (cells as written), then the rest of the row.
"""
from __future__ import annotations

from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import contact as contact_table
from convoflow.tables import conversation as conv
from convoflow.tables.contact import ATTR_NAME, ATTR_TYPE, ATTR_VALUE
from convoflow.tables.conversation import M_CHANNEL, M_CONTACT, M_DIR, M_EID, M_T


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


# ---------------------------------------------------------------- contacts


def contact_partials_from_conversation(ctx: ReportContext, cid: str, state: dict):
    created = state.get("m")
    if not created:
        return
    partials: dict[str, dict] = {}
    latest_any: dict[str, int] = {}
    for m in created.values():
        contact_id = m[M_CONTACT]
        t = m[M_T]
        latest_any[contact_id] = max(latest_any.get(contact_id, t), t)
        if not ctx.in_range(t) or not ctx.keeps_channel(m[M_CHANNEL]):
            continue
        p = partials.get(contact_id)
        if p is None:
            p = partials[contact_id] = {"n": 1, "i": 0, "o": 0, "f": t, "l": [t, m[M_EID], m[M_CHANNEL]]}
        p["i" if m[M_DIR] == "INBOUND" else "o"] += 1
        p["f"] = min(p["f"], t)
        p["l"] = max(p["l"], [t, m[M_EID], m[M_CHANNEL]])
    for contact_id in sorted(partials):
        p = partials[contact_id]
        p["u"] = latest_any[contact_id]
        yield contact_id, p


def contact_partials_from_contact(ctx: ReportContext, contact_id: str, state: dict):
    lu = state.get("lu")
    if lu and lu[0] >= ctx.start_us:
        yield contact_id, {"u": lu[0]}


def contact_merge(p1: dict, p2: dict) -> dict:
    return {
        "n": p1.get("n", 0) + p2.get("n", 0),
        "i": p1.get("i", 0) + p2.get("i", 0),
        "o": p1.get("o", 0) + p2.get("o", 0),
        "f": _min(p1.get("f"), p2.get("f")),
        "l": _max(p1.get("l"), p2.get("l")),
        "u": _max(p1.get("u"), p2.get("u")),
    }


def contact_finish(ctx: ReportContext, contact_id: str, partial: dict):
    if not partial.get("n"):
        return
    primary, secondary = ctx.contact_identifiers(contact_id)
    _, _, latest_channel = partial["l"]  # [t, event_id, channel] of the contact's latest message
    row = [
        cell.text(contact_id), cell.text(ctx.directory.fields("channel", latest_channel).get("medium")),
        cell.text(primary), cell.text(secondary), ctx.ts(partial["f"]),
        str(partial["n"]), str(partial.get("i", 0)), str(partial.get("o", 0)), ctx.ts(partial.get("u")),
    ]
    yield row, row


# ---------------------------------------------------------------- contact_attributes


def attribute_partials_from_conversation(ctx: ReportContext, cid: str, state: dict):
    created = state.get("m")
    if not created:
        return
    contacts = {
        m[M_CONTACT] for m in created.values() if m[M_DIR] == "INBOUND" and ctx.in_range(m[M_T])
    }
    if not contacts or not ctx.keeps_channel(conv.channel(state)):
        return
    for contact_id in sorted(contacts):
        yield contact_id, {"in": 1}


def attribute_partials_from_contact(ctx: ReportContext, contact_id: str, state: dict):
    current = contact_table.current_attributes(state)
    if current:
        yield contact_id, {"a": {aid: [a[ATTR_NAME], a[ATTR_TYPE], a[ATTR_VALUE]] for aid, a in current.items()}}


def attribute_merge(p1: dict, p2: dict) -> dict:
    attrs = dict(p1.get("a", {}))
    for aid, a in p2.get("a", {}).items():
        attrs[aid] = a if aid not in attrs else max(attrs[aid], a, key=lambda v: [x or "" for x in v])
    return {"in": max(p1.get("in", 0), p2.get("in", 0)), "a": attrs}


def attribute_finish(ctx: ReportContext, contact_id: str, partial: dict):
    if not partial.get("in") or not partial.get("a"):
        return
    primary, secondary = ctx.contact_identifiers(contact_id)
    head = [cell.text(contact_id), cell.text(primary), cell.text(secondary)]
    for aid, (name, typ, value) in partial["a"].items():
        row = head + [cell.text(aid), cell.text(name), cell.text(value), cell.text(typ)]
        yield [row[0], row[3]] + row, row
