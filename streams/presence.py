"""Agent-keyed presence changes -> the ``presence`` table (facts per agent and UTC day)."""
from __future__ import annotations

from collections import defaultdict

from convoflow.streams.ingest import accepted
from convoflow.streams.batching import batch_agent, by_partition
from convoflow.streams.codec import dumps, loads
from convoflow.streams.runtime import Runtime
from convoflow.streams.state.writer import TableWriter, partition_context
from convoflow.tables import presence


def register(app, runtime: Runtime):
    s = runtime.settings
    name = s.topic("presence")
    source = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = runtime.table("presence")
    writes = TableWriter(app, table)

    async def apply(batch):
        for records in by_partition(batch).values():
            per_day = defaultdict(list)
            for e in await accepted(runtime, records, {name: "presence"}):
                per_day[e["agent_id"], e["t"] // presence.DAY_US].append(e)
            with partition_context(records[0]):
                for (agent_id, day), events in per_day.items():
                    key = presence.key_of_day(agent_id, day)
                    state = loads(writes.get(key)) or {}
                    for e in events:
                        presence.apply(state, e)
                    writes[key] = dumps(state)

    batch_agent(app, runtime, source, "presence", apply, [writes])

    return table
