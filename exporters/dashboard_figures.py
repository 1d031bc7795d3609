"""The live dashboard's figures, made from report rows: the open queue, responses per hour, and
first response times, which are a report of their own (``FIRST_RESPONSES``).

``FIRST_RESPONSES`` is an aggregate report over the conversations table, built
from the same rule as the teams' "Average First Response Time"
(``tables/people.py``): a conversation's first response counts where its reply
is in the request's range, grouped by the replying team, with its time and the
class of the distribution it falls into. It is registered with the lookups
(``exporters/lookups.py``), so that shards find it by name. The other
functions are plain arithmetic over the rows that ``conversations_open`` and
``agent_responses`` export.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from convoflow.exporters import csvfile
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.reports import Report
from convoflow.tables import conversation as conv
from convoflow.tables.conversation import M_T, M_TEAM

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Upper bounds (seconds) of the distribution's classes; the last class is open.
FRT_BOUNDS = (60, 300, 900, 3600, 4 * 3600)
FRT_LABELS = ("< 1 min", "1-5 min", "5-15 min", "15-60 min", "1-4 h", ">= 4 h")


def frt_class(time_us: int) -> int:
    seconds = time_us / 1_000_000
    return next((i for i, bound in enumerate(FRT_BOUNDS) if seconds < bound), len(FRT_BOUNDS))


def first_response_partials(ctx, cid: str, state: dict):
    """A conversation's first response, when its reply is in R: the rule of the teams'
    "Average First Response Time" (tables/people.py), grouped by the replying team."""
    if not state.get("m") or not ctx.keeps_channel(conv.channel(state)):
        return
    responses = conv.responses(state)
    if not responses:
        return
    first = responses[0]
    if not ctx.in_range(first.outbound[M_T]):
        return
    yield first.outbound[M_TEAM] or "", {"n": 1, "us": first.time_us, "b": {str(frt_class(first.time_us)): 1}}


def first_response_merge(a: dict, b: dict) -> dict:
    buckets = dict(a["b"])
    for k, n in b["b"].items():
        buckets[k] = buckets.get(k, 0) + n
    return {"n": a["n"] + b["n"], "us": a["us"] + b["us"], "b": buckets}


def first_response_finish(ctx, team: str, partial: dict):
    yield team, {"team_id": team or None, "count": partial["n"], "sum_us": partial["us"],
                 "classes": [partial["b"].get(str(i), 0) for i in range(len(FRT_LABELS))]}


FIRST_RESPONSES = Report("dashboard_first_responses", {"conversations": first_response_partials},
                         first_response_merge, first_response_finish)


def first_response_summary(rows: list[dict]) -> dict:
    """The distribution and the average over every team, and each team's count and average, from
    FIRST_RESPONSES rows."""
    classes = [0] * len(FRT_LABELS)
    count = total = 0
    for r in rows:
        count += r["count"]
        total += r["sum_us"]
        classes = [a + b for a, b in zip(classes, r["classes"])]
    teams = {r["team_id"] or "": {"count": r["count"], "average_seconds": csvfile.average_seconds(r["sum_us"], r["count"])}
             for r in rows}
    return {"labels": list(FRT_LABELS), "classes": classes, "count": count,
            "average_seconds": csvfile.average_seconds(total, count), "teams": teams}


def _instant_us(local_ts: str) -> int:
    return (datetime.fromisoformat(local_ts) - _EPOCH) // timedelta(microseconds=1)


def queue_summary(rows: list[list[str]], as_of_us: int) -> dict:
    """New and Pending counts, and the oldest waiting conversations, from conversations_open rows."""
    h = {name: i for i, name in enumerate(HEADERS["conversations_open"])}
    counts = {"NEW": 0, "PENDING": 0}
    by_team: dict[str, dict] = {}
    waiting = []
    for row in rows:
        status = row[h["Current Status"]]
        counts[status] = counts.get(status, 0) + 1
        team = row[h["Last Status Change Team Name"]] or row[h["Last Status Change Team ID"]] or "(no team)"
        entry = by_team.setdefault(team, {"team": team, "new": 0, "pending": 0})
        entry[status.lower()] = entry.get(status.lower(), 0) + 1
        created = row[h["Created at"]]
        if created:
            waiting.append((_instant_us(created), row[h["Conversation ID"]], created, status,
                            row[h["Last Status Change Team Name"]] or row[h["Last Status Change Team ID"]],
                            row[h["Channel"]]))
    waiting.sort()
    oldest = [
        {"conversation_id": cid, "created_at": created, "status": status, "team": team, "channel": channel,
         "waiting_seconds": max(0, (as_of_us - t) // 1_000_000)}
        for t, cid, created, status, team, channel in waiting[:10]
    ]
    return {
        "new": counts["NEW"], "pending": counts["PENDING"], "open": len(rows),
        "oldest": oldest[0] if oldest else None, "oldest_list": oldest,
        "by_team": sorted(by_team.values(), key=lambda t: (-(t["new"] + t["pending"]), t["team"])),
    }


def responses_per_hour(rows: list[list[str]]) -> list[int]:
    """Responses per local hour of the reply ("To", already in the request's zone)."""
    to = HEADERS["agent_responses"].index("To")
    hours = [0] * 24
    for row in rows:
        if row[to]:
            hours[int(row[to][11:13])] += 1
    return hours
