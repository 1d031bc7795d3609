"""Live lookups over HTTP, from any worker, agree with the CSV rows."""
import asyncio
import csv
import io
import json
import urllib.parse

import pytest

from convoflow.tools import simulate
from tests.integration.harness import workers_running

FIRST, LAST, AS_OF = "2024-07-15", "2024-07-17", "2024-07-18T06:00:00Z"


@pytest.fixture(scope="module")
def deployment2(broker, tmp_path_factory):
    with workers_running(tmp_path_factory.mktemp("lookups"), workers=2) as d:
        events = simulate.generate(seed=31, agents=8, teams=3, conversations=150, days=3)
        d.publish(simulate.disorder(events, seed=2, duplicate_rate=0.1, window=200))
        yield d, events


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def get_json(worker, path):
    status, body = worker.get(path)
    return status, json.loads(body)


@pytest.mark.parametrize("export_type,kind,id_column", [("agent_metrics", "agents", "User ID"), ("teams", "teams", "Team ID")])
def test_metrics_lookup_equals_csv_row_from_every_worker(deployment2, export_type, kind, id_column):
    d, _ = deployment2
    channel = "ch-1"
    result, body = d.export(export_type, "Asia/Kathmandu", FIRST, LAST, channels=[channel])
    rows = csv_rows(body)
    assert rows, "the scenario must produce rows"
    query = urllib.parse.urlencode({"tz": "Asia/Kathmandu", "from": FIRST, "to": LAST, "channel": channel})
    for row in rows[:4]:
        for worker in d.workers:
            status, got = get_json(worker, f"/{kind}/{urllib.parse.quote(row[id_column], safe='')}/metrics?{query}")
            assert status == 200, got
            if export_type == "agent_metrics":  # presence is live: the lookup's "now" is later than the export's
                row = {k: v for k, v in row.items() if k not in ("Available Time (s)", "Away Time (s)", "Utilization (%)")}
                got = {k: v for k, v in got.items() if k in row}
            assert got == row


def test_conversation_lookup_equals_csv_row(deployment2):
    d, _ = deployment2
    result, body = d.export("conversations_resolved", "UTC", FIRST, LAST)
    for row in csv_rows(body)[:5]:
        status, got = get_json(d.workers[1], f"/conversations/{row['Conversation ID']}?tz=UTC")
        assert status == 200 and got == row


def test_lookup_of_an_open_conversation(deployment2):
    d, _ = deployment2
    result, body = d.export("conversations_open", "UTC", FIRST, LAST)
    row = csv_rows(body)[0]
    status, got = get_json(d.workers[0], f"/conversations/{row['Conversation ID']}?tz=UTC")
    assert status == 200 and got["Resolve Reason"] == "" and {k: got[k] for k in row} == row


def test_contact_and_presence_lookups(deployment2):
    d, events = deployment2
    d.export("contacts", "UTC", FIRST, LAST)  # catches up
    contact_id = next(e["contact_profile_id"] for e in events if e["type"] == "contact.attribute_set")
    status, got = get_json(d.workers[0], f"/contacts/{contact_id}")
    assert status == 200 and got["contact_profile_id"] == contact_id
    mine = [e for e in events if e["type"] == "message.created" and e["contact_profile_id"] == contact_id]
    assert got["conversations"] == len({e["conversation_id"] for e in mine})
    assert got["inbound_messages"] + got["outbound_messages"] == len({(e["conversation_id"], e["message_id"]) for e in mine})
    agent = next(e["agent_id"] for e in events if e["type"] == "presence.changed")
    latest = max((e for e in events if e["type"] == "presence.changed" and e["agent_id"] == agent),
                 key=lambda e: (simulate_time(e), e["event_id"]))
    status, got = get_json(d.workers[1], f"/agents/{agent}/presence")
    assert status == 200 and got["state"] == latest["state"]


def simulate_time(e):
    from convoflow.contract.times import parse_time

    return parse_time(e["occurred_at"])


def test_unknown_ids_and_bad_parameters(deployment2):
    d, _ = deployment2
    w = d.workers[0]
    assert w.get("/conversations/no-such-conversation")[0] == 404
    assert w.get("/contacts/no-such-contact")[0] == 404
    assert w.get("/agents/no-such-agent/metrics?tz=UTC&from=2024-07-15&to=2024-07-16")[0] == 404
    status, body = w.get("/agents/a-1/metrics?tz=Mars/Base&from=2024-07-15&to=2024-07-16")
    assert status == 400 and b"time zone" in body
    assert w.get("/agents/a-1/metrics?tz=UTC&from=2024-07-16&to=2024-07-15")[0] == 400
    assert w.get("/teams/t-1/metrics?tz=UTC")[0] == 400


def shard_request_ends(settings) -> dict[int, int]:
    """{partition: end offset} of export-shards: how many shard requests went through Kafka."""
    from aiokafka import AIOKafkaConsumer

    from convoflow.contract.topics import partitions_of

    async def read():
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = await partitions_of(consumer, settings.topic("export-shards"))
            return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_lookup_goes_through_kafka_only_to_the_worker_that_owns_the_key(deployment2):
    """A worker answers the lookup of a key it owns itself, and asks the owner of any other key through
    ``export-shards``: both answer the same row."""
    from convoflow.streams.outbox import partition_for

    d, events = deployment2
    d.wait_until_balanced()
    worker = d.workers[0]
    owned = set(get_json(worker, "/health")[1]["assigned"])
    assert owned and owned != set(range(d.partitions)), "each of the two workers owns some partitions"
    conversations = sorted({e["conversation_id"] for e in events if e["type"] == "message.created"})
    mine = next(c for c in conversations if partition_for(c, d.partitions) in owned)
    theirs = next(c for c in conversations if partition_for(c, d.partitions) not in owned)
    before = shard_request_ends(d.settings)
    status, got_mine = get_json(worker, f"/conversations/{mine}?tz=UTC")
    assert status == 200 and got_mine["Conversation ID"] == mine
    assert shard_request_ends(d.settings) == before, "the worker's own partition: no shard request through Kafka"
    status, got_theirs = get_json(worker, f"/conversations/{theirs}?tz=UTC")
    assert status == 200 and got_theirs["Conversation ID"] == theirs
    after = shard_request_ends(d.settings)
    p = partition_for(theirs, d.partitions)
    assert after[p] == before[p] + 1 and {q: e for q, e in after.items() if q != p} == {
        q: e for q, e in before.items() if q != p}, "the other worker's partition: one request, to its owner"
