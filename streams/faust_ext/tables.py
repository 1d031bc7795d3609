"""convoflow's table manager (Faust's ``TableManager`` class setting)."""
from __future__ import annotations

import logging
import time

from faust.tables.manager import TableManager as FaustTableManager

log = logging.getLogger("convoflow")


class TableManager(FaustTableManager):
    """Faust's, with three differences:

    - it starts without the second Faust slept first (to let tables be declared after the
      worker starts; every convoflow table exists before it does);
    - a rebalance reads the table partitions this worker did not have (as active or standby),
      every active one, and those whose store refused a changelog batch with a hole
      (``convoflow.streams.faust_ext.store``) into the local stores with ``restorer``
      (``convoflow.streams.state.recovery``: write batches, not Faust's per-record recovery)
      before Faust's recovery starts, so Faust reads only what was written since;
    - :meth:`drop_stale_copies` deletes the local copies of partitions the worker has not
      held for a while, so that its disk follows its assignment.
    """

    restorer = None  # async callable(changelog partitions) -> None, set by convoflow.app

    def __init__(self, app, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self.unheld_since: dict[tuple[str, int], float] = {}  # (table, partition) -> time.time()

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    async def on_rebalance(self, assigned, revoked, newly_assigned, generation_id: int = 0) -> None:
        if self.restorer is not None and generation_id == self.app.consumer_generation_id:
            stale = self.to_restore(assigned, newly_assigned)
            if stale:
                await self.restorer(stale)
                for holes in self._holes():
                    for tp in stale:
                        holes.pop(tp, None)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    def to_restore(self, assigned, newly_assigned) -> set:
        """The changelog partitions the bulk restore reads on a rebalance: those new to this worker,
        every active one (so that it is whole before its agent runs, and Faust's recovery has
        nothing left to read), and those whose store refused a batch with a hole."""
        changelogs = self.changelog_topics
        actives = {tp for tp in self.app.assignor.assigned_actives() if tp.topic in changelogs}
        holed = {tp for holes in self._holes() for tp in holes}
        return {tp for tp in set(newly_assigned) | actives | holed if tp.topic in changelogs and tp in assigned}

    def _holes(self):
        """Each store's {changelog partition: offset} of recovery batches it refused."""
        return [table.data.holes for table in self.values() if hasattr(table.data, "holes")]

    def held_partitions(self, table) -> set[int]:
        """The partitions of ``table`` this worker holds, as active or standby."""
        assignor = self.app.assignor
        topic = table.changelog_topic.get_topic_name()
        return {tp.partition for tp in assignor.assigned_actives() | assignor.assigned_standbys() if tp.topic == topic}

    def drop_stale_copies(self, grace_seconds: float, now: float | None = None) -> list[tuple[str, int]]:
        """Delete each partition copy on disk that this worker has not held for ``grace_seconds``
        (timed from when this process first saw it unheld); the (table, partition) pairs dropped."""
        if self.app.rebalancing or not self.recovery.completed.is_set():
            return []  # the assignment is not settled
        now = time.time() if now is None else now
        dropped, seen = [], set()
        for table in self.values():
            store = table.data
            if not hasattr(store, "partition_copies"):
                continue
            held = self.held_partitions(table)
            for partition in store.partition_copies():
                key = (table.name, partition)
                if partition in held:
                    continue
                seen.add(key)
                since = self.unheld_since.setdefault(key, now)
                if now - since < grace_seconds:
                    continue
                store.release(partition)  # what still opened it (a late changelog record) is over
                if store.drop_copy(partition):
                    self.unheld_since.pop(key, None)
                    dropped.append(key)
        for key in set(self.unheld_since) - seen:
            self.unheld_since.pop(key)
        if dropped:
            log.info("dropped the local copies of partitions this worker no longer holds: %s", sorted(dropped))
        return dropped
