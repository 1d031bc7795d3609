"""Co-partitioned input topics read in step by record time, as Kafka Streams does.

A conversation's events arrive on five topics (messages, status changes, locks,
surveys, annotations), all keyed and partitioned by ``conversation_id``. Kafka
hands a consumer the same number of *bytes* of each partition per fetch, so while
a worker works off a backlog, a topic of small records (status changes) runs
hours of event time ahead of one of large records (messages). The conversations
agent then folds each conversation once per topic instead of once per batch:
at 100,000 conversations, three events per state read and write where a batch
holds about fifteen of each conversation's events.

``Alignment`` keeps, per partition of those topics, the timestamp of the last
record handed to the agent (its *frontier*), and holds back from the next fetch
every partition whose frontier is ahead of the furthest-behind partition of the
same number, so that the records of one partition number reach the agent in
about the order they were produced. aiokafka fetches a held partition again only
after the records it already holds are taken, so holding back is a pause with no
record read twice. A partition that cannot constrain the others never holds them
back: one that has nothing more to read, one that has not delivered yet, one
that is paused for another reason (not asked for), and one whose frontier has
not moved for ``stall_seconds`` (a broker partition away).

The agent's sink then takes, of each partition number, only the records stamped at or before
that floor (unless it is full), so that one batch holds the same stretch of time of every topic
(``BatchSink.take``).

Holding back changes only when records are read, never which: every partition
is read in offset order from where it is, and acknowledged as before.
"""
from __future__ import annotations

import time
from collections import defaultdict


class Alignment:
    """Which partitions of the aligned topics to leave out of the next fetch."""

    def __init__(self, stall_seconds: float = 10.0, clock=time.monotonic):
        self.topics: set[str] = set()
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.frontier: dict = {}  # tp -> (timestamp ms of the last record handed over, when it moved)
        # partition number -> the frontier of its furthest-behind partition that constrains, as of
        # the last fetch: the agent takes records stamped later than this only when its sink is full
        self.floors: dict[int, int] = {}
        self.backlog = 0  # records left to read in the aligned partitions, as of the last fetch

    def add_topics(self, topics) -> None:
        self.topics.update(topics)

    def delivered(self, tp, timestamp: int) -> None:
        """Records of ``tp`` up to one stamped ``timestamp`` (ms) were handed to the agent."""
        if tp.topic not in self.topics:
            return
        if timestamp is None or timestamp <= 0:  # no timestamp: this partition cannot be placed in time
            self.frontier.pop(tp, None)
            return
        current = self.frontier.get(tp)
        if current is None or current[0] != timestamp:
            self.frontier[tp] = (timestamp, self.clock())

    def forget(self, tps=None) -> None:
        """After a seek or a revocation: what was handed over says nothing of what comes next."""
        if tps is None:
            self.frontier.clear()
            self.floors.clear()
        else:
            for tp in tps:
                self.frontier.pop(tp, None)
                self.floors.pop(tp.partition, None)

    def held(self, active, lag) -> set:
        """The partitions of ``active`` to leave out of the next fetch; ``lag(tp)`` is how many
        records of ``tp`` are left to read (None when unknown)."""
        self.floors = floors = {}
        self.backlog = 0
        if not self.frontier:
            return set()
        now = self.clock()
        groups: dict[int, list] = defaultdict(list)
        for tp, (stamp, moved) in self.frontier.items():
            if tp in active:
                groups[tp.partition].append((tp, stamp, moved))
        held = set()
        for partition, members in groups.items():
            if len(members) < 2:
                continue
            floor = None
            for tp, stamp, moved in members:
                left = lag(tp)
                if left is None or left <= 0 or now - moved > self.stall_seconds:
                    continue  # nothing more to read, or stuck: it must not stop the others
                self.backlog += left
                if floor is None or stamp < floor:
                    floor = stamp
            if floor is None:
                continue
            floors[partition] = floor
            held.update(tp for tp, stamp, _ in members if stamp > floor)
        return held
