"""Directory events -> the ``directory`` table; every worker reads its changelog (see convoflow.streams.replica)."""
from __future__ import annotations

from convoflow.streams.ingest import accepted
from convoflow.streams.batching import batch_agent, by_partition
from convoflow.streams.codec import dumps, loads
from convoflow.streams.runtime import Runtime
from convoflow.streams.state.writer import TableWriter, partition_context
from convoflow.tables import directory


def register(app, runtime: Runtime):
    s = runtime.settings
    name = s.topic("directory")
    source = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = runtime.table("directory")
    writes = TableWriter(app, table)

    async def apply(batch):
        for records in by_partition(batch).values():
            with partition_context(records[0]):
                for e in await accepted(runtime, records, {name: "directory"}):
                    key = directory.entity_key(e)
                    stored = writes.get(key)
                    entry = directory.merge(loads(stored), e)
                    if entry is not None:
                        writes[key] = dumps(entry)
                    else:  # unchanged (so already stored): re-send on replay, see conversations
                        writes[key] = stored

    batch_agent(app, runtime, source, "directory", apply, [writes])

    return table
