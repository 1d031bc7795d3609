"""agent_metrics and teams, read from the per-day aggregates of streams/people.py (and presence)."""
from __future__ import annotations

from convoflow.contract.times import parse_time
from convoflow.exporters import csvfile as cell
from convoflow.exporters.context import ReportContext
from convoflow.tables import people, presence
from convoflow.tables.people import DAY_US


def owner_day(ctx: ReportContext, kind: str, key: str) -> tuple[str, int] | None:
    """(owner id, UTC day) of an ``owner_days`` key of that kind of owner whose day meets R, else None."""
    owner, day, _shard = key.rsplit("|", 2)
    owner_kind, owner_id = owner.split(":", 1)
    day = int(day)
    if owner_kind != kind or (day + 1) * DAY_US <= ctx.start_us or day * DAY_US >= ctx.end_us:
        return None
    return owner_id, day


def _owner_days(kind: str):
    def fold(ctx: ReportContext, records):
        """(owner id, {"p": partial}) of the ``(key, record)`` of one shard's ``owner_days``, in key
        order: the days of an owner that meet R, added up as they come. The store keeps an owner's
        keys together, so an owner is mostly one item; one met again is merged like any group."""
        owner = total = None
        for key, record in records:
            found = owner_day(ctx, kind, key)
            if found is None:
                continue
            owner_id, day = found
            partial = people.in_range(day, record, ctx.start_us, ctx.end_us, ctx.channels)
            if not partial:
                continue
            if owner_id != owner:  # decoded for this record: the new owner's to add into
                if total:
                    yield owner, {"p": total}
                owner, total = owner_id, partial
            else:
                people.accumulate(total, partial)
        if total:
            yield owner, {"p": total}

    return fold


def presence_overlaps(ctx: ReportContext, state: dict):
    """``(start, stop, kind, overlap_us)`` of every AVAILABLE or AWAY interval that meets R; an
    ongoing interval stops at as_of."""
    for start, end, kind, _ in presence.intervals(state):
        if kind not in ("AVAILABLE", "AWAY"):
            continue
        stop = presence.clipped_end(start, end, ctx.as_of_us)
        if presence.overlaps(start, stop, ctx.start_us, ctx.end_us):
            yield start, stop, kind, max(0, min(stop, ctx.end_us) - max(start, ctx.start_us))


def presence_partial(kind: str, overlap: int) -> dict:
    """One interval's part of an agent's row: what presence_rows sums."""
    return {"av": overlap if kind == "AVAILABLE" else 0, "aw": overlap if kind == "AWAY" else 0, "present": True}


def presence_rows(ctx: ReportContext, agent_id: str, state: dict):
    """Available and Away time inside R; an ongoing interval ends at as_of (``presence_overlaps``'
    intervals, summed in one pass)."""
    available, away, present = presence.available_away(state, ctx.start_us, ctx.end_us, ctx.as_of_us)
    if present:
        yield agent_id, {"av": available, "aw": away, "present": True}


def settle(partial: dict) -> dict:
    """A group's partial as it leaves its shard: how many distinct contacts and conversations, in
    place of their count maps.

    An owner's days all live in the partition of the owner (``people-updates`` is keyed by it), so
    one shard holds every record that adds to a group's ``p`` and counts each member once across
    the days; the other shards add only presence time to the group. What travels to the merge then
    grows with the groups, not with their conversations."""
    p = partial.get("p")
    if p:
        for field in people.SETS:
            members = p.get(field)
            if isinstance(members, dict):
                p[field] = len(members)
    return partial


def _settled(p: dict) -> bool:
    """Whether a shard settled this ``p`` (checked on every merge, so written out for people.SETS)."""
    return type(p.get("contacts")) is int or type(p.get("handled")) is int


def merge(a: dict, b: dict) -> dict:
    """a + b, added into a: a is the group's own partial (made for it, or decoded for it), and b is
    not used again."""
    p = a.get("p")
    if not p:
        a["p"] = b.get("p", {})
    elif b.get("p"):
        if _settled(p) or _settled(b["p"]):  # two shards counted the same owner's members: never add them
            raise ValueError("one owner's days came from two shards; they must all live in the owner's partition")
        people.accumulate(p, b["p"])
    for field in ("av", "aw"):
        a[field] = a.get(field, 0) + b.get(field, 0)
    a["present"] = a.get("present", False) or b.get("present", False)
    if b.get("always"):  # a lookup of a known id shows its row even without activity
        a["always"] = True
    return a


def distinct(p: dict, field: str) -> int:
    """How many contacts or conversations a partial counts: its count map's size, or the size a
    shard settled (``settle``)."""
    members = p.get(field)
    if members is None:
        return 0
    return members if isinstance(members, int) else len(members)


def _common(p: dict) -> dict:
    handled = distinct(p, "handled")
    return {
        "handle": p.get("handle_us", 0),
        "no_reply": p.get("no_reply_us", 0),
        "cherry": p.get("cherry_us", 0),
        "avg_handle": cell.average_seconds(p.get("handle_us", 0), handled),
        "contacts": str(distinct(p, "contacts")),
        "csat": [str(p.get(f"csat{k}", 0)) for k in range(1, 6)],
    }


def agent_row(ctx: ReportContext, agent_id: str, partial: dict):
    p = partial.get("p", {})
    active = partial.get("always") or partial.get("present") or any(
        p.get(f) for f in ("replies", "resolved_with_reply", "resolved_no_reply", "sessions", "tags", "topics")
    ) or any(p.get(f"csat{k}") for k in range(1, 6))
    if not active:
        return
    c = _common(p)
    info = ctx.directory.fields("agent", agent_id)
    available = partial.get("av", 0)
    row = [
        cell.text(agent_id), cell.text(info.get("name")), cell.text(info.get("email")), cell.text(info.get("reference")),
        cell.seconds(available), cell.seconds(partial.get("aw", 0)), c["contacts"], c["avg_handle"],
        cell.seconds(c["handle"]), cell.seconds(c["no_reply"]), cell.seconds(c["cherry"]),
        str(p.get("replies", 0)), str(p.get("resolved_with_reply", 0)), str(p.get("resolved_no_reply", 0)),
        str(p.get("tags", 0)), str(p.get("topics", 0)),
        cell.ratio(c["handle"] + c["no_reply"] + c["cherry"], available, 100),
    ] + c["csat"]
    yield row, row


def team_row(ctx: ReportContext, team_id: str, partial: dict):
    p = partial.get("p", {})
    if not p.get("replies") and not partial.get("always"):
        return
    c = _common(p)
    info = ctx.directory.fields("team", team_id)
    created = info.get("created_at")
    row = [
        ctx.ts(parse_time(created)) if created else "", cell.text(team_id), cell.text(info.get("name")),
        str(p.get("resolved_with_reply", 0)), str(p.get("resolved_no_reply", 0)),
        cell.average_seconds(p.get("first_response_us", 0), p.get("first_responses", 0)),
        cell.average_seconds(p.get("resolution_us", 0), p.get("resolutions_timed", 0)),
        cell.seconds(c["handle"]), cell.seconds(c["no_reply"]), cell.seconds(c["cherry"]), c["avg_handle"],
        c["contacts"],
    ] + c["csat"] + [str(p.get("tags", 0)), str(p.get("topics", 0)), str(p.get("replies", 0))]
    yield row, row


agent_days = _owner_days("agent")
team_days = _owner_days("team")
