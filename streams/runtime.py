"""What the agents share in one worker: settings, processed offsets, dead letters, partition context."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from aiokafka.partitioner import murmur2
from faust.streams import _current_event, current_event
from mode.utils.aiter import aiter
from mode.utils.futures import notify

from convoflow.config import Settings

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
    sent: SentInProcess = field(default_factory=lambda: SentInProcess())

    def mark(self, event) -> None:
        msg = event.message
        key = (msg.topic, msg.partition)
        if self.processed.get(key, -1) <= msg.offset:
            self.processed[key] = msg.offset + 1

    def position(self, topic: str, partition: int) -> int:
        """How far this worker has processed a partition: in this process, or committed before it."""
        done = self.processed.get((topic, partition), 0)
        consumer = getattr(self.app, "consumer", None)
        if consumer is not None:
            from faust.types import TP

            committed = consumer._committed_offset.get(TP(topic, partition))
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

    async def dead_letter(self, event, reason: str) -> None:
        """The original key and value bytes, with headers naming where they came from and why."""
        msg = event.message
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


# How long a failing batch is retried (a broker that is away comes back) before its events are
# applied one by one and those that still fail go to dead letters.
RETRY_FOR_SECONDS = 120.0


async def batches(stream, max_: int, within: float):
    """Faust's ``Stream.take_events``, except that a batch is acknowledged only when
    the agent asks for the next one.

    Faust's version acknowledges the buffered events in a ``finally``: a batch
    cut short by an error or by a shutdown counted as processed, its offsets were
    committed and its events were lost (seen as a message missing after a worker
    stopped under load). Here an interrupted batch stays unacknowledged, so its
    offsets are not committed and it is read again.
    """
    events: list = []
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    consuming = None

    async def add_to_buffer(value):
        nonlocal consuming
        if consuming is not None:
            try:
                await consuming
            finally:
                consuming = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("batch reader found no current event")
        events.append(event)
        if len(events) >= max_:
            buffer_full.set()
            buffer_consumed.clear()
            await stream.wait(buffer_consumed)
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(buffer_full, timeout=within)
            if not events:
                continue
            consuming = asyncio.get_running_loop().create_future()
            batch = list(events)
            try:
                yield batch
                # Reached only when the agent asks for more: an interrupted batch stays
                # unacknowledged and is read again after the restart (or by the partition's next owner).
                for event in batch:
                    await stream.ack(event)
            finally:
                events.clear()
                notify(consuming)
                buffer_full.clear()
                buffer_consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)


async def apply_batches(runtime: "Runtime", stream, apply) -> None:
    """Run ``apply(events)`` on each batch of the stream, marking its events processed.

    A batch that raises is retried (every apply is idempotent) for up to
    RETRY_FOR_SECONDS; then its events are applied one at a time and any that
    still fails goes to ``dead-letters`` with the error, so one poisonous event
    can neither stop the agent nor take the rest of its batch with it.
    """
    runtime.sent.digests.clear()  # an agent restarted after an error may not have sent its last batch
    async for batch in batches(stream, runtime.settings.batch_size, 0.05):
        if await _attempt(runtime, apply, batch, RETRY_FOR_SECONDS) is not None:
            for event in batch:
                error = await _attempt(runtime, apply, [event], 0)
                if error is not None:
                    await runtime.dead_letter(event, f"internal error while applying the event: {error}")
        for event in batch:
            runtime.mark(event)


async def _attempt(runtime: "Runtime", apply, events: list, retry_for: float) -> str | None:
    """None once ``apply(events)`` succeeded; the last error when it still fails after ``retry_for`` s."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + retry_for, 0.1
    while True:
        try:
            await apply(events)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a broker away: never silently drop the batch
            runtime.counts["apply_errors"] += 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            # What the failed attempt recorded as sent may never have left: send it all again.
            runtime.sent.digests.clear()
            log.exception("applying %d events failed (%s)", len(events), error)
            if loop.time() + delay > deadline:
                return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def poll(consumer, what: str, **getmany):
    """``consumer.getmany`` for the plain aiokafka readers of a worker, waiting out a broker
    that went away (the client reconnects by itself)."""
    while True:
        try:
            return await consumer.getmany(**getmany)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s fetch failed: %r", what, exc)
            await asyncio.sleep(0.5)


class SentInProcess:
    """What this process has already sent or written, per key: a repeat is skipped.

    Only within one process: after a restart it is empty, so a replay after a
    crash re-sends and re-writes everything (which is what makes replays safe).
    Bounded: forgetting a key only means sending its value again, harmlessly.
    """

    def __init__(self, limit: int = 400_000):
        self.limit = limit
        self.digests: dict[str, bytes] = {}

    def changed(self, key: str, value: bytes = b"") -> bool:
        digest = hashlib.blake2b(value, digest_size=16).digest()
        if self.digests.get(key) == digest:
            return False
        if len(self.digests) >= self.limit:
            self.digests.clear()
        self.digests[key] = digest
        return True


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


def bundled_items(events):
    """(event, item) for every item of the bundles in a batch of one partition."""
    for ev in events:
        if ev.value is None:
            continue
        try:
            items = orjson.loads(ev.value)["items"]
        except (ValueError, KeyError, TypeError) as exc:  # written by us: a bug, not input
            log.error("bad bundle at %s[%d]@%d: %r", ev.message.topic, ev.message.partition, ev.message.offset, exc)
            continue
        for item in items:
            yield ev, item


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars (values, field names after the first words)."""
    return reason.split(":", 1)[0].split("'", 1)[0].strip()[:60]


def by_partition(events) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for event in events:
        groups[event.message.partition].append(event)
    return groups


class partition_context:
    """Make table writes of a batch go to one partition's store and changelog.

    Faust picks the partition of a table write from the current event; a batch
    from ``batches`` mixes partitions, so each group is written under one of
    its own events.
    """

    def __init__(self, event):
        self.event = event

    def __enter__(self):
        self.token = _current_event.set(weakref.ref(self.event))
        return self

    def __exit__(self, *exc):
        _current_event.reset(self.token)


def dumps(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(value: bytes | None):
    return None if value is None else orjson.loads(value)


__all__ = ["Runtime", "by_partition", "partition_context", "current_event", "dumps", "loads", "log"]
