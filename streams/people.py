"""Agent and team aggregates, kept from what conversations contribute.

After a batch, every touched conversation sends its contribution map to each
agent and team it names (``people-updates``, keyed by ``agent:<id>`` /
``team:<id>``), and an empty map to owners it named before but no longer does
(a late event moved a resolution or re-classified a lock session). Here the
owner puts the conversation's partials of each day into that day's record,
whose totals move by the difference (``convoflow.tables.people.replace_in_day``). A
repeat changes nothing, and a replay after a crash repairs whatever part of a
batch did not reach the changelogs.

Tables (both partitioned like ``people-updates``):
- ``owner_days``: ``<owner>|<day>|r<n>`` -> totals per bucket and channel, and
  the partials of that day of at most ``convoflow.tables.people.CONVERSATIONS_PER_RECORD``
  conversations (``convoflow.tables.people.encode_day``);
- ``owner_conversations``: ``<owner>|<conversation_id>`` -> the days the
  conversation ever contributed to, with its place in each (so a contribution
  that moves to another day is taken out of the old one, and a replay finds its
  record), and ``#<owner>|<day>`` -> how many places of that day are handed out.
"""
from __future__ import annotations

from collections import defaultdict

from convoflow.streams.batching import batch_agent, by_partition
from convoflow.streams.outbox import Outbox, SentInProcess, bundled_items
from convoflow.streams.runtime import Runtime
from convoflow.streams.state.writer import TableWriter, partition_context
from convoflow.tables import people


def register(app, runtime: Runtime):
    s = runtime.settings
    name = s.topic("people-updates")
    source = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    index = runtime.table("owner_conversations")
    days_table = runtime.table("owner_days")

    index_writes, days_writes = TableWriter(app, index), TableWriter(app, days_table)

    def write(writer: TableWriter, key: str, value: bytes) -> None:
        # Written when it changed, or when this process has not written it yet: the local
        # store may hold a value whose changelog record a crash lost (see conversations).
        if runtime.sent.changed(f"{writer.name}|{key}", value):
            writer[key] = value

    async def apply(batch):
        for bundles in by_partition(batch).values():
            per_owner = defaultdict(dict)
            for _, update in bundled_items(bundles):
                per_owner[update["o"]][update["c"]] = update["m"]  # the latest map per conversation
            with partition_context(bundles[0]):
                for owner, latest in per_owner.items():
                    placed, records = people.owner_updates(owner, latest, index_writes.get, days_writes.get)
                    for key, value in placed:
                        write(index_writes, key, value)
                    for key, record in records.items():
                        write(days_writes, key, people.encode_day(record))
        # Every place reaches the changelog before a record holding partials there does
        # (convoflow.tables.people.owner_updates): the records' changelog writes go out after this
        # returns (batch_agent flushes the writers), so a replay on any worker finds each
        # conversation's record.
        if index_writes.pending:
            await index_writes.flush()
            await app.producer.flush()

    batch_agent(app, runtime, source, "people", apply, [index_writes, days_writes], bundles={name})

    return index, days_table


def add_contributions(outbox: Outbox, cid: str, state: dict, sent: SentInProcess | None = None,
                      derived=None) -> None:
    """Queue the conversation's current map for every owner, and an empty one for owners it left
    (skipping what this process already sent, unchanged, to that owner)."""
    maps = people.contributions(cid, state, derived)
    previous = state.get("_owners", [])
    for owner in set(previous) | maps.keys():
        outbox.add(owner, {"o": owner, "c": cid, "m": maps.get(owner, {})}, sent, f"people|{owner}|{cid}")
    state["_owners"] = sorted(set(previous) | maps.keys())
