"""The simulation's events as they leave it: event ids and timestamps, duplicates and disorder, JSON
lines, Kafka keys."""
from __future__ import annotations

import random
from operator import itemgetter
from typing import Iterable, Iterator

import orjson

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import MS, SEC

_time = itemgetter(0)


def in_time_order(centre: Centre) -> list[dict]:
    """The events emitted so far, sorted by time, with their ``event_id`` and ``occurred_at``.

    Ties keep the order they were emitted in (the causal order), and event ids
    count up in that order. Most timestamps are ``2024-07-15T09:15:02.123Z``; a
    few carry a +02:00 or -05:00 offset, microseconds, no fraction, or a space
    and a lower-case ``z``.
    """
    rng = centre.rng
    fmt = centre.fmt
    std = fmt.std
    out = centre.out
    # a stable sort by time keeps emission order for ties (causal order)
    out.sort(key=_time)
    n = len(out)
    id_fmt = "e-%%0%dd" % max(6, len(str(n)))  # fixed width: string order = time order
    prev = -1
    events = []
    append = events.append
    for i in range(n):
        t, e = out[i]
        r = rng.random()
        if r < 0.978:
            s = std(t)
            v = t
        elif r < 0.985:
            s = fmt.offset(t, 120)
            v = t
        elif r < 0.988:
            s = fmt.offset(t, -300)
            v = t
        elif r < 0.995:
            nxt = out[i + 1][0] if i + 1 < n else t + MS
            v = t + (centre.below(min(1000, nxt - t)) if nxt > t else 0)
            s = fmt.micro(v)
        elif r < 0.998 and t - t % SEC >= prev:
            v = t - t % SEC
            s = fmt.whole(v)
        else:
            s = fmt.ms(t, " ", "z")
            v = t
        prev = v
        e["event_id"] = id_fmt % (i + 1)
        e["occurred_at"] = s
        append(e)
    return events


def disorder(events: list[dict], seed: int, duplicate_rate: float = 0.0,
             window: int = 0) -> list[dict]:
    """A new list of (copies of) the events, with duplicates and local disorder.

    Each event is followed by a duplicate (equal content, same ``event_id``)
    with probability ``duplicate_rate``; then every item moves at most
    ``window`` positions (a sort by position plus a random offset below
    ``window``; 0 keeps the order).  Deterministic given ``seed``.
    """
    rng = random.Random(seed)
    rnd = rng.random
    items = []
    for e in events:
        items.append(dict(e))
        if duplicate_rate > 0 and rnd() < duplicate_rate:
            items.append(dict(e))
    if window <= 0:
        return items
    keyed = [(i + rnd() * window, i) for i in range(len(items))]
    keyed.sort()
    return [items[i] for _, i in keyed]


def iter_jsonl(events: Iterable[dict]) -> Iterator[bytes]:
    """Each event as one orjson-encoded line ending in ``b"\\n"``."""
    dumps = orjson.dumps
    opt = orjson.OPT_APPEND_NEWLINE
    for e in events:
        yield dumps(e, option=opt)


_CONVERSATION_KEYED = ("message.", "conversation.", "lock.", "csat.", "topic.applied",
                       "topic.removed", "tag.applied", "tag.removed")


def key_of(event: dict) -> str:
    """The Kafka record key of an event, per the contract's topic table."""
    typ = event["type"]
    if typ.startswith(_CONVERSATION_KEYED):
        return event["conversation_id"]
    if typ == "presence.changed":
        return event["agent_id"]
    if typ.startswith("contact."):
        return event["contact_profile_id"]
    kind = typ.split(".", 1)[0]
    return f"{kind}:{event[kind + '_id']}"
