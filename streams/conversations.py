"""Conversation-keyed events -> the ``conversations`` table (facts per conversation).

Messages, status changes, locks, surveys and annotations all share the key
``conversation_id`` and the partition count, so one worker owns every event of
a conversation. Each batch is grouped by partition and by conversation: one
read, the events folded in (``convoflow.tables.conversation.apply``), one write.
A conversation that got a ``message.created`` also tells each of its contacts
their identifiers and message counts there (``contact-updates``: identifiers
merged by max, counts replaced per conversation, so resending is harmless),
and every touched conversation sends its agents and teams what it contributes
to them (``people-updates``, see streams/people.py).
"""
from __future__ import annotations

from collections import defaultdict

from convoflow.contract.events import CONVERSATION_TOPICS
from convoflow.streams.ingest import accepted
from convoflow.streams.people import add_contributions
from convoflow.streams.batching import batch_agent, by_partition
from convoflow.streams.outbox import Outbox
from convoflow.streams.runtime import Runtime
from convoflow.streams.state.writer import TableWriter, partition_context
from convoflow.tables import contact, conversation


def register(app, runtime: Runtime):
    s = runtime.settings
    logical = {s.topic(t): t for t in CONVERSATION_TOPICS}
    source = app.topic(*logical, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = runtime.table("conversations", head=conversation.head)
    contact_updates = Outbox(app, s.topic("contact-updates"), s.partitions)
    people_updates = Outbox(app, s.topic("people-updates"), s.partitions)
    writes = TableWriter(app, table)

    async def apply(batch):
        for records in by_partition(batch).values():
            per_conversation = defaultdict(list)
            for e in await accepted(runtime, records, logical):
                per_conversation[e["conversation_id"]].append(e)
            with partition_context(records[0]):
                for cid, events in per_conversation.items():
                    state = conversation.decode(writes.get(cid)) or conversation.new_state()
                    changed = False
                    for e in events:
                        changed |= conversation.apply(state, e)
                    # A conversation this process has not written yet is written and sent
                    # even when unchanged: after a crash, the replay re-sends what may
                    # not have reached the broker before.
                    if not (runtime.sent.changed(f"conversation|{cid}") or changed):
                        continue
                    derived = conversation.derive(state)
                    add_contributions(people_updates, cid, state, runtime.sent, derived)
                    for c in contact.conversation_contributions(cid, derived.messages):
                        contact_updates.add(c["c"], c, runtime.sent, f"contact|{c['c']}|{cid}")
                    writes[cid] = conversation.encode(state, derived)
        # The facts (with the owners they name) reach the changelog before any owner hears of
        # them: after a crash, the restored state still names every owner that got a map.
        await writes.flush()
        if people_updates.items or contact_updates.items:
            await app.producer.flush()
        await people_updates.flush()
        await contact_updates.flush()

    batch_agent(app, runtime, source, "conversations", apply, [writes], aligned=True)

    return table
