"""The broker as the benchmarks see it: record counts, a group's lag, exports timed, topics cleaned up."""
from __future__ import annotations

import asyncio
import time
import uuid

from bench.common import log
from convoflow.contract.config import Settings
from convoflow.tools.publish import request_export

INTERNAL = ("contact-updates", "people-updates")
CHANGELOG_TABLES = ("conversations", "contacts", "presence", "directory", "owner_conversations", "owner_days", "export_log")


async def _admin_and_consumer(settings: Settings):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    return admin, consumer


async def topic_partitions(consumer, topics: list[str]):
    from convoflow.contract.topics import partitions_of

    tps = []
    for t in topics:
        tps += await partitions_of(consumer, t)
    return tps


async def count_records(settings: Settings, topics: list[str]) -> dict[str, int]:
    """end - beginning offsets per topic (the records a reader of the whole topic gets)."""
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        out: dict[str, int] = {}
        for tp in tps:
            out[tp.topic] = out.get(tp.topic, 0) + ends[tp] - begins[tp]
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def watch_lag(settings: Settings, topics: list[str], group: str, workers: list, poll: float = 0.25,
                    timeout: float = 7200) -> dict:
    """Poll the group's committed offsets against end offsets until lag 0 twice in a row.

    Returns the wall-clock time of the first poll that saw a committed offset
    (and what was committed then), and of the first of the two lag-0 polls.
    """
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        first = None
        zero_since = None
        deadline = time.monotonic() + timeout
        inputs = set(settings.input_topics())
        last_report = 0.0
        while time.monotonic() < deadline:
            for worker in workers:  # the group's workers (WorkerProcess)
                if worker.proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {worker.proc.returncode}:\n{worker.tail()}")
            now = time.time()
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            done = {tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps}
            lag = sum(max(ends[tp] - done[tp], 0) for tp in tps)
            input_done = sum(done[tp] for tp in tps if tp.topic in inputs)
            if first is None and sum(done.values()) > 0:
                first = {"time": now, "input_committed": input_done}
            if lag == 0 and first is not None:
                if zero_since is None:
                    zero_since = now
                else:
                    return {"first": first, "caught_up": zero_since,
                            "internal_records": sum(ends[tp] for tp in tps if tp.topic not in inputs)}
            else:
                zero_since = None
            if now - last_report > 15:
                last_report = now
                log(f"  ingest: lag {lag:,}, input committed {input_done:,}")
            await asyncio.sleep(poll)
        raise TimeoutError(f"the worker did not catch up within {timeout:.0f} s")
    finally:
        await consumer.stop()
        await admin.close()


async def group_lag(settings: Settings, topics: list[str], group: str) -> int:
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return sum(max(ends[tp] - max(committed[tp].offset if tp in committed else 0, 0), 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


def export_request(export_type: str, date_from: str, date_to: str, as_of: str, tz: str = "UTC") -> dict:
    return {"request_id": f"bench-{export_type}-{uuid.uuid4().hex[:10]}", "export_type": export_type,
            "time_zone": tz, "date_from": date_from, "date_to": date_to, "as_of": as_of}


def timed_export(settings: Settings, request: dict, timeout: float) -> tuple[float, dict]:
    started = time.monotonic()
    result = asyncio.run(request_export(settings, request, timeout))
    elapsed = time.monotonic() - started
    if result.get("status") != "completed":
        raise RuntimeError(f"export {request['export_type']} failed: {result}")
    return elapsed, result


async def precreate_quix_changelogs(settings: Settings, group: str, topics: list[str]) -> None:
    """Create Quix's changelog topics in one request (Quix creates them one by one, about 1 s each)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1"}
        await admin.create_topics([NewTopic(f"changelog__{group}--{t}--default", settings.partitions, 1,
                                            topic_configs=config) for t in topics])
    finally:
        await admin.close()


async def delete_topics(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)
                 or t.startswith(f"changelog__{settings.topic_prefix}") or t.startswith(f"repartition__{settings.topic_prefix}")]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
