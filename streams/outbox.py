"""Re-keyed records sent on by the agents: bundled per destination partition, repeats skipped.

An agent that re-keys what it read (a conversation's updates for its people, its contacts)
sends one record per destination partition and batch (``Outbox``, read back by
``bundled_items``) instead of one per key, and skips an item it has already sent unchanged in
this process (``SentInProcess``).
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict

import orjson
from aiokafka.partitioner import murmur2

from convoflow.streams.codec import dumps

log = logging.getLogger("convoflow")


class SentInProcess:
    """What this process has already sent or written, per key: a repeat is skipped.

    Only within one process: after a restart it is empty, so a replay after a
    crash re-sends and re-writes everything (which is what makes replays safe).
    Bounded: forgetting a key only means sending its value again, harmlessly.
    It forgets the keys least recently sent first: it keeps two generations of
    at most ``limit / 2`` keys each, and when the newer one is full the older
    one is dropped. A key seen in the older generation moves to the newer one,
    so the conversations in progress stay known however many the process has
    seen (forgetting them all at once would make each of them send every owner
    and contact its unchanged maps again).
    """

    def __init__(self, limit: int = 400_000):
        self.limit = limit
        self.digests: dict[str, bytes] = {}  # the newer generation
        self.older: dict[str, bytes] = {}

    def changed(self, key: str, value: bytes = b"") -> bool:
        digest = hashlib.blake2b(value, digest_size=16).digest()
        known = self.digests.get(key)
        if known is None:  # a new key, or one of the older generation: the newer one keeps it now
            known = self.older.pop(key, None)
            self._keep(key, digest)
        elif known != digest:
            self.digests[key] = digest
        return known != digest

    def _keep(self, key: str, digest: bytes) -> None:
        if key not in self.digests and len(self.digests) >= self.limit // 2:
            self.older, self.digests = self.digests, {}
        self.digests[key] = digest

    def clear(self) -> None:
        """Forget everything: what was recorded as sent may not have left."""
        self.digests.clear()
        self.older.clear()

    def __len__(self) -> int:
        return len(self.digests) + len(self.older)


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2), as for every keyed topic here."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Outbox:
    """Re-keyed records of one batch, bundled: one Kafka record per destination partition
    (``{"items": [...]}``) instead of one per key. Flushed before the batch counts as processed."""

    MAX_ITEMS = 400

    def __init__(self, app, topic: str, partitions: int):
        self.app, self.topic, self.partitions = app, topic, partitions
        self.items: dict[int, list] = defaultdict(list)

    def add(self, key: str, item, sent: SentInProcess | None = None, sent_key: str | None = None) -> None:
        """Queue an item for the partition of ``key``; skipped when ``sent`` has seen the same item under ``sent_key``."""
        if sent is not None and not sent.changed(sent_key, dumps(item)):
            return
        self.items[partition_for(key, self.partitions)].append(item)

    async def flush(self) -> None:
        for p, items in self.items.items():
            for i in range(0, len(items), self.MAX_ITEMS):
                value = dumps({"items": items[i:i + self.MAX_ITEMS]})
                await self.app.producer.send(self.topic, None, value, p, None, None)
        self.items.clear()


def bundled_items(records):
    """(record, item) for every item of the bundles in a batch of one partition."""
    for record in records:
        if record.value is None:
            continue
        try:
            items = orjson.loads(record.value)["items"]
        except (ValueError, KeyError, TypeError) as exc:  # written by us: a bug, not input
            log.error("bad bundle at %s[%d]@%d: %r", record.topic, record.partition, record.offset, exc)
            continue
        for item in items:
            yield record, item
