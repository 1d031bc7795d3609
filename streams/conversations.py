"""Conversation-keyed events -> the ``conversations`` table (facts per conversation).

Messages, status changes, locks, surveys and annotations all share the key
``conversation_id`` and the partition count, so one worker owns every event of
a conversation. Each batch is grouped by partition and by conversation: one
read, the events folded in (``tables.conversation.apply``), one write.
A conversation that got a ``message.created`` also tells each of its contacts
their identifiers and message counts there (``contact-updates``: identifiers
merged by max, counts replaced per conversation, so resending is harmless),
and every touched conversation sends its agents and teams what it contributes
to them (``people-updates``, see streams/people.py).
"""
from __future__ import annotations

from collections import defaultdict

from convoflow.events import CONVERSATION_TOPICS
from streams.ingest import accepted
from streams.people import add_contributions
from streams.runtime import Outbox, Runtime, by_partition, dumps, loads, partition_context
from tables import contact, conversation


def register(app, runtime: Runtime):
    s = runtime.settings
    logical = {s.topic(t): t for t in CONVERSATION_TOPICS}
    source = app.topic(*logical, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("conversations", default=None, key_type=bytes, value_type=bytes, partitions=s.partitions)
    contact_updates = Outbox(app, s.topic("contact-updates"), s.partitions)
    people_updates = Outbox(app, s.topic("people-updates"), s.partitions)

    @app.agent(source, name="conversations")
    async def conversations(stream):
        async for batch in stream.take_events(s.batch_size, within=0.05):
            for events in by_partition(batch).values():
                valid = await accepted(runtime, events, logical)
                per_conversation = defaultdict(list)
                for ev, e in valid:
                    per_conversation[e["conversation_id"]].append((ev, e))
                for cid, items in per_conversation.items():
                    with partition_context(items[-1][0]):
                        state = loads(table.get(cid)) or conversation.new_state()
                        for _, e in items:
                            conversation.apply(state, e)
                        add_contributions(people_updates, cid, state)
                        if any(e["type"] == "message.created" for _, e in items):
                            for c in contact.conversation_contributions(cid, state["m"].values()):
                                contact_updates.add(c["c"], c)
                        # Written even when unchanged: a replay after a crash re-sends the
                        # changelog record that may not have reached the broker before.
                        table[cid] = dumps(state)
                await people_updates.flush()
                await contact_updates.flush()
                for ev in events:
                    runtime.mark(ev)

    return table
