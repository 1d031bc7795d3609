"""Contact-keyed state: attributes (``contact-attributes``) and identifiers (``contact-updates``)."""
from __future__ import annotations

from collections import defaultdict

from streams.ingest import accepted
from streams.runtime import (
    Runtime, TableWriter, batch_agent, bundled_items, by_partition, dumps, loads, partition_context,
)
from tables import contact


def register(app, runtime: Runtime):
    s = runtime.settings
    attributes, updates = s.topic("contact-attributes"), s.topic("contact-updates")
    source = app.topic(attributes, updates, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = runtime.table("contacts")
    writes = TableWriter(app, table)

    async def apply(batch):
        for events in by_partition(batch).values():
            attribute_events = [ev for ev in events if ev.message.topic == attributes]
            per_contact = defaultdict(list)
            for ev, e in await accepted(runtime, attribute_events, {attributes: "contact-attributes"}):
                per_contact[e["contact_profile_id"]].append((ev, contact.apply_attribute, e))
            for ev, c in bundled_items(ev for ev in events if ev.message.topic == updates):
                per_contact[c["c"]].append((ev, contact.apply_conversation, c))
            for key, items in per_contact.items():
                with partition_context(items[-1][0]):
                    state = loads(table.get(key)) or {}
                    for _, fold, value in items:
                        fold(state, value)
                    writes[key] = dumps(state)

    batch_agent(app, runtime, source, "contacts", apply, [writes], bundles=True)

    return table
