"""Hand-made events, a directory, and a report run the way the workers run it (shards, JSON, merge)."""
import orjson

from convoflow.contract.times import parse_time
from convoflow.exporters import csvfile
from convoflow.exporters.reports import REPORTS, decoder, merge_parts, shard_lines, shard_part
from convoflow.exporters.runs import merge_lines
from convoflow.tables import conversation
from convoflow.tables import directory
from convoflow.tables.directory import Directory

_n = iter(range(10**9))


def ev(typ, when, **fields):
    e = {"type": typ, "event_id": fields.pop("event_id", f"e{next(_n):06d}"), "occurred_at": when}
    e["t"] = parse_time(when)
    e.update({k: v for k, v in fields.items() if v is not None})
    return e


def make_directory(events) -> Directory:
    entries = {}
    for e in events:
        key = directory.entity_key(e)
        new = directory.merge(entries.get(key), e)
        if new is not None:
            entries[key] = new
    return Directory(entries)


def json_round_trip(value):
    return orjson.loads(orjson.dumps(value))


def stored(report, source, state):
    """A state as the report reads it back from the store (conversations are stored with their summary,
    kept again as the value's head for the reports that read heads; a state given as bytes is the
    stored value)."""
    if source == "conversations":
        value = conversation.encode(state)
        return decoder(report, source)(conversation.head(value) if source in report.heads else value)
    if isinstance(state, bytes):
        return decoder(report, source)(state)
    return json_round_trip(state)


def run(export_type, ctx, shards):
    """shards: [{table: {key: state}}]; each shard's part and the states travel as JSON, as between workers.

    A row report is also run the way an export writes it (shards' sorted runs of CSV lines, with
    at most 5 rows out of order in a run, merged); the lines must be the rows, exactly.
    """
    report = REPORTS[export_type]

    def states(shard):  # as a shard scans them: only the report's key prefix of a table, when it has one
        return ((source, key, stored(report, source, state)) for source in report.sources
                for key, state in shard.get(source, {}).items() if key.startswith(report.prefixes.get(source, "")))

    parts = [json_round_trip(shard_part(report, ctx, states(shard))) for shard in shards]
    rows = [r[1] for r in merge_parts(report, ctx, parts)]
    if not report.aggregate:
        runs: dict[tuple, list] = {}
        for i, shard in enumerate(shards):
            for run, item in shard_lines(report, ctx, states(shard), run_rows=5):
                runs.setdefault((i, run), []).append(item)
        runs = [json_round_trip(items) for items in runs.values()]
        line = csvfile.line_formatter()
        assert list(merge_lines(runs)) == [line(row) for row in rows]
    return rows
