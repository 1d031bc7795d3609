"""convoflow's partition assignor (Faust's ``PartitionAssignor`` app setting): warm hand-over.

Faust's assignor moves a partition to a worker that joins at once, and that
worker must then restore the partition's tables before anything of the
partition is processed again. This one moves a partition only to a worker
whose copy of it has caught up, as Kafka Streams does with its warm-up
replicas:

- Each worker tells the group, in its subscription, which of its standby
  partitions are *warm*: every table changelog of the partition is in its
  local store to within ``WARM_LAG`` records of the changelog's end.
- The leader computes a balanced assignment (:func:`plan`): a partition stays
  with its owner while that owner can keep it; what a worker must give up
  goes preferably to a worker that is warm for it. When the worker a partition
  should go to is not warm for it and its owner is still in the group, the
  owner keeps it for now and the new worker gets it as a standby: it restores
  the partition beside the running owner (``convoflow.streams.state.recovery`` when the standby
  is assigned, then Faust's standby reading). The assignment tells that
  worker which partitions it is warming up for.
- A worker that finds one of those partitions warm asks the group to
  rebalance (:func:`register`); the leader then moves the partition, and its
  former owner keeps it as a standby.

A partition whose owner left the group goes at once to a worker that has it
(warm first), as there is no owner to wait beside. Standbys: each partition
gets ``table_standby_replicas`` of them on other workers, the worker warming up
for it first, then its former owner, then those that held it before.

Faust's assignor runs, and is then corrected in the step Faust offers for
global tables (``_global_table_standby_assignments``; convoflow has none), so
Faust's own co-partitioning, changelog distribution and encoding stay as they
are. What this reads of Faust's is in ``audit.AUDITED``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata
from faust.assignor import PartitionAssignor as FaustPartitionAssignor
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

log = logging.getLogger("convoflow")

WARM_LAG = 10_000  # records a standby may be behind its changelog's end and still take over
WARM_KEY = "convoflow_warm"  # in a subscription's metadata: the worker's warm standby partitions
WARMING_KEY = "convoflow_warming"  # in an assignment's metadata: partitions the worker warms up for
CHECK_SECONDS = 1.0
REJOIN_SECONDS = 5.0  # least time between two rebalances a worker asks for


def plan(members, partitions: int, previous: dict, standbys_before: dict, warm: dict, replicas: int):
    """The assignment of ``partitions`` co-partitioned partitions to ``members``.

    ``previous``/``standbys_before``/``warm``: {member: set of partitions} it had as active, had as
    standby, reports warm. Returns ({member: actives}, {member: standbys}, {member: warming up for}).
    """
    members = sorted(members)
    if not members:
        return {}, {}, {}
    owner: dict[int, str] = {}
    for m in members:
        for p in sorted(previous.get(m, ())):
            if 0 <= p < partitions and p not in owner:
                owner[p] = m
    held = {m: sum(1 for o in owner.values() if o == m) for m in members}
    low, extra = divmod(partitions, len(members))
    by_holding = sorted(members, key=lambda m: (-held[m], m))
    capacity = {m: low + (1 if i < extra else 0) for i, m in enumerate(by_holding)}

    def has(m, p):
        return p in warm.get(m, ()) or p in standbys_before.get(m, ())

    target = dict(owner)
    pool = sorted(p for p in range(partitions) if p not in owner)
    under = [m for m in members if held[m] < capacity[m]]
    for m in members:
        mine = sorted((p for p, o in target.items() if o == m), reverse=True)
        while len(mine) > capacity[m]:
            # give up first what a worker with room is warm for, else the highest partition
            wanted = [p for p in mine if any(p in warm.get(u, ()) for u in under)]
            p = wanted[0] if wanted else mine[0]
            mine.remove(p)
            del target[p]
            pool.append(p)
    count = {m: sum(1 for o in target.values() if o == m) for m in members}
    for p in sorted(pool):
        room = [m for m in members if count[m] < capacity[m]]
        best = min(room, key=lambda m: (p not in warm.get(m, ()), not has(m, p), count[m], m))
        target[p] = best
        count[best] += 1

    actives = {m: set() for m in members}
    standbys = {m: set() for m in members}
    warming = {m: set() for m in members}
    for p in range(partitions):
        to, before = target[p], owner.get(p)
        if before is not None and before != to and p not in warm.get(to, ()):
            actives[before].add(p)  # the owner keeps it until the new worker's copy has caught up
            warming[to].add(p)
        else:
            actives[to].add(p)
    wanted_standbys = min(replicas, len(members) - 1)
    copies_each = -(-partitions * (1 + wanted_standbys) // len(members))  # a worker's fair share of copies
    load = {m: len(actives[m]) for m in members}
    for p in range(partitions):
        to, before = target[p], owner.get(p)
        active = before if p in warming[to] else to
        # first the worker warming up for it, or its former owner (warm), then balanced and sticky
        chosen = [to] if p in warming[to] else [before] if before is not None and before != to else []
        rest = sorted((m for m in members if m != active and m not in chosen),
                      key=lambda m: (load[m] >= copies_each, p not in warm.get(m, ()),
                                     p not in standbys_before.get(m, ()), load[m], m))
        for m in chosen + rest[:max(0, wanted_standbys - len(chosen))]:
            standbys[m].add(p)
            load[m] += 1
    return actives, standbys, warming


class PartitionAssignor(FaustPartitionAssignor):
    def __init__(self, app, replicas: int = 0):
        super().__init__(app, replicas=replicas)
        self.warm: set[int] = set()  # this worker's warm standby partitions (refresh_warm)
        self.reported_warm: set[int] = set()
        self.warming: set[int] = set()  # partitions this worker is to take over once warm
        self._round: dict = {}  # the leader's view of the members, during one assignment
        self._warming_of: dict = {}

    # --- every worker

    def refresh_warm(self) -> set[int]:
        """The standby partitions whose every table changelog this worker's stores hold to within WARM_LAG."""
        tables = {topic: t for topic, t in self._table_manager._changelogs.items() if hasattr(t.data, "persisted_offset")}
        try:
            consumer = self.app.consumer
            standby = {tp.partition for tp in self.assigned_standbys() if tp.topic in tables}
            warm = set()
            for p in standby:
                for topic, table in tables.items():
                    tp = TP(topic, p)
                    end = consumer.highwater(tp)
                    offset = table.data.persisted_offset(tp)
                    if end is None or end - (offset + 1 if offset is not None else 0) > WARM_LAG:
                        break
                else:
                    warm.add(p)
        except ConsumerNotStarted:
            warm = set()
        self.warm = warm
        return warm

    def metadata(self, topics):
        base = super().metadata(topics)
        self.reported_warm = set(self.warm)
        data = json.loads(base.user_data)
        data[WARM_KEY] = sorted(self.warm)
        return ConsumerProtocolMemberMetadata(base.version, base.subscription, json.dumps(data).encode())

    @classmethod
    def _get_client_metadata(cls, metadata):
        data = json.loads(metadata.user_data)
        data.pop(WARM_KEY, None)
        return super()._get_client_metadata(
            ConsumerProtocolMemberMetadata(metadata.version, metadata.subscription, json.dumps(data).encode()))

    def on_assignment(self, assignment) -> None:
        data = json.loads(self._decompress(assignment.user_data))
        self.warming = set(data.pop(WARMING_KEY, ()))
        super().on_assignment(ConsumerProtocolMemberAssignment(
            assignment.version, assignment.assignment, self._compress(json.dumps(data).encode())))

    # --- the leader

    def _perform_assignment(self, cluster, member_metadata):
        self._round = {
            member: (json.loads(md.user_data), set(md.subscription)) for member, md in member_metadata.items()
        }
        self._warming_of = {}
        try:
            return super()._perform_assignment(cluster, member_metadata)
        finally:
            self._round = {}

    def _global_table_standby_assignments(self, assignments, partitions_by_topic):
        assignments = super()._global_table_standby_assignments(assignments, partitions_by_topic)
        groups: dict[int, set[str]] = {}
        for topic, n in partitions_by_topic.items():
            groups.setdefault(n, set()).add(topic)
        members = sorted(assignments)
        warm = {m: set(self._round[m][0].get(WARM_KEY, ())) for m in members}
        before = {m: self._round[m][0].get("assignment", {}) for m in members}
        global_changelogs = {t._changelog_topic_name() for t in self._table_manager.data.values() if t.is_global}
        for n, topics in sorted(groups.items()):
            if topics & global_changelogs or any(not topics <= self._round[m][1] for m in members):
                continue  # not co-partitioned over every member: Faust's assignment stays
            previous = {m: _partitions(before[m].get("actives", {}), topics) for m in members}
            standbys = {m: _partitions(before[m].get("standbys", {}), topics) for m in members}
            actives, standbys, warming = plan(members, n, previous, standbys, warm, self.replicas)
            for m in members:
                for topic in topics:
                    assignments[m].actives[topic] = sorted(actives[m])
                    assignments[m].standbys[topic] = sorted(standbys[m])
                if warming[m]:
                    self._warming_of.setdefault(m, set()).update(warming[m])
        if any(self._warming_of.values()):
            log.info("warm hand-over: partitions wait for their new worker's copy: %s",
                     {m: sorted(p) for m, p in self._warming_of.items() if p})
        return assignments

    def _protocol_assignments(self, assignments, cl_distribution, tp_distribution, topic_groups):
        out = super()._protocol_assignments(assignments, cl_distribution, tp_distribution, topic_groups)
        for member, assignment in out.items():
            data = json.loads(self._decompress(assignment.user_data))
            data[WARMING_KEY] = sorted(self._warming_of.get(member, ()))
            out[member] = ConsumerProtocolMemberAssignment(
                assignment.version, assignment.assignment, self._compress(json.dumps(data).encode()))
        return out


def _partitions(by_topic: dict, topics: set[str]) -> set[int]:
    return {p for topic, ps in by_topic.items() if topic in topics for p in ps}


def register(app) -> None:
    """Every second: which standbys are warm; a worker warm for a partition it is to take over asks
    the group to rebalance (at most every REJOIN_SECONDS)."""
    assignor = app.assignor
    last = {"rejoin": 0.0}

    @app.timer(interval=CHECK_SECONDS)
    async def take_over_warm_partitions():
        if app.rebalancing:
            return
        warm = assignor.refresh_warm()
        ready = (assignor.warming & warm) - assignor.reported_warm
        now = time.monotonic()
        if not ready or now - last["rejoin"] < REJOIN_SECONDS:
            return
        last["rejoin"] = now
        log.info("warm hand-over: partitions %s caught up here; asking the group to rebalance", sorted(ready))
        await asyncio.shield(app.consumer.rejoin())
