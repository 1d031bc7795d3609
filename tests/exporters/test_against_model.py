"""The pure pipeline (the rules the agents apply, batch by batch, then shard parts merged)
against the reference model, for every report, whatever the order, duplicates and batching."""
import csv
import io
import random
from collections import defaultdict

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.tools import simulate
from convoflow.contract.events import parse_record, topic_of
from convoflow.contract.times import parse_time
from convoflow.exporters import csvfile
from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import ExportRequest
from convoflow.tables import contact, conversation, directory, people, presence
from convoflow.tables.directory import Directory
from tests.exporters.helpers import json_round_trip, run
from tests.reference import model

EVENTS = simulate.generate(seed=5, agents=6, teams=2, conversations=60, days=2, start="2024-10-26T00:00:00Z")


class Pipeline:
    """What the agents keep, fed in batches; contributions travel as the agents send them."""

    def __init__(self, per_record: int = people.CONVERSATIONS_PER_RECORD):
        self.tables = defaultdict(dict)  # table -> key -> state
        self.index = {}  # owner_conversations: key -> the stored bytes
        self.owner_days = {}  # key -> the stored bytes (reports see only the decoded totals)
        self.per_record = per_record

    def feed(self, batch):
        per_conversation = defaultdict(list)
        for e in batch:
            e = parse_record(topic_of(e["type"]), orjson.dumps(e))
            kind = topic_of(e["type"])
            if kind == "directory":
                key = directory.entity_key(e)
                new = directory.merge(self.tables["directory"].get(key), e)
                if new is not None:
                    self.tables["directory"][key] = new
            elif kind == "presence":
                presence.apply(self.tables["presence"].setdefault(presence.day_key(e["agent_id"], e["t"]), {}), e)
            elif kind == "contact-attributes":
                contact.apply_attribute(self.tables["contacts"].setdefault(e["contact_profile_id"], {}), e)
            else:
                per_conversation[e["conversation_id"]].append(e)
        for cid, items in per_conversation.items():
            state = self.tables["conversations"].setdefault(cid, {})
            for e in items:
                conversation.apply(state, e)
            maps = people.contributions(cid, state)
            for owner in set(state.get("_owners", [])) | maps.keys():
                self.receive(owner, cid, maps.get(owner, {}))
            state["_owners"] = sorted(set(state.get("_owners", [])) | maps.keys())
            for c in contact.conversation_contributions(cid, state.get("m", {}).values()):
                contact.apply_conversation(self.tables["contacts"].setdefault(c["c"], {}), c)

    def receive(self, owner, cid, new):
        placed, records = people.owner_updates(owner, {cid: json_round_trip(new)}, self.index.get,
                                               self.owner_days.get, self.per_record)
        self.index.update(placed)
        for key, record in records.items():
            self.owner_days[key] = people.encode_day(record)
            self.tables["owner_days"][key] = self.owner_days[key]  # read as a report reads it

    def shards(self, n, rng):
        """The states spread over n shards at random, except that an owner's days share a shard, as
        they share the owner's partition (``people-updates`` is keyed by the owner)."""
        shards = [defaultdict(dict) for _ in range(n)]
        owners: dict[str, int] = {}
        for table, states in self.tables.items():
            for key, state in states.items():
                if table == "owner_days":
                    shard = owners.setdefault(key.rsplit("|", 2)[0], rng.randrange(n))
                else:
                    shard = rng.randrange(n)
                shards[shard][table][key] = state
        return shards


def fed_in_batches(events, rng) -> "Pipeline":
    """A pipeline fed the events in batches of random sizes, as agents get them; an owner's day is split
    into records of a random bound (the smaller, the more records a report adds up)."""
    pipeline = Pipeline(per_record=rng.choice([1, 3, people.CONVERSATIONS_PER_RECORD]))
    i = 0
    while i < len(events):
        size = rng.choice([1, 7, 50, 400])
        pipeline.feed(events[i:i + size])
        i += size
    return pipeline


def export(pipeline, export_type, tz, first, last, channels, as_of, rng):
    directory_ = Directory(pipeline.tables["directory"])
    contacts = pipeline.tables["contacts"]
    req = ExportRequest("r", export_type, tz, first, last, tuple(sorted(channels)), as_of)
    ctx = ReportContext(req, parse_time(as_of), directory_, lambda c: contact.identifiers(contacts.get(c)))
    rows = run(export_type, ctx, pipeline.shards(rng.randint(1, 4), rng))
    return csvfile.encode(REPORTS[export_type].header, rows)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), duplicate_rate=st.sampled_from([0.0, 0.2]), window=st.sampled_from([0, 50, 10**6]))
def test_every_report_equals_the_model_in_any_order(seed, duplicate_rate, window):
    rng = random.Random(seed)
    events = simulate.disorder(EVENTS, seed=seed, duplicate_rate=duplicate_rate, window=window)
    pipeline = fed_in_batches(events, rng)
    tz = rng.choice(["Europe/Amsterdam", "Asia/Kathmandu", "America/New_York"])
    channels = rng.choice([[], ["ch-1"], ["ch-2", "ch-3"]])
    as_of = "2024-10-28T06:00:00Z"
    for export_type in sorted(REPORTS):
        expected = model.report(EVENTS, export_type, tz, "2024-10-26", "2024-10-27", channels=channels, as_of=as_of)
        assert export(pipeline, export_type, tz, "2024-10-26", "2024-10-27", channels, as_of, rng) == expected, export_type


@pytest.mark.parametrize("export_type", sorted(REPORTS))
def test_reports_are_not_empty_for_this_stream(export_type):
    """Guards the property test: a comparison of two empty files would prove nothing."""
    body = model.report(EVENTS, export_type, "Europe/Amsterdam", "2024-10-26", "2024-10-27", as_of="2024-10-28T06:00:00Z")
    assert body.count(b"\r\n") > 1


def _tied(eid: str, typ: str, at: str, **fields) -> dict:
    return {"event_id": f"tie-{eid}", "type": typ, "occurred_at": f"2024-07-18T{at}Z", **fields}


def _replied(cid: str, team: str, agent: str, reply_at: str) -> list[dict]:
    """A conversation with an inbound and its NEW change at 10:00:00, and a reply ``h`` at ``reply_at``."""
    return [
        _tied(f"{cid}-in", "message.created", "10:00:00", conversation_id=cid, message_id="in", channel_id="ch-1",
              contact_profile_id=f"cp-{cid}", direction="INBOUND", message_type="TEXT"),
        _tied(f"{cid}-new", "conversation.status_changed", "10:00:00", conversation_id=cid, status="NEW",
              started_by="CONTACT_MESSAGE", inbound_message_id="in"),
        _tied(f"{cid}-h", "message.created", reply_at, conversation_id=cid, message_id="h", channel_id="ch-1",
              contact_profile_id=f"cp-{cid}", direction="OUTBOUND", message_type="TEXT", agent_id=agent, team_id=team),
    ]


# Time cells written as the same second, whose fractions are in the order opposite to the next
# cells': the cells as written decide, not the instants the file does not show.
TIES = [
    _tied("t-b", "team.upserted", "08:00:00", team_id="t-b", created_at="2024-07-18T09:00:00.1Z"),
    _tied("t-a", "team.upserted", "08:00:00", team_id="t-a", created_at="2024-07-18T09:00:00.9Z"),
    # the same message_id "h" in both: Message ID, then Created at (a tie), then Conversation ID
    *_replied("c-b", "t-b", "a-1", "10:00:05.1"),
    *_replied("c-a", "t-a", "a-2", "10:00:05.8"),
    # a-1 goes Away and, within the same second, Available: From ties, then Type decides
    _tied("p-1", "presence.changed", "11:00:00.2", agent_id="a-1", state="AWAY", away_state="Break"),
    _tied("p-2", "presence.changed", "11:00:00.6", agent_id="a-1", state="AVAILABLE"),
]


@pytest.mark.parametrize("export_type, column, expected", [
    ("teams", "Team ID", ["t-a", "t-b"]),  # Created At 09:00:00 for both
    ("agent_responses", "Conversation ID", ["c-a", "c-b"]),  # To 10:00:05 for both
    ("messages", "Conversation ID", ["c-a", "c-b", "c-a", "c-b"]),  # "h" (10:00:05) twice, then "in" twice
    ("agent_presence", "Type", ["Available", "Away"]),  # From 11:00:00 for both
])
def test_time_cells_in_the_same_second_order_rows_as_written(export_type, column, expected):
    pipeline = Pipeline()
    pipeline.feed(TIES)
    as_of = "2024-07-18T12:00:00Z"
    body = export(pipeline, export_type, "UTC", "2024-07-18", "2024-07-18", [], as_of, random.Random(7))
    assert body == model.report(TIES, export_type, "UTC", "2024-07-18", "2024-07-18", as_of=as_of)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r[column] for r in rows] == expected
