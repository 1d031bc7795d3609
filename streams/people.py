"""Agent and team aggregates, kept incrementally from what conversations contribute.

After a batch, every touched conversation sends its contribution map to each
agent and team it names (``people-updates``, keyed by ``agent:<id>`` /
``team:<id>``), and an empty map to owners it named before but no longer does
(a late event moved a resolution or re-classified a lock session). Here the
owner replaces the conversation's previous map and moves the difference into
its per-UTC-day totals (``people_days``). A repeat changes nothing.

Tables (both partitioned like ``people-updates``):
- ``people``: ``<owner>|<conversation_id>`` -> the map last received;
- ``people_days``: ``<owner>|<day>`` -> ``{"b": {"<channel>|<bucket>": partial}, "t": {"<channel>": partial}}``.
"""
from __future__ import annotations

from collections import defaultdict

from streams.runtime import Outbox, Runtime, SentInProcess, bundled_items, by_partition, dumps, loads, partition_context
from tables import people


def day_key(owner: str, day: int) -> str:
    return f"{owner}|{day:06d}"


def register(app, runtime: Runtime):
    s = runtime.settings
    name = s.topic("people-updates")
    source = app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    contributions = app.Table("people", default=None, key_type=bytes, value_type=bytes, partitions=s.partitions)
    days_table = app.Table("people_days", default=None, key_type=bytes, value_type=bytes, partitions=s.partitions)

    @app.agent(source, name="people")
    async def people_updates(stream):
        async for batch in stream.take_events(s.batch_size, within=0.05):
            for events in by_partition(batch).values():
                per_owner = defaultdict(list)
                for ev, update in bundled_items(events):
                    per_owner[update["o"]].append((ev, update))
                for owner, items in per_owner.items():
                    with partition_context(items[-1][0]):
                        days: dict[int, dict] = {}
                        latest = {}
                        for _, update in items:
                            latest[update["c"]] = update["m"]
                        for cid, new in latest.items():
                            key = f"{owner}|{cid}"
                            old = loads(contributions.get(key)) or {}
                            for day in {people.day_of_bucket(int(k.rsplit("|", 1)[1])) for k in old.keys() | new.keys()}:
                                if day not in days:
                                    days[day] = loads(days_table.get(day_key(owner, day))) or {"b": {}, "t": {}}
                            people.apply_contribution(days, old, new)
                            contributions[key] = dumps(new)
                        for day, record in days.items():
                            days_table[day_key(owner, day)] = dumps(record)
                for ev in events:
                    runtime.mark(ev)

    return contributions, days_table


def add_contributions(outbox: Outbox, cid: str, state: dict, sent: SentInProcess | None = None) -> None:
    """Queue the conversation's current map for every owner, and an empty one for owners it left
    (skipping what this process already sent, unchanged, to that owner)."""
    maps = people.contributions(cid, state)
    previous = state.get("_owners", [])
    for owner in set(previous) | maps.keys():
        outbox.add(owner, {"o": owner, "c": cid, "m": maps.get(owner, {})}, sent, f"people|{owner}|{cid}")
    state["_owners"] = sorted(set(previous) | maps.keys())
