"""What the agents of one worker share: settings, processed offsets, counters, dead letters.

``Runtime`` is made once per worker process (``convoflow.app.create_app``) and handed to every
agent, the export engine and the web views: it knows how far each input partition is processed
(for exports that wait for the worker to catch up), counts what ``/metrics`` reports, and sends
records that cannot be applied to ``dead-letters``.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from convoflow.contract.config import Settings
from convoflow.streams.outbox import SentInProcess
from convoflow.streams.state.memory import ROCKSDB_OPTIONS

log = logging.getLogger("convoflow")


@dataclass
class Runtime:
    settings: Settings
    app: object = None
    # Next offset to process per (topic, partition), as far as this process has gone.
    processed: dict = field(default_factory=dict)
    counts: dict = field(default_factory=lambda: defaultdict(int))
    # For /metrics: accepted events per (topic, type), dead letters per reason kind, finished exports.
    events: dict = field(default_factory=lambda: defaultdict(int))
    dead_letters: dict = field(default_factory=lambda: defaultdict(int))
    exports: list = field(default_factory=list)  # (export_type, status, seconds)
    scan_processes: int = 0  # export shards scanned by a process of their own (convoflow.streams.scan_process)
    split_merges: int = 0  # exports whose merge the export processes split by key range
    sent: SentInProcess = field(default_factory=lambda: SentInProcess())
    notes: list = field(default_factory=list)  # what happened before logging was set up, logged at start

    def table(self, name: str, head=None):
        """A table of raw bytes in RocksDB, partitioned like the input topics; ``head``: what of each
        value the store keeps again for the reports that read only that (``streams/state/partition.py``)."""
        options = dict(ROCKSDB_OPTIONS)
        if head is not None:
            options["head"] = head
        return self.app.Table(name, default=None, key_type=bytes, value_type=bytes, partitions=self.settings.partitions,
                              options=options)

    def mark(self, topic: str, partition: int, next_offset: int) -> None:
        """Records of the partition before ``next_offset`` are applied."""
        key = (topic, partition)
        if self.processed.get(key, -1) < next_offset:
            self.processed[key] = next_offset

    def position(self, topic: str, partition: int) -> int:
        """How far this worker has processed a partition: in this process, or committed before it."""
        done = self.processed.get((topic, partition), 0)
        consumer = getattr(self.app, "consumer", None)
        if consumer is not None:
            from faust.types import TP

            committed = consumer.committed(TP(topic, partition))
            if committed:
                done = max(done, committed)
        return done

    async def wait_processed(self, ends: dict[str, dict[int, int]], partition: int, timeout: float) -> None:
        """Wait until this worker has processed every topic's `partition` up to its end offset."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            behind = [
                (topic, end) for topic, parts in ends.items()
                if (end := parts.get(str(partition), parts.get(partition, 0))) > self.position(topic, partition)
            ]
            if not behind:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"partition {partition} did not catch up with {behind} in {timeout:.0f} s")
            await asyncio.sleep(0.01)

    async def dead_letter(self, msg, reason: str) -> None:
        """The original key and value bytes of a record, with headers naming where it came from and why."""
        self.counts["dead_letters"] += 1
        self.dead_letters[reason_kind(reason)] += 1
        headers = [
            ("source_topic", msg.topic.encode()),
            ("source_partition", str(msg.partition).encode()),
            ("source_offset", str(msg.offset).encode()),
            ("reason", reason.encode()),
        ]
        await self.app.producer.send(
            self.settings.topic("dead-letters"), msg.key, msg.value, partition=None, timestamp=None, headers=headers
        )
        log.info("dead letter from %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars (values, field names after the first words)."""
    return reason.split(":", 1)[0].split("'", 1)[0].strip()[:60]
