"""Agent-keyed presence changes -> the ``presence`` table (facts per agent)."""
from __future__ import annotations

from collections import defaultdict

from streams.ingest import accepted
from streams.runtime import Runtime, by_partition, dumps, loads, partition_context
from tables import presence


def register(app, runtime: Runtime):
    s = runtime.settings
    name = s.topic("presence")
    source = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("presence", default=None, key_type=bytes, value_type=bytes, partitions=s.partitions)

    @app.agent(source, name="presence")
    async def presence_changes(stream):
        async for batch in stream.take_events(s.batch_size, within=0.05):
            for events in by_partition(batch).values():
                per_agent = defaultdict(list)
                for ev, e in await accepted(runtime, events, {name: "presence"}):
                    per_agent[e["agent_id"]].append((ev, e))
                for agent_id, items in per_agent.items():
                    with partition_context(items[-1][0]):
                        state = loads(table.get(agent_id)) or {}
                        for _, e in items:
                            presence.apply(state, e)
                        table[agent_id] = dumps(state)
                for ev in events:
                    runtime.mark(ev)

    return table
