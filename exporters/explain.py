"""Which conversations make one cell of an aggregate report, and what each of them brings.

Every aggregate report is a merge of per-conversation partials (agent and team
days keep each conversation's partials beside their totals; topics, tags,
virtual agents and contacts make one partial per conversation), so a cell can
be taken apart exactly: the explanation of (report, row, column) lists each
conversation whose partial moves that cell, and its total is the report's own
``finish`` applied to the merge of those very partials, so it is the exported
cell, character for character.

A shard runs an *explanation report* (``explanation_report``): the report's
rules on the states that can hold the row (an agent's or team's days and an
agent's presence, by key; every conversation for the other reports), one item
per contributor, ``(["c", conversation_id] | ["p", start, state], {"r": the
report's partial, "at": when it counts, "g": the row's group key})``. The
coordinator merges the shards' items and ``answer`` turns them into the
explanation.

How a column is taken apart (``COLUMNS``):
- a *sum* (durations, counts): each conversation's part; durations exact, in seconds;
- an *average* or a ratio: each conversation's part of the numerator and of the
  denominator (Utilization's denominator, the Available Time, comes from presence
  intervals, listed apart);
- a *distinct count* (Contacts Helped, Total Contacts): the value each conversation
  brings; several may bring the same one, which counts once.
Available Time and Away Time come from presence intervals only: their
explanation lists those intervals and no conversation.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Callable

import orjson

from convoflow.exporters import csvfile, people
from convoflow.exporters.context import ReportContext
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.lookups import LOOKUPS
from convoflow.exporters.reports import REPORTS, Report, group_key
from convoflow.exporters.request import BadRequest
from convoflow.tables import people as owner_days
from convoflow.tables.conversation import A_KIND, A_T, A_TARGET, A_VA, M_T, M_VA, S_T, S_VA
from convoflow.tables.presence import agent_of

REPORT_PREFIX = "explain:"


class NoRow(Exception):
    """The report has no such row for these parameters."""


# ------------------------------------------------------------------ how a column is taken apart


@dataclass(frozen=True)
class Column:
    kind: str  # "sum", "average" or "distinct"
    numerator: Callable[[dict], int] | None = None  # report partial -> its amount
    denominator: Callable[[dict], int] | None = None
    members: Callable[[dict], list] | None = None  # report partial -> the distinct values it brings
    unit: str = "count"  # of the numerator: "us" (written in seconds) or "count"
    denominator_unit: str = "count"


def _p(field: str) -> Callable[[dict], int]:
    return lambda r: r.get("p", {}).get(field, 0)


def _get(field: str) -> Callable[[dict], int]:
    return lambda r: r.get(field, 0)


def _total(*fields: str) -> Callable[[dict], int]:
    return lambda r: sum(r.get("p", {}).get(f, 0) for f in fields)


def _handled(r: dict) -> int:
    return len(r.get("p", {}).get("handled", {}))


def _contacts(r: dict) -> list:
    return sorted(r.get("p", {}).get("contacts", {}))


_SCORES = {f"CSAT with Score {k}": Column("sum", _p(f"csat{k}")) for k in range(1, 6)}
_DURATIONS = {"handle": Column("sum", _p("handle_us"), unit="us"),
              "no_reply": Column("sum", _p("no_reply_us"), unit="us"),
              "cherry": Column("sum", _p("cherry_us"), unit="us"),
              "average_handle": Column("average", _p("handle_us"), _handled, unit="us")}

COLUMNS: dict[str, dict[str, Column]] = {
    "agent_metrics": {
        "Available Time (s)": Column("sum", _get("av"), unit="us"),
        "Away Time (s)": Column("sum", _get("aw"), unit="us"),
        "Contacts Helped": Column("distinct", members=_contacts),
        "Avg. Handle Time (s)": _DURATIONS["average_handle"],
        "Handle Time (s)": _DURATIONS["handle"],
        "No-Reply Time (s)": _DURATIONS["no_reply"],
        "Cherry-Picking Time (s)": _DURATIONS["cherry"],
        "Replies": Column("sum", _p("replies")),
        "Resolves - With Reply": Column("sum", _p("resolved_with_reply")),
        "Resolves - No Reply": Column("sum", _p("resolved_no_reply")),
        "Tags Added": Column("sum", _p("tags")),
        "Topics Added": Column("sum", _p("topics")),
        "Utilization (%)": Column("average", _total("handle_us", "no_reply_us", "cherry_us"), _get("av"),
                                  unit="us", denominator_unit="us"),
        **_SCORES,
    },
    "teams": {
        "Resolves with Reply": Column("sum", _p("resolved_with_reply")),
        "Resolves without Reply": Column("sum", _p("resolved_no_reply")),
        "Average First Response Time": Column("average", _p("first_response_us"), _p("first_responses"), unit="us"),
        "Average Resolution Time": Column("average", _p("resolution_us"), _p("resolutions_timed"), unit="us"),
        "Total Handle Time": _DURATIONS["handle"],
        "Total No-Reply Time": _DURATIONS["no_reply"],
        "Total Cherry-Picking Time": _DURATIONS["cherry"],
        "Average Handle Time": _DURATIONS["average_handle"],
        "Contacts Helped": Column("distinct", members=_contacts),
        **_SCORES,
        "Tags Added": Column("sum", _p("tags")),
        "Topics Added": Column("sum", _p("topics")),
        "Replies": Column("sum", _p("replies")),
    },
    "topics": {
        "Total Conversations": Column("sum", _get("c")),
        "Total Current Conversations": Column("sum", _get("cur")),
    },
    "tags": {
        "Total Contacts": Column("distinct", members=lambda r: list(r.get("k", ()))),
        "Total Messages": Column("sum", _get("m")),
        "Total Current Messages": Column("sum", _get("cur")),
    },
    "virtual_agents": {
        "Total Conversations": Column("sum", _get("conv")),
        "Handover to Agent": Column("sum", _get("handover")),
        "Handover due to Error": Column("sum", _get("error")),
        "Resolved": Column("sum", _get("resolved")),
        "Total Conversations with Topic": Column("sum", _get("topics")),
        "Total Messages Tagged": Column("sum", _get("tagged")),
        "The number of messages that have been tagged overall": Column("average", _get("tags"), _get("tagged")),
    },
    "contacts": {
        "Number of Conversations": Column("sum", _get("n")),
        "Number of Inbound Messages": Column("sum", _get("i")),
        "Number of Outbound Messages": Column("sum", _get("o")),
    },
}

ROW_IDS = {"agent_metrics": "User ID", "teams": "Team ID", "topics": "Topic ID", "tags": "Tag ID",
           "virtual_agents": "Agent ID", "contacts": "Contact Profile ID"}
CHANNEL_ROWS = ("topics", "tags", "virtual_agents")  # rows per (id, conversation's channel)


@dataclass(frozen=True)
class Cell:
    export_type: str
    row: str  # the row's id as the export writes it
    column: str
    row_channel: str | None = None  # topics, tags, virtual agents: the channel id of the row ("" = none)

    @property
    def spec(self) -> Column:
        return COLUMNS[self.export_type][self.column]


def parse_cell(export_type: str, row, column, row_channel=None) -> Cell:
    """A cell to explain, checked; BadRequest with a specific reason otherwise."""
    if export_type not in COLUMNS:
        raise BadRequest(f"{export_type} cannot be explained: explain works on the aggregate reports "
                         f"{', '.join(COLUMNS)}")
    if not isinstance(row, str) or not row:
        raise BadRequest(f"row is required: the row's {ROW_IDS[export_type]} as the export writes it")
    if not isinstance(column, str) or not column:
        raise BadRequest(f"column is required: a column header of {export_type}, e.g. "
                         f"{next(iter(COLUMNS[export_type]))!r}")
    if column not in HEADERS[export_type]:
        raise BadRequest(f"{export_type} has no column {column!r:.80}; explainable columns: "
                         f"{', '.join(COLUMNS[export_type])}")
    if column not in COLUMNS[export_type]:
        raise BadRequest(f"{column!r} of {export_type} is not an aggregate of conversations, there is nothing to "
                         f"explain; explainable columns: {', '.join(COLUMNS[export_type])}")
    if row_channel is not None and export_type not in CHANNEL_ROWS:
        raise BadRequest(f"row_channel applies to {', '.join(CHANNEL_ROWS)} only (their rows are per channel)")
    if row_channel is not None and not isinstance(row_channel, str):
        raise BadRequest("row_channel must be a channel id")
    return Cell(export_type, row, column, row_channel)


def _is_row(row: str, raw_id: str | None) -> bool:
    """Does an id name the row, written as the export writes it (or as it is)?"""
    return raw_id is not None and (raw_id == row or csvfile.text(raw_id) == row)


def raw_ids(row: str) -> list[str]:
    """The ids that an export writes as ``row``: itself, and without the leading quote a cell may have."""
    ids = [row]
    if row.startswith("'") and csvfile.text(row[1:]) == row:
        ids.append(row[1:])
    return ids


def keys_of(cell: Cell) -> dict | None:
    """The keys an explanation reads (``store_states``' {table: [[kind, key, routing key]]}), or None: every
    conversation, in every partition."""
    if cell.export_type == "agent_metrics":
        ids = raw_ids(cell.row)
        return {"owner_days": [["prefix", f"agent:{i}|", f"agent:{i}"] for i in ids],
                "presence": [["prefix", f"{i}|", i] for i in ids]}
    if cell.export_type == "teams":
        return {"owner_days": [["prefix", f"team:{i}|", f"team:{i}"] for i in raw_ids(cell.row)]}
    return None


# ------------------------------------------------------------------ the shards' part


def _owner_source(kind: str, cell: Cell):
    def source(ctx: ReportContext, key: str, record: dict):
        found = people.owner_day(ctx, kind, key)
        if found is None or not _is_row(cell.row, found[0]):
            return
        for cid, partials in record["c"].items():
            total, first = owner_days.partials_in_range(partials, ctx.start_us, ctx.end_us, ctx.channels)
            if total:
                yield ["c", cid], {"r": {"p": total}, "at": first, "g": found[0]}

    return source


def _presence_source(cell: Cell):
    def source(ctx: ReportContext, agent_id: str, state: dict):
        if not _is_row(cell.row, agent_id):
            return
        for start, stop, kind, overlap in people.presence_overlaps(ctx, state):
            yield ["p", start, kind], {"r": people.presence_partial(kind, overlap), "at": max(start, ctx.start_us),
                                       "to": min(stop, ctx.end_us), "g": agent_id}

    return source


def _first(times) -> int | None:
    return min(times, default=None)


def _topic_at(ctx: ReportContext, state: dict, topic_id: str, partial: dict) -> int | None:
    return _first(a[A_T] for a in state.get("a", {}).values()
                  if a[A_KIND] == "topic.applied" and a[A_TARGET] == topic_id and ctx.in_range(a[A_T]))


def _tag_at(ctx: ReportContext, state: dict, tag_id: str, partial: dict) -> int | None:
    return _first(a[A_T] for a in state.get("a", {}).values()
                  if a[A_KIND] == "tag.applied" and a[A_TARGET] == tag_id and ctx.in_range(a[A_T]))


def _virtual_agent_at(ctx: ReportContext, state: dict, va: str, partial: dict) -> int | None:
    times = [f[t] for part, t, v in (("m", M_T, M_VA), ("s", S_T, S_VA), ("a", A_T, A_VA))
             for f in state.get(part, {}).values() if f[v] == va and ctx.in_range(f[t])]
    return _first(times)


def _contact_at(ctx: ReportContext, state: dict, contact_id: str, partial: dict) -> int | None:
    return partial.get("f")  # the contact's first message in R in this conversation


# When a conversation's contribution counts: (ctx, state, row id, its partial) -> time or None
_WHEN = {"topics": _topic_at, "tags": _tag_at, "virtual_agents": _virtual_agent_at, "contacts": _contact_at}


def _conversation_source(cell: Cell, rule: Callable):
    """The report's own rule for one conversation, kept where it makes the row."""
    when = _WHEN[cell.export_type]

    def source(ctx: ReportContext, cid: str, state: dict):
        for key, partial in rule(ctx, cid, state):
            ident, channel = (key[0], key[1]) if isinstance(key, list) else (key, None)
            if not _is_row(cell.row, ident) or (cell.row_channel is not None and channel != cell.row_channel):
                continue
            yield ["c", cid], {"r": partial, "at": when(ctx, state, ident, partial), "g": key}

    return source


def explanation_report(cell: Cell) -> Report:
    """The shards' report for one cell: its contributors, one item each (see the module's doc)."""
    report = REPORTS[cell.export_type]
    decode: dict = {}
    group_by: dict = {}
    if cell.export_type in ("agent_metrics", "teams"):
        kind = "agent" if cell.export_type == "agent_metrics" else "team"
        sources = {"owner_days": _owner_source(kind, cell)}
        decode["owner_days"] = owner_days.decode_day  # each conversation's partials, not only the totals
        if kind == "agent":
            sources["presence"] = _presence_source(cell)
            group_by["presence"] = agent_of
    else:
        sources = {"conversations": _conversation_source(cell, report.sources["conversations"])}

    def merge(a: dict, b: dict) -> dict:
        at = [t for t in (a.get("at"), b.get("at")) if t is not None]
        return {**a, "r": report.merge(a["r"], b["r"]), "at": min(at) if at else None}

    def finish(ctx: ReportContext, key, item: dict):
        yield list(key), item

    return Report(report_name(cell), sources, merge, finish, group_by=group_by, decode=decode)


def report_name(cell: Cell) -> str:
    """How a shard request names an explanation report (shards make it again with ``find_report``)."""
    return REPORT_PREFIX + orjson.dumps([cell.export_type, cell.row, cell.column, cell.row_channel]).decode()


def find_report(name: str) -> Report:
    """A report a shard request names: an export, a lookup or an explanation."""
    found = REPORTS.get(name) or LOOKUPS.get(name)
    if found is not None:
        return found
    if not name.startswith(REPORT_PREFIX):
        raise KeyError(f"no report {name!r:.80}")
    export_type, row, column, row_channel = orjson.loads(name[len(REPORT_PREFIX):])
    return explanation_report(Cell(export_type, row, column, row_channel))


# ------------------------------------------------------------------ the answer


def exact(amount: int, unit: str) -> str:
    """An amount as a contribution is shown: a count as it is; microseconds in seconds, exactly."""
    if unit == "count":
        return str(amount)
    whole, fraction = divmod(abs(amount), 1_000_000)
    text = f"{whole}.{fraction:06d}".rstrip("0").rstrip(".")
    return f"-{text}" if amount < 0 else text


def answer(ctx: ReportContext, cell: Cell, items: list) -> dict:
    """The explanation from the merged items of every shard: ``total`` (the cell as the export writes it)
    and ``conversations`` (one object per contributing conversation; ``presence`` for presence intervals)."""
    report = REPORTS[cell.export_type]
    groups: dict = {}
    for key, item in items:
        groups.setdefault(group_key(item["g"]), []).append((key, item))
    if len(groups) > 1 and cell.export_type in CHANNEL_ROWS:
        channels = ", ".join(repr(g[1]) for g in sorted(groups))
        raise BadRequest(f"{cell.export_type} has rows for {cell.row} in several channels ({channels}): "
                         f"give row_channel (a channel id; '' for conversations without a channel)")
    if len(groups) > 1:
        raise BadRequest(f"{cell.row!r} names several rows of {cell.export_type}: give the id as the export writes it")
    if not groups:
        raise NoRow(f"{cell.export_type} has no row {cell.row!r} for these parameters")
    ((g, members),) = groups.items()
    # A report's merge may add into its first argument: the members are listed one by one below.
    merged = reduce(report.merge, (orjson.loads(orjson.dumps(item["r"])) for _, item in members))
    rows = list(report.finish(ctx, g, merged))
    if not rows:
        raise NoRow(f"{cell.export_type} has no row {cell.row!r} for these parameters")
    spec = cell.spec
    total = rows[0][1][report.header.index(cell.column)]
    out = {
        "export_type": cell.export_type, "row": cell.row, "column": cell.column, "kind": spec.kind,
        "time_zone": ctx.request.time_zone, "from": ctx.request.date_from, "to": ctx.request.date_to,
        "channels": list(ctx.request.channels), "as_of": ctx.ts(ctx.as_of_us),
        "total": total,
    }
    if cell.export_type in CHANNEL_ROWS:
        out["row_channel"] = g[1]
    if spec.kind == "average":
        out["numerator"] = exact(spec.numerator(merged), spec.unit)
        out["denominator"] = exact(spec.denominator(merged), spec.denominator_unit)
    elif spec.kind == "distinct":
        out["distinct_values"] = len(spec.members(merged))
    lines, intervals = [], []
    for key, item in sorted(members, key=lambda m: (m[1].get("at") is None, m[1].get("at") or 0, m[0])):
        line = _line(spec, item["r"])
        if line is None:
            continue
        if key[0] == "p":
            intervals.append({"state": key[2], "from": ctx.ts(item["at"]), "to": ctx.ts(item["to"]), **line})
        else:
            cid = key[1]
            url = ctx.url_template.replace("{conversation_id}", cid)
            lines.append({"conversation_id": cid, **line, "counts_at": ctx.ts(item["at"]) if item.get("at") else "",
                          "url": url})
    out["conversations"] = lines
    if cell.export_type == "agent_metrics":
        out["presence"] = intervals
    return out


def _line(spec: Column, r: dict) -> dict | None:
    """What one contributor brings to the column, or None when it brings nothing."""
    if spec.kind == "distinct":
        values = spec.members(r)
        return {"contribution": ";".join(values), "values": values} if values else None
    num = spec.numerator(r)
    if spec.kind == "sum":
        return {"contribution": exact(num, spec.unit)} if num else None
    den = spec.denominator(r)
    if not num and not den:
        return None
    n, d = exact(num, spec.unit), exact(den, spec.denominator_unit)
    return {"contribution": f"{n} / {d}", "numerator": n, "denominator": d}


CSV_HEADER = ["Conversation ID", "Contribution", "Numerator", "Denominator", "Counts At", "Conversation URL"]


def csv_rows(explanation: dict) -> list[list[str]]:
    """The explanation as CSV rows (after ``CSV_HEADER``): its conversations, the presence intervals
    (as "presence <state> <from> - <to>"), then the total."""
    rows = [[csvfile.text(c["conversation_id"]), csvfile.text(c["contribution"]), c.get("numerator", ""),
             c.get("denominator", ""), c["counts_at"], csvfile.text(c["url"])]
            for c in explanation["conversations"]]
    rows += [[f"presence {p['state']} {p['from']} - {p['to']}", p["contribution"], p.get("numerator", ""),
              p.get("denominator", ""), p["from"], ""] for p in explanation.get("presence", [])]
    rows.append(["Total", csvfile.text(explanation["total"]), explanation.get("numerator", ""),
                 explanation.get("denominator", ""), "", ""])
    return rows
