"""Hand-made events, a directory, and a report run the way the workers run it (shards, JSON, merge)."""
import orjson

from convoflow.events import parse_time
from exporters.reports import REPORTS, merge_parts, shard_part
from tables import directory
from tables.directory import Directory

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


def run(export_type, ctx, shards):
    """shards: [{table: {key: state}}]; each shard's part and the states travel as JSON, as between workers."""
    report = REPORTS[export_type]
    parts = [
        json_round_trip(shard_part(report, ctx, (
            (source, key, json_round_trip(state)) for source in report.sources for key, state in shard.get(source, {}).items()
        )))
        for shard in shards
    ]
    return [r[1] for r in merge_parts(report, ctx, parts)]
