"""Read-your-writes through every hop: records published without a key, right before the request.

A valid record without its contract key is published again by the worker with
the right key (a second record on the input topic); only that one is applied,
and its processing sends what it contributes to agents and teams
(``people-updates``) and to contacts (``contact-updates``), whose agents write
the tables the report scans. An export requested right after such records
must wait for that whole chain, not only for the input offsets it saw.
Each round publishes fresh records and asks at once; the worker's agents wait
for more events before each batch, so every hop takes a while and a catch-up
that stops one hop short misses the records.
"""
import asyncio
import csv
import io
import uuid

import orjson
import pytest

from convoflow.tools.publish import _producer, request_export, route
from tests.integration.harness import workers_running

ROUNDS = 3
PER_EXPORT = 10  # conversations published (without keys) right before each request
DAY = "2024-07-18"
# Each hop waits 300 ms for more events before its batch; the dashboard computes every poll afresh.
ENV = {"CONVOFLOW_BATCH_LINGER_MS": "300", "CONVOFLOW_DASHBOARD_CACHE": "0"}


def rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def conversation(i: int) -> list[dict]:
    """An inbound, the agent's reply and the agent's resolution, in conversation ryw-c<i>."""
    base = dict(conversation_id=f"ryw-c{i}")
    at = f"{DAY}T{10 + i // 60:02d}:{i % 60:02d}:"
    return [
        {"event_id": f"ryw-{i}-1", "type": "message.created", "occurred_at": f"{at}00Z", "message_id": f"ryw-m{i}-1",
         "channel_id": "ryw-ch", "contact_profile_id": f"ryw-ct{i}", "direction": "INBOUND", "message_type": "TEXT",
         "contact_primary_identifier": f"id-ryw-{i}", **base},
        {"event_id": f"ryw-{i}-2", "type": "message.created", "occurred_at": f"{at}10Z", "message_id": f"ryw-m{i}-2",
         "channel_id": "ryw-ch", "contact_profile_id": f"ryw-ct{i}", "direction": "OUTBOUND", "message_type": "TEXT",
         "agent_id": f"ryw-a{i}", "team_id": f"ryw-t{i}", **base},
        {"event_id": f"ryw-{i}-3", "type": "conversation.status_changed", "occurred_at": f"{at}20Z", "status": "RESOLVED",
         "agent_id": f"ryw-a{i}", "team_id": f"ryw-t{i}", "resolved_by": "AGENT", "resolve_trigger": "HUMAN_AGENT", **base},
    ]


async def publish_unkeyed(settings, events: list[dict]) -> None:
    """Publish the events without keys, and wait until the broker has acknowledged them all."""
    producer = await _producer(settings)
    try:
        await asyncio.gather(*[await producer.send(settings.topic(route(e)[0]), orjson.dumps(e), key=None) for e in events])
    finally:
        await producer.stop()


async def unkeyed_then_export(settings, events: list[dict], export_type: str) -> dict:
    """Publish the events without keys, then at once request the export and wait for its result."""
    await publish_unkeyed(settings, events)
    request = {"request_id": uuid.uuid4().hex, "export_type": export_type, "time_zone": "UTC",
               "date_from": DAY, "date_to": DAY, "as_of": f"{DAY}T23:00:00Z"}
    return await request_export(settings, request, 120)


async def unkeyed_then_dashboard(settings, events: list[dict], worker) -> dict:
    """Publish the events without keys, then at once ask the worker's dashboard for DAY."""
    await publish_unkeyed(settings, events)
    status, body = await asyncio.to_thread(worker.get, f"/dashboard/data?tz=UTC&date={DAY}")
    assert status == 200, body
    return orjson.loads(body)


@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    """A worker whose agents wait for more events before each batch: each hop of the chain takes at
    least that long, so an export that does not wait for a hop misses it."""
    with workers_running(tmp_path_factory.mktemp("ryw"), 1, env=ENV) as d:
        yield d


def export(d, events, export_type) -> list[dict]:
    result = asyncio.run(unkeyed_then_export(d.settings, events, export_type))
    assert result["status"] == "completed", result
    with open(result["file"], "rb") as f:
        return rows(f.read())


def test_unkeyed_records_right_before_the_request_are_in_every_report(worker):
    d = worker
    missed = []
    n = 0
    for i in range(ROUNDS):
        # agent_metrics: conversations -> people-updates -> owner_days
        ids = range(n, n + PER_EXPORT)
        n += PER_EXPORT
        agents = {r["User ID"]: r for r in export(d, [e for j in ids for e in conversation(j)], "agent_metrics")}
        for j in ids:
            got = agents.get(f"ryw-a{j}", {})
            cells = tuple(got.get(c) for c in ("Replies", "Resolves - With Reply", "Resolves - No Reply", "Contacts Helped"))
            if cells != ("1", "1", "0", "1"):
                missed.append(f"round {i}: agent ryw-a{j} has (Replies, With Reply, No Reply, Contacts Helped) {cells}")
        # contacts: conversations -> contact-updates -> contacts (its changelog, copied by every worker)
        ids = range(n, n + PER_EXPORT)
        n += PER_EXPORT
        contacts = {r["Contact Profile ID"]: r for r in export(d, [e for j in ids for e in conversation(j)], "contacts")}
        for j in ids:
            got = contacts.get(f"ryw-ct{j}", {})
            cells = (got.get("Primary Identifier"), got.get("Number of Inbound Messages"))
            if cells != (f"id-ryw-{j}", "1"):
                missed.append(f"round {i}: contact ryw-ct{j} has (Primary Identifier, Inbound) {cells}")
        # the dashboard's numbers: the same catch-up as an export
        ids = range(n, n + PER_EXPORT)
        n += PER_EXPORT
        data = asyncio.run(unkeyed_then_dashboard(d.settings, [e for j in ids for e in conversation(j)], d.workers[0]))
        agents = {a["User ID"]: a for a in data["agents"]}
        for j in ids:
            got = agents.get(f"ryw-a{j}", {})
            cells = (got.get("Replies"), got.get("Resolves - With Reply"))
            if cells != ("1", "1"):
                missed.append(f"round {i}: the dashboard has (Replies, With Reply) {cells} for agent ryw-a{j}")
    assert not missed, f"{len(missed)} of {n} conversations missing in exports and dashboards asked for right after them:\n" + \
        "\n".join(missed[:20])
    # Every record was published without a key, so each was re-routed once (and applied once).
    result, body = d.export("messages", "UTC", DAY, DAY)
    assert sum(r["Message ID"].startswith("ryw-m") for r in rows(body)) == 2 * n
