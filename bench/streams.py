"""The simulated streams a benchmark publishes: the contact centre, and further conversations beside it."""
from __future__ import annotations

from datetime import date, timedelta


ID_FIELDS = ("event_id", "message_id", "conversation_id", "contact_profile_id", "inbound_message_id", "survey_id",
             "lock_id")


DIRECTORY_TYPES = ("agent.", "team.", "channel.", "topic.upserted", "topic.deleted", "tag.upserted", "tag.deleted",
                   "virtual_agent.")


def chunks(total: int, size: int) -> list[int]:
    """Conversations per chunk: ``generate`` holds a whole stream in memory, 1M conversations would not fit."""
    size = max(1, size)
    return [min(size, total - start) for start in range(0, total, size)] or [0]


def stream_chunk(args, i: int, conversations: int) -> list[dict]:
    """Chunk 0 is the simulated contact centre (directory, presence, conversations); every further
    chunk adds conversations only: the same agents, teams and days, its own conversation, message and
    contact ids (prefix ``k<i>-``)."""
    from convoflow.tools import simulate

    if i == 0:
        return simulate.generate(seed=args.seed, agents=args.agents, teams=args.teams, conversations=conversations,
                                 days=args.days, start=args.start)
    return background_stream(args, args.seed + 1000 + i, conversations, f"k{i}-", presence=False)


def background_stream(args, seed: int, conversations: int, tag: str, presence: bool = True) -> list[dict]:
    """A second simulated stream with its own conversation/message/contact ids (directory ids shared)."""
    from convoflow.tools import simulate

    events = simulate.generate(seed=seed, agents=args.agents, teams=args.teams, conversations=conversations,
                               days=args.days, start=args.start)
    out = []
    for e in events:
        if e["type"].startswith(DIRECTORY_TYPES) or (not presence and e["type"] == "presence.changed"):
            continue
        for f in ID_FIELDS:
            v = e.get(f)
            if isinstance(v, str):
                e[f] = f"{tag}{v}"
        out.append(e)
    return out


def export_range(args) -> tuple[str, str, str]:
    """(first day, last day, as_of) of the exports: the simulated range, and the week after it."""
    first_day = args.start[:10]
    last_day = (date.fromisoformat(first_day) + timedelta(days=args.days + 6)).isoformat()
    return first_day, last_day, f"{last_day}T23:59:59Z"
