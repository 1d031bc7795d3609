"""Producing to convoflow: events routed by type to their topic and key, export requests and their results."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from convoflow.config import Settings
from convoflow.events import Rejected, record_key, topic_of
from convoflow.topics import ensure_topics, partitions_of


@dataclass
class Summary:
    published: int = 0
    per_topic: dict = field(default_factory=dict)
    rejected: list = field(default_factory=list)  # (line number, reason)


def route(event) -> tuple[str, str]:
    """(logical topic, key) of an event dict; Rejected when it cannot be routed."""
    if not isinstance(event, dict):
        raise Rejected("not a JSON object")
    typ = event.get("type")
    if not isinstance(typ, str):
        raise Rejected("no string 'type'")
    topic = topic_of(typ)
    try:
        key = record_key(event)
    except (KeyError, TypeError):
        raise Rejected(f"no key field for {typ}") from None
    if not isinstance(key, str) or not key or key.endswith(":None"):
        raise Rejected(f"no key field for {typ}")
    return topic, key


async def _producer(settings: Settings) -> AIOKafkaProducer:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                max_request_size=8 * 1024 * 1024, acks="all")
    await producer.start()
    return producer


async def _publish(settings: Settings, items) -> Summary:
    """items: (line number, raw bytes, decoded event or None)."""
    summary = Summary()
    producer = await _producer(settings)
    try:
        pending = []
        for line_no, raw, event in items:
            try:
                topic, key = route(event)
            except Rejected as exc:
                summary.rejected.append((line_no, exc.reason))
                continue
            name = settings.topic(topic)
            pending.append(await producer.send(name, raw, key=key.encode()))
            summary.per_topic[name] = summary.per_topic.get(name, 0) + 1
            summary.published += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return summary


async def publish_lines(settings: Settings, stream) -> Summary:
    def items():
        for line_no, line in enumerate(stream, 1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                event = None
                yield line_no, line, {"__invalid__": str(exc)}
                continue
            yield line_no, line, event

    return await _publish(settings, items())


async def publish_events(settings: Settings, events) -> Summary:
    return await _publish(settings, ((i, orjson.dumps(e), e) for i, e in enumerate(events, 1)))


async def request_export(settings: Settings, request: dict, timeout: float, on_progress=None) -> dict:
    """Publish a request on the control topic and wait for its final result."""
    producer = await _producer(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, settings.topic("export-results"))
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        rid = request["request_id"]
        await producer.send_and_wait(settings.topic("export-requests"), orjson.dumps(request), key=rid.encode())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    if r.key != rid.encode():
                        continue
                    result = orjson.loads(r.value)
                    if on_progress:
                        on_progress(result)
                    if result["status"] in ("completed", "failed"):
                        return result
        return {"request_id": rid, "status": "failed", "error": f"no result within {timeout:.0f} s"}
    finally:
        await consumer.stop()
        await producer.stop()
