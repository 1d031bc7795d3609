"""Every worker's reader of ``export-parts``: the rows shards send reach the export waiting for them.

A plain consumer (no group) of every partition, from the end at start: an
export only waits for parts of the shard requests it sends afterwards, under a
token of its own (``Coordinator.fan_out``).

Exports read end offsets through a client of their own (``offsets``), which
never fetches: the broker answers a connection's requests in order, and the
reader's connection nearly always has a fetch waiting for parts (up to
``fetch_max_wait_ms``), which each of an export's end-offset reads would wait
behind (some 45 ms each, three an export).
"""
from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaConsumer

from convoflow.contract.topics import changelog_topic, partitions_of, partitions_of_topics
from convoflow.streams.polling import poll
from convoflow.streams.runtime import Runtime


class Inbox:
    """Every worker's reader of ``export-parts``: hands each part to the export waiting for it."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.waiting: dict[str, asyncio.Queue] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.offsets: AIOKafkaConsumer | None = None  # for end offsets only: nothing assigned, never fetches
        self.started = asyncio.Event()

    async def start(self) -> None:
        s = self.runtime.settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap, group_id=None, enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_wait_ms=50, **s.kafka_kwargs(),
        )
        await self.consumer.start()
        self.offsets = AIOKafkaConsumer(bootstrap_servers=s.bootstrap, group_id=None, enable_auto_commit=False,
                                        **s.kafka_kwargs())
        await self.offsets.start()
        tps = await partitions_of(self.consumer, s.topic("export-parts"))
        self.consumer.assign(tps)
        # Learn now the topics whose end offsets every export reads (one request, not one per topic).
        await partitions_of_topics(self.offsets, [*s.input_topics(), s.topic("contact-updates"), s.topic("people-updates"),
                                                  changelog_topic(s, "directory"), changelog_topic(s, "contacts")])
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.task = asyncio.ensure_future(self._run())
        self.started.set()

    async def _run(self) -> None:
        while True:
            batches = await poll(self.consumer, "export-parts", timeout_ms=100)
            for records in batches.values():
                for r in records:
                    queue = self.waiting.get(r.key.decode()) if r.key else None
                    if queue is not None:
                        queue.put_nowait(orjson.loads(r.value))

    async def stop(self) -> None:
        if getattr(self, "task", None):
            self.task.cancel()
        for consumer in (self.consumer, self.offsets):
            if consumer is not None:
                await consumer.stop()
