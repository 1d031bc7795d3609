"""Which stores each export scans, and how its rows are built, merged, sorted and headed.

Two shapes of report:
- *row reports* (one row per conversation, message or response): each scanned
  state yields ``(sort_key, row)`` and the coordinator only sorts;
- *aggregate reports* (per agent, team, contact, topic, ...): each scanned state
  yields ``(group_key, partial)``; partials are merged with ``merge`` (in the
  shard, then across shards; ``settle``, when a report has it, compacts each
  group's partial as it leaves its shard) and ``finish`` turns each group into a row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Callable

import orjson

from convoflow.exporters import catalog, contacts, conversations, csvfile, messages, people, presence, responses
from convoflow.exporters.headers import HEADERS
from convoflow.tables import conversation
from convoflow.tables import people as owner_days
from convoflow.tables.presence import agent_of

RUN_ROWS = 50_000  # rows out of order that a shard sorts in memory before it sends them as a run
_sort_key = itemgetter(0)
_source_of = itemgetter(0)  # of a (table, key, state) triple

# How a table's stored values are read (default: one JSON document); a report may read them its own way.
TABLE_DECODE = {"owner_days": owner_days.decode_day_totals, "conversations": conversation.decode}


@dataclass(frozen=True)
class Fold:
    """A report's reading of a whole table, in place of a function per state: ``(ctx, states)`` ->
    ``(group_key, partial)`` items, where ``states`` are the shard's ``(key, state)`` of that table in
    key order (for a report that adds up runs of keys of one group as they come)."""
    fold: Callable

    def __call__(self, ctx, states):
        return self.fold(ctx, states)


@dataclass(frozen=True)
class Report:
    export_type: str
    # table name -> (ctx, key, state) -> iterable of (sort_key, row) or (group_key, partial); or a Fold
    sources: dict[str, Callable]
    merge: Callable | None = None  # (partial, partial) -> partial
    finish: Callable | None = None  # (ctx, group_key, partial) -> iterable of (sort_key, row)
    # table name -> key -> group: states of one group (an agent's presence days) are merged
    # (dict union) and passed to the source function once, under the group's key.
    group_by: dict[str, Callable] = field(default_factory=dict)
    # table name -> how this report reads that table's values, when not the table's usual decoding
    decode: dict[str, Callable] = field(default_factory=dict)
    # tables of which the report reads only the heads of the values, which their store keeps
    # again (a conversation's summary: ``streams/state/partition.py``), decoded with ``decode``
    heads: frozenset = frozenset()
    # table name -> the key prefix of the only states of that table the report reads (the others
    # are not even read from the store); its source functions still check every key they get
    prefixes: dict[str, str] = field(default_factory=dict)
    # (partial) -> partial: what a group's partial, merged in its shard, becomes as it leaves the
    # shard, for a report whose count maps of a group all come from one shard (exporters/people.py)
    settle: Callable | None = None
    # About what scanning one stored key costs, against a conversations_resolved row (which reads
    # only the conversation's summary): a report that decodes whole conversations and makes a row
    # per message costs about twelve times as much. Whether a shard goes to an export helper
    # counts a partition's keys times this (streams/scan_process.py).
    key_cost: int = 1

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
    for source, triples in groupby(states, key=_source_of):
        read = report.sources[source]
        group = report.group_by.get(source)
        if isinstance(read, Fold):
            yield from read(ctx, ((key, state) for _, key, state in triples))
        elif group is None:
            for _, key, state in triples:
                yield from read(ctx, key, state)
        else:
            for _, key, state in triples:
                groups.setdefault((source, group(key)), {}).update(state)
    for (source, key), state in groups.items():
        yield from report.sources[source](ctx, key, state)


def _as_it_is(partial):
    return partial


def shard_part(report: Report, ctx, states) -> list:
    """One shard's answer from its (source table, key, state) triples: rows sorted by their
    sort key, or partials already merged per group (``[[group_key, partial], ...]``)."""
    if report.aggregate:
        settle = report.settle or _as_it_is
        return [[k, settle(v)] for k, v in combine(report, _items(report, ctx, states)).items()]
    return sorted(_items(report, ctx, states), key=_sort_key)


def shard_lines(report: Report, ctx, states, run_rows: int = RUN_ROWS):
    """A row report's part as ``(run, [sort_key, csv_line])``: each run in sort order, in bounded
    memory, for the coordinator to merge.

    A store is scanned in key order, and most reports' sort keys follow it (the
    conversations reports sort by the conversation ID, the store's key), so run 0
    takes every row that comes in order and goes out as it is made: no sort, no
    spill. A row that comes out of order (an ID a spreadsheet would execute sorts
    as written, with its leading quote; a report sorted by something else) waits
    with the others like it, and every ``run_rows`` of them go out sorted as a run
    of their own.
    """
    line = csvfile.line_formatter()
    last, waiting, run = None, [], 1
    for key, row in _items(report, ctx, states):
        item = [key, line(row)]
        if last is None or key >= last:
            last = key
            yield 0, item
            continue
        waiting.append(item)
        if len(waiting) >= run_rows:
            waiting.sort(key=_sort_key)
            for item in waiting:
                yield run, item
            waiting, run = [], run + 1
    waiting.sort(key=_sort_key)
    for item in waiting:
        yield run, item


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
               decode=conversations.DECODE, heads=conversations.HEADS),
        Report("conversations_open", {"conversations": conversations.open_rows}, decode=conversations.DECODE,
               heads=conversations.HEADS),
        Report("messages", {"conversations": messages.rows}, key_cost=12),
        Report("agent_responses", {"conversations": responses.rows}, key_cost=2),
        Report("agent_metrics", {"owner_days": Fold(people.agent_days), "presence": people.presence_rows},
               group_by={"presence": agent_of}, merge=people.merge, finish=people.agent_row,
               settle=people.settle, prefixes={"owner_days": "agent:"}),
        Report("teams", {"owner_days": Fold(people.team_days)}, merge=people.merge, finish=people.team_row,
               settle=people.settle, prefixes={"owner_days": "team:"}),
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
