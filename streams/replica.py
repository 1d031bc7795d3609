"""A read-only copy, in every worker, of tables that every report joins with (directory, contact identifiers).

It tails the tables' changelog topics with a plain consumer (no group, every
partition, from the beginning), so any worker can name things in any row; an
export first waits until the copy has read up to the end offsets it was given.
The directory is small and stays in memory; the contact identifiers grow with
the contacts and go to a RocksDB store (``convoflow.streams.contact_copy``).
"""
from __future__ import annotations

import asyncio
import os

import orjson
from aiokafka import AIOKafkaConsumer
from rocksdict import BlockBasedOptions, Options

from convoflow.contract.config import Settings
from convoflow.contract.topics import changelog_topic, partitions_of
from convoflow.streams.contact_copy import NONE, ContactCopy
from convoflow.streams.polling import poll
from convoflow.streams.state.memory import share_memory
from convoflow.tables import contact
from convoflow.tables.directory import Directory

CONTACT_COPY_DIR = "replica-contacts"  # the contact identifiers' copy, in the worker's data dir


class Replica:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.directory = Directory()
        self.identifiers: ContactCopy | None = None  # open from start() to stop()
        self.directory_topic = changelog_topic(settings, "directory")
        self.topics = [self.directory_topic, changelog_topic(settings, "contacts")]
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def contact_identifiers(self, contact_id: str | None) -> tuple[str | None, str | None]:
        return NONE if self.identifiers is None else self.identifiers.get(contact_id)

    def _on_directory(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.directory.entries.pop(key.decode(), None)
        else:
            self.directory.entries[key.decode()] = orjson.loads(value)

    async def start(self) -> None:
        options = Options(raw_mode=True)
        share_memory(options, BlockBasedOptions())
        self.identifiers = ContactCopy.create(os.path.join(self.settings.data_dir, CONTACT_COPY_DIR), options)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024, **self.settings.kafka_kwargs(),
        )
        await self.consumer.start()
        tps = []
        for topic in self.topics:
            tps += await partitions_of(self.consumer, topic)
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self.task = asyncio.ensure_future(self._run())
        self.ready.set()

    async def _run(self) -> None:
        while True:
            batches = await poll(self.consumer, "replica", timeout_ms=100, max_records=5000)
            contacts: dict[bytes, tuple] = {}
            for tp, records in batches.items():
                if tp.topic == self.directory_topic:
                    for r in records:
                        self._on_directory(r.key, r.value)
                    continue
                for r in records:  # the latest record of a key wins, as in the changelog
                    contacts[r.key] = contact.identifiers(orjson.loads(r.value)) if r.value is not None else NONE
            if contacts:
                self.identifiers.apply(contacts)

    async def wait_for(self, ends: dict[str, dict], timeout: float) -> None:
        from aiokafka import TopicPartition

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await asyncio.wait_for(self.ready.wait(), timeout)  # a shard may be asked before the copy has started
        for topic, parts in ends.items():
            for partition, end in parts.items():
                tp = TopicPartition(topic, int(partition))
                while await self.consumer.position(tp) < end:
                    if loop.time() > deadline:
                        raise TimeoutError(f"the directory/contact copy did not reach {topic}[{partition}]@{end}")
                    await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        if self.consumer:
            await self.consumer.stop()
        if self.identifiers is not None:
            self.identifiers.close()
            self.identifiers = None
