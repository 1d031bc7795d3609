"""Contact-keyed state: attributes (``contact-attributes``) and identifiers (``contact-updates``)."""
from __future__ import annotations

from collections import defaultdict

from convoflow.streams.ingest import accepted
from convoflow.streams.batching import batch_agent, by_partition
from convoflow.streams.codec import dumps, loads
from convoflow.streams.outbox import bundled_items
from convoflow.streams.runtime import Runtime
from convoflow.streams.state.writer import TableWriter, partition_context
from convoflow.tables import contact


def register(app, runtime: Runtime):
    s = runtime.settings
    attributes, updates = s.topic("contact-attributes"), s.topic("contact-updates")
    source = app.topic(attributes, updates, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = runtime.table("contacts")
    writes = TableWriter(app, table)

    async def apply(batch):
        for records in by_partition(batch).values():
            attribute_records = [r for r in records if r.topic == attributes]
            per_contact = defaultdict(list)
            for e in await accepted(runtime, attribute_records, {attributes: "contact-attributes"}):
                per_contact[e["contact_profile_id"]].append((contact.apply_attribute, e))
            for _, c in bundled_items(r for r in records if r.topic == updates):
                per_contact[c["c"]].append((contact.apply_conversation, c))
            with partition_context(records[0]):
                for key, items in per_contact.items():
                    state = loads(writes.get(key)) or {}
                    for fold, value in items:
                        fold(state, value)
                    writes[key] = dumps(state)

    batch_agent(app, runtime, source, "contacts", apply, [writes], bundles={updates})

    return table
