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
            for record, e in await accepted(runtime, records, {name: "presence"}):
                per_day[presence.day_key(e["agent_id"], e["t"])].append((record, e))
            for key, items in per_day.items():
                with partition_context(items[-1][0]):
                    state = loads(writes.get(key)) or {}
                    for _, e in items:
                        presence.apply(state, e)
                    writes[key] = dumps(state)

    batch_agent(app, runtime, source, "presence", apply, [writes])

    return table
