"""What the simulation's tests share: the event types, the start, and a reading of timestamps that
does not use convoflow's own."""
from __future__ import annotations

import re
from datetime import datetime

ALL_TYPES = {
    "message.created", "message.updated", "message.deleted",
    "conversation.status_changed",
    "lock.acquired", "lock.released",
    "presence.changed",
    "csat.sent", "csat.answered",
    "topic.applied", "topic.removed", "tag.applied", "tag.removed",
    "contact.attribute_set", "contact.attribute_cleared",
    "channel.upserted", "agent.upserted", "team.upserted", "topic.upserted",
    "topic.deleted", "tag.upserted", "tag.deleted", "virtual_agent.upserted",
}
DIRECTORY_TYPES = {t for t in ALL_TYPES if t.split(".")[0] in
                   ("channel", "agent", "team", "topic", "tag", "virtual_agent")
                   and t not in ("topic.applied", "topic.removed", "tag.applied", "tag.removed")}
START = "2024-07-15T00:00:00Z"
MESSAGE_REFS = ("tag.applied", "tag.removed", "message.updated", "message.deleted")

RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
STANDARD = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def us(ts: str) -> int:
    """RFC 3339 -> µs since the epoch (independent of convoflow.contract.events)."""
    assert RFC3339.fullmatch(ts), ts
    text = ts.replace(" ", "T").replace("t", "T")
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    m = re.search(r"\.(\d+)", text)
    if m:  # fromisoformat wants 3 or 6 digits; truncate to microseconds
        text = text[:m.start(1)] + m.group(1)[:6].ljust(6, "0") + text[m.end(1):]
    dt = datetime.fromisoformat(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond
