"""Which stores each export scans, and how its rows are built, merged, sorted and headed.

Two shapes of report:
- *row reports* (one row per conversation, message or response): each scanned
  state yields ``(sort_key, row)`` and the coordinator only sorts;
- *aggregate reports* (per agent, team, contact, topic, ...): each scanned state
  yields ``(group_key, partial)``; partials are merged with ``merge`` (in the
  shard, then across shards) and ``finish`` turns each group into a row.
"""
from __future__ import annotations

import heapq
import tempfile
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Callable

import orjson

from exporters import catalog, contacts, conversations, csvfile, messages, people, presence, responses
from exporters.headers import HEADERS
from tables import conversation
from tables import people as owner_days
from tables.presence import agent_of

RUN_ROWS = 50_000  # rows a shard sorts in memory before it spills a sorted run to disk
_sort_key = itemgetter(0)

# How a table's stored values are read (default: one JSON document); a report may read them its own way.
TABLE_DECODE = {"owner_days": owner_days.decode_day_totals, "conversations": conversation.decode}


@dataclass(frozen=True)
class Report:
    export_type: str
    # table name -> (ctx, key, state) -> iterable of (sort_key, row) or (group_key, partial)
    sources: dict[str, Callable]
    merge: Callable | None = None  # (partial, partial) -> partial
    finish: Callable | None = None  # (ctx, group_key, partial) -> iterable of (sort_key, row)
    # table name -> key -> group: states of one group (an agent's presence days) are merged
    # (dict union) and passed to the source function once, under the group's key.
    group_by: dict[str, Callable] = field(default_factory=dict)
    # table name -> how this report reads that table's values, when not the table's usual decoding
    decode: dict[str, Callable] = field(default_factory=dict)

    @property
    def header(self) -> list[str]:
        return HEADERS[self.export_type]

    @property
    def aggregate(self) -> bool:
        return self.merge is not None


def decoder(report: Report, source: str) -> Callable:
    return report.decode.get(source) or TABLE_DECODE.get(source, orjson.loads)


def group_key(key):
    """Group keys travel as JSON: lists come back as lists; make them hashable again."""
    return tuple(key) if isinstance(key, list) else key


def combine(report: Report, items, into: dict | None = None) -> dict:
    """Merge (group_key, partial) items into {group_key: partial}."""
    groups = {} if into is None else into
    for key, partial in items:
        key = group_key(key)
        previous = groups.get(key)
        groups[key] = partial if previous is None else report.merge(previous, partial)
    return groups


def _items(report: Report, ctx, states):
    """What the report's source functions make of (source table, key, state) triples, grouped first
    where the report groups a table's states."""
    groups: dict[tuple, dict] = {}
    for source, key, state in states:
        group = report.group_by.get(source)
        if group is None:
            yield from report.sources[source](ctx, key, state)
        else:
            groups.setdefault((source, group(key)), {}).update(state)
    for (source, key), state in groups.items():
        yield from report.sources[source](ctx, key, state)


def shard_part(report: Report, ctx, states) -> list:
    """One shard's answer from its (source table, key, state) triples: rows sorted by their
    sort key, or partials already merged per group (``[[group_key, partial], ...]``)."""
    if report.aggregate:
        return [[k, v] for k, v in combine(report, _items(report, ctx, states)).items()]
    return sorted(_items(report, ctx, states), key=_sort_key)


def shard_lines(report: Report, ctx, states, run_rows: int = RUN_ROWS):
    """A row report's part as ``[sort_key, csv_line]`` pairs in sort order, in bounded memory.

    The rows are formatted as they are made. Up to ``run_rows`` of them are sorted
    in memory; a larger part is sorted in runs spilled to temporary files, then
    merged, so a shard of a million conversations holds one run at a time.
    """
    line = csvfile.line_formatter()
    run, runs = [], []
    try:
        for key, row in _items(report, ctx, states):
            run.append([key, line(row)])
            if len(run) >= run_rows:
                runs.append(spill(sorted(run, key=_sort_key)))
                run = []
        run.sort(key=_sort_key)
        if not runs:
            yield from run
            return
        runs.append(spill(run))
        yield from heapq.merge(*(read_run(f) for f in runs), key=_sort_key)
    finally:
        for f in runs:
            f.close()


def spill(items) -> IO[bytes]:
    """JSON lines in an anonymous temporary file (gone when closed), rewound for reading."""
    f = tempfile.TemporaryFile()
    append_run(f, items)
    f.seek(0)
    return f


def append_run(f: IO[bytes], items) -> None:
    dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    f.writelines(dumps(item, option=opt) for item in items)


def read_run(f: IO[bytes]):
    loads = orjson.loads
    for raw in f:
        yield loads(raw)


def merge_lines(runs):
    """Sorted ``[sort_key, line]`` runs (one per shard) merged into one sorted stream of lines."""
    for _, text in heapq.merge(*runs, key=_sort_key):
        yield text


def merge_parts(report: Report, ctx, parts) -> list:
    """Every shard's part merged into the report's (sort_key, row) pairs, in row order."""
    if report.aggregate:
        groups: dict = {}
        for part in parts:
            combine(report, part, groups)
        return sorted((r for key, partial in groups.items() for r in report.finish(ctx, key, partial)),
                      key=_sort_key)
    return sorted((r for part in parts for r in part), key=_sort_key)


REPORTS: dict[str, Report] = {
    r.export_type: r
    for r in (
        Report("conversations_resolved", {"conversations": conversations.resolved_rows},
               decode=conversations.DECODE),
        Report("conversations_open", {"conversations": conversations.open_rows}, decode=conversations.DECODE),
        Report("messages", {"conversations": messages.rows}),
        Report("agent_responses", {"conversations": responses.rows}),
        Report("agent_metrics", {"owner_days": people.agent_day_rows, "presence": people.presence_rows},
               group_by={"presence": agent_of},
               merge=people.merge, finish=people.agent_row),
        Report("teams", {"owner_days": people.team_day_rows}, merge=people.merge, finish=people.team_row),
        Report("agent_presence", {"presence": presence.rows}, group_by={"presence": agent_of}),
        Report("topics", {"conversations": catalog.topic_partials}, catalog.merge_counts, catalog.topic_finish),
        Report("tags", {"conversations": catalog.tag_partials}, catalog.tag_merge, catalog.tag_finish),
        Report("virtual_agents", {"conversations": catalog.virtual_agent_partials}, catalog.merge_counts,
               catalog.virtual_agent_finish),
        Report("contacts", {"conversations": contacts.contact_partials_from_conversation,
                            "contacts": contacts.contact_partials_from_contact},
               contacts.contact_merge, contacts.contact_finish),
        Report("contact_attributes", {"conversations": contacts.attribute_partials_from_conversation,
                                      "contacts": contacts.attribute_partials_from_contact},
               contacts.attribute_merge, contacts.attribute_finish),
    )
}
