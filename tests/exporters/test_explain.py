"""Explanations of a cell: their total is the exported cell, and every listed conversation really
brings what it says (without its events the export's cell moves by exactly that)."""
import functools
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convoflow.tools import simulate
from convoflow.contract.times import parse_time
from convoflow.exporters import csvfile
from convoflow.exporters.context import ReportContext
from convoflow.exporters.explain import (
    COLUMNS, CHANNEL_ROWS, ROW_IDS, NoRow, answer, csv_rows, find_report, parse_cell, report_name,
)
from convoflow.exporters.reports import REPORTS, merge_parts, shard_part
from convoflow.exporters.request import BadRequest, ExportRequest
from convoflow.tables import contact, people
from convoflow.tables.directory import Directory
from tests.exporters.helpers import json_round_trip, run, stored
from tests.exporters.test_against_model import fed_in_batches

EVENTS = simulate.generate(seed=11, agents=5, teams=2, conversations=50, days=2, start="2024-10-26T00:00:00Z")
AS_OF = "2024-10-28T06:00:00Z"
FIRST, LAST = "2024-10-26", "2024-10-27"


def build(events, seed):
    return fed_in_batches(events, random.Random(seed))


def context(pipeline, export_type, tz, channels):
    contacts = pipeline.tables["contacts"]
    req = ExportRequest("r", export_type, tz, FIRST, LAST, tuple(sorted(channels)), AS_OF)
    return ReportContext(req, parse_time(AS_OF), Directory(pipeline.tables["directory"]),
                         lambda c: contact.identifiers(contacts.get(c)))


def shards(pipeline, n, rng):
    """The pipeline's states spread over n shards; agent and team days with every conversation's partials."""
    out = pipeline.shards(n, rng)
    for shard in out:
        for key in shard.get("owner_days", {}):
            shard["owner_days"][key] = people.decode_day(pipeline.owner_days[key])
    return out


def explain(pipeline, cell, ctx, rng):
    report = find_report(report_name(cell))  # as a shard makes it from the request's name
    parts = []
    for shard in shards(pipeline, rng.randint(1, 3), rng):
        states = ((source, key, stored(report, source, state) if source == "conversations" else json_round_trip(state))
                  for source in report.sources for key, state in shard.get(source, {}).items())
        parts.append(json_round_trip(shard_part(report, ctx, states)))
    return answer(ctx, cell, merge_parts(report, ctx, parts))


def export_cell(pipeline, ctx, cell, rng):
    """The cell of the exported file (None: the export has no such row)."""
    header = REPORTS[cell.export_type].header
    rows = run(cell.export_type, ctx, pipeline.shards(rng.randint(1, 3), rng))
    for row in rows:
        if row[header.index(ROW_IDS[cell.export_type])] != cell.row:
            continue
        if cell.export_type in CHANNEL_ROWS and row[header.index("Channel")] != ctx.channel_cells(cell.row_channel or None)[1]:
            continue
        return row[header.index(cell.column)]
    return None


def rows_of(pipeline, ctx, export_type):
    """(row id as written, row channel) of every row the export writes."""
    report = REPORTS[export_type]
    states = ((source, key, stored(report, source, state)) for source in report.sources
              for key, state in pipeline.tables.get(source, {}).items())
    out = []
    for key, partial in shard_part(report, ctx, states):
        key = tuple(key) if isinstance(key, (list, tuple)) else (key,)
        if list(report.finish(ctx, key if len(key) > 1 else key[0], partial)):
            out.append((csvfile.text(key[0]), key[1] if export_type in CHANNEL_ROWS else None))
    return sorted(out)


def us(text: str, unit: str) -> int:
    if unit == "count":
        return int(text)
    whole, _, fraction = text.partition(".")
    return int(whole) * 1_000_000 + int(fraction.ljust(6, "0") or 0)


def formatted(cell, numerator: int, denominator: int | None) -> str:
    """The cell the report writes for these exact amounts."""
    if cell.spec.kind == "sum":
        return csvfile.seconds(numerator) if cell.spec.unit == "us" else str(numerator)
    if cell.column == "Utilization (%)":
        return csvfile.ratio(numerator, denominator, 100)
    if cell.spec.unit == "us":
        return csvfile.average_seconds(numerator, denominator)
    return csvfile.ratio(numerator, denominator)


def check_without(cell, explanation, line, events, seed, tz, channels, rng):
    """Remove the conversation's events: the exported cell is the explanation's amounts without its part."""
    cid = line["conversation_id"]
    rest = [e for e in events if e.get("conversation_id") != cid]
    pipeline = build(rest, seed)
    after = export_cell(pipeline, context(pipeline, cell.export_type, tz, channels), cell, rng)
    spec = cell.spec
    if spec.kind == "distinct":
        others = {v for c in explanation["conversations"] if c["conversation_id"] != cid for v in c["values"]}
        expected = str(len(others))
        assert after == expected or (after is None and not others), (cid, after, expected)
        return
    if spec.kind == "sum":
        total = sum(us(c["contribution"], spec.unit) for c in explanation["conversations"])
        total += sum(us(p["contribution"], spec.unit) for p in explanation.get("presence", []))
        expected = formatted(cell, total - us(line["contribution"], spec.unit), None)
        assert after == expected or (after is None and total == us(line["contribution"], spec.unit)), (cid, after, expected)
        return
    num = us(explanation["numerator"], spec.unit) - us(line["numerator"], spec.unit)
    den = us(explanation["denominator"], spec.denominator_unit) - us(line["denominator"], spec.denominator_unit)
    expected = formatted(cell, num, den)
    assert after == expected or (after is None and expected in ("", "0.00")), (cid, after, expected)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), duplicate_rate=st.sampled_from([0.0, 0.2]), window=st.sampled_from([0, 50, 10**6]),
       export_type=st.sampled_from(sorted(COLUMNS)), pick=st.integers(0, 10**6))
def test_the_total_is_the_exported_cell_and_each_conversation_brings_its_contribution(
        seed, duplicate_rate, window, export_type, pick):
    rng = random.Random(seed)
    events = simulate.disorder(EVENTS, seed=seed, duplicate_rate=duplicate_rate, window=window)
    pipeline = build(events, seed)
    tz = rng.choice(["Europe/Amsterdam", "Asia/Kathmandu", "America/New_York"])
    channels = rng.choice([[], ["ch-1"], ["ch-2", "ch-3"]])
    ctx = context(pipeline, export_type, tz, channels)
    rows = rows_of(pipeline, ctx, export_type)
    assume(rows)  # a channel filter may leave a report without rows
    row, row_channel = rows[pick % len(rows)]
    columns = sorted(COLUMNS[export_type])
    column = columns[pick // len(rows) % len(columns)]
    cell = parse_cell(export_type, row, column, row_channel)
    explanation = explain(pipeline, cell, ctx, rng)
    assert explanation["total"] == export_cell(pipeline, ctx, cell, rng)
    assert csv_rows(explanation)[-1][1] == csvfile.text(explanation["total"])
    if cell.spec.kind == "distinct":  # the distinct values the conversations bring are the cell
        brought = {v for c in explanation["conversations"] for v in c["values"]}
        assert str(len(brought)) == explanation["total"] == str(explanation["distinct_values"])
    for line in rng.sample(explanation["conversations"], min(2, len(explanation["conversations"]))):
        check_without(cell, explanation, line, events, seed, tz, channels, rng)


@functools.cache
def rich_pipeline():
    """A larger stream, where every column has contributions (every CSAT score, handovers due to errors...)."""
    return build(simulate.generate(seed=12, agents=5, teams=2, conversations=250, days=2, start="2024-10-26T00:00:00Z"), 1)


@pytest.mark.parametrize("export_type,column", [(t, c) for t in sorted(COLUMNS) for c in sorted(COLUMNS[t])])
def test_every_aggregate_column_is_explained_by_conversations_that_move_it(export_type, column):
    """Guards the property test: on the plain stream, each column has a row whose explanation lists
    contributors (conversations, or presence intervals for the presence times), and its total is the cell."""
    rng = random.Random(1)
    pipeline = rich_pipeline()
    ctx = context(pipeline, export_type, "Europe/Amsterdam", [])
    found = False
    for row, row_channel in rows_of(pipeline, ctx, export_type):
        cell = parse_cell(export_type, row, column, row_channel)
        explanation = explain(pipeline, cell, ctx, rng)
        if explanation["conversations"] or explanation.get("presence"):
            found = True
            assert explanation["total"] == export_cell(pipeline, ctx, cell, rng)
            break
    assert found, (export_type, column)


def test_handle_time_lists_each_conversation_in_exact_seconds_and_adds_up():
    rng = random.Random(2)
    pipeline = build(EVENTS, 2)
    ctx = context(pipeline, "agent_metrics", "UTC", [])
    best = None
    for row, _ in rows_of(pipeline, ctx, "agent_metrics"):
        e = explain(pipeline, parse_cell("agent_metrics", row, "Handle Time (s)"), ctx, rng)
        if best is None or len(e["conversations"]) > len(best["conversations"]):
            best = e
    assert len(best["conversations"]) >= 2
    exact = sum(us(c["contribution"], "us") for c in best["conversations"])
    assert csvfile.seconds(exact) == best["total"]
    for c in best["conversations"]:
        assert c["url"].endswith("/conversations/" + c["conversation_id"])
        assert c["counts_at"].startswith(("2024-10-26", "2024-10-27"))


def test_a_row_in_several_channels_needs_its_channel():
    pipeline = build(EVENTS, 3)
    ctx = context(pipeline, "topics", "UTC", [])
    rows = rows_of(pipeline, ctx, "topics")
    ids = [r for r, _ in rows]
    topic = next(r for r in ids if ids.count(r) > 1)
    with pytest.raises(BadRequest, match="several channels"):
        explain(pipeline, parse_cell("topics", topic, "Total Conversations"), ctx, random.Random(3))


def test_a_row_the_export_does_not_have():
    pipeline = build(EVENTS, 4)
    ctx = context(pipeline, "teams", "UTC", [])
    with pytest.raises(NoRow, match="no row 'team-nobody'"):
        explain(pipeline, parse_cell("teams", "team-nobody", "Replies"), ctx, random.Random(4))


@pytest.mark.parametrize("args,message", [
    (("messages", "m1", "Content"), "messages cannot be explained"),
    (("agent_metrics", "a1", "User Email Address"), "'User Email Address' of agent_metrics is not an aggregate"),
    (("teams", "t1", "Team Name"), "is not an aggregate of conversations"),
    (("teams", "t1", "Handle Time (s)"), "teams has no column 'Handle Time"),
    (("agent_metrics", "", "Replies"), "row is required"),
    (("agent_metrics", "a1", "Replies", "ch-1"), "row_channel applies to topics, tags, virtual_agents only"),
])
def test_bad_cells_get_a_specific_reason(args, message):
    with pytest.raises(BadRequest, match=message):
        parse_cell(*args)


def test_a_quoted_id_names_the_row_it_was_written_for():
    from convoflow.exporters.explain import keys_of, raw_ids

    assert raw_ids("'=a") == ["'=a", "=a"]
    assert raw_ids("'x") == ["'x"]  # a quote a cell would not add is part of the id
    keys = keys_of(parse_cell("agent_metrics", "'=a", "Replies"))
    assert ["prefix", "agent:=a|", "agent:=a"] in keys["owner_days"]
