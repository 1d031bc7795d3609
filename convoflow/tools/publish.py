"""Producing to convoflow: events routed by type to their topic and key, export requests and their results.

``convoflow publish`` reads JSON lines, plain or gzip'd (detected by gzip's
magic bytes, whatever the name), from a file of any size or stdin, streaming: each
line is decoded and routed here (a line that cannot be routed, such as invalid
JSON, a non-object, an unknown type, no key field or more than 1 MiB, is
rejected locally with its line number and never sent); the contract's other
checks happen in the workers, which send what they reject to ``dead-letters``.
"""
from __future__ import annotations

import asyncio
import gzip
import io
import os
import sys
import time
import zlib
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from convoflow.contract.config import Settings
from convoflow.contract.events import MAX_RECORD_BYTES, Rejected, record_key, topic_of
from convoflow.contract.topics import DURABLE_PRODUCER, ensure_topics, partitions_of

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class Summary:
    published: int = 0
    per_topic: dict = field(default_factory=dict)
    rejected: list = field(default_factory=list)  # (line number, reason)
    lines: int = 0
    bytes_read: int = 0  # of the input as stored (compressed bytes for gzip)
    error: str | None = None  # the input could not be read to its end (truncated gzip, ...)


class InputError(Exception):
    """The input cannot be read (missing file, not gzip, truncated): a message, no traceback."""


class _Counting(io.RawIOBase):
    """A raw reader that counts the bytes it hands out (progress over the stored, maybe compressed, bytes)."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class Input:
    """A JSON-lines input: a path, or '-' for stdin; gzip when its first bytes are gzip's magic number."""

    def __init__(self, path: str, stdin=None):
        self.path = path
        if path == "-":
            raw, self.total = (stdin or sys.stdin.buffer), None
        else:
            try:
                raw = open(path, "rb")
            except OSError as exc:
                raise InputError(f"cannot open {path}: {exc.strerror}") from None
            self.total = os.fstat(raw.fileno()).st_size
        self._raw = raw
        self.counter = _Counting(raw)
        buffered = io.BufferedReader(self.counter, buffer_size=1 << 20)
        # The first two bytes decide (a .gz name on a plain file is read as plain, and the reverse).
        self.gzip = buffered.peek(2)[:2] == GZIP_MAGIC
        self.stream = gzip.GzipFile(fileobj=buffered, mode="rb") if self.gzip else buffered

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def __iter__(self):
        try:
            yield from self.stream
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise InputError(f"{self.path}: {'not a valid gzip file' if self.gzip else 'read failed'}: {exc}") from None

    def close(self) -> None:
        if self.path != "-":
            self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def decode_line(line: bytes):
    """One input line -> (topic, key, value bytes), or None for a blank line; Rejected with the reason."""
    line = line.rstrip(b"\r\n")
    if line.startswith(UTF8_BOM):
        line = line[len(UTF8_BOM):]
    if not line.strip():
        return None
    if len(line) > MAX_RECORD_BYTES:
        raise Rejected(f"line of {len(line)} bytes; at most {MAX_RECORD_BYTES} are accepted")
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"invalid JSON: {exc}") from None
    topic, key = route(event)
    return topic, key, line


def read_lines(lines, start: int = 1):
    """(line number, topic, key, value) for every routable line, (line number, reason) for a rejected one."""
    for line_no, line in enumerate(lines, start):
        try:
            decoded = decode_line(line)
        except Rejected as exc:
            yield line_no, exc.reason
            continue
        if decoded is not None:
            yield (line_no, *decoded)


class Progress:
    """A one-line progress report on stderr: lines, MB read (of the total), rate; redrawn in place on a
    terminal, one line every ``interval`` s otherwise. ``clock`` is injectable for tests."""

    def __init__(self, total: int | None, out=None, interval: float | None = None, clock=time.monotonic):
        self.total = total
        self.out = out if out is not None else sys.stderr
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.2 if self.tty else 5.0)
        self.clock = clock
        self.started = clock()
        self.last = self.started

    def line(self, lines: int, bytes_read: int, published: int, rejected: int) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        mb = bytes_read / 1e6
        text = f"{lines:,} lines, {mb:,.1f}"
        if self.total:
            fraction = min(1.0, bytes_read / self.total)
            filled = int(fraction * 20)
            text = f"[{'#' * filled}{'.' * (20 - filled)}] {fraction * 100:5.1f}% " + text + f"/{self.total / 1e6:,.1f}"
        text += f" MB, {lines / elapsed:,.0f} lines/s, {mb / elapsed:,.1f} MB/s; published {published:,}"
        if rejected:
            text += f", rejected {rejected:,}"
        return text

    def update(self, lines: int, bytes_read: int, published: int, rejected: int, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        text = self.line(lines, bytes_read, published, rejected)
        self.out.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.out.flush()

    def finish(self, lines: int, bytes_read: int, published: int, rejected: int) -> None:
        self.update(lines, bytes_read, published, rejected, force=True)
        if self.tty:
            self.out.write("\n")
            self.out.flush()


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
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, **settings.kafka_kwargs(), linger_ms=20,
                                max_batch_size=512 * 1024,
                                max_request_size=8 * 1024 * 1024, **DURABLE_PRODUCER)
    await producer.start()
    return producer


async def _send(producer: AIOKafkaProducer, summary: Summary, pending: list, name: str, value: bytes, key: str) -> None:
    """Queue one record and count it; every 20,000 queued records, wait for their delivery."""
    pending.append(await producer.send(name, value, key=key.encode()))
    summary.per_topic[name] = summary.per_topic.get(name, 0) + 1
    summary.published += 1
    if len(pending) >= 20_000:
        await asyncio.gather(*pending)
        pending.clear()


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
            await _send(producer, summary, pending, settings.topic(topic), raw, key)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return summary


async def publish_lines(settings: Settings, stream, progress: Progress | None = None) -> Summary:
    """Publish JSON lines (an iterable of bytes lines: a file, or an ``Input``); the summary counts
    what was published per topic and lists what was rejected locally, by line number."""
    summary = Summary()
    producer = await _producer(settings)
    counted = getattr(stream, "bytes_read", None)
    pending = []
    try:
        for item in read_lines(_counting_lines(stream, summary)):
            if len(item) == 2:
                summary.rejected.append(item)
            else:
                _, topic, key, value = item
                await _send(producer, summary, pending, settings.topic(topic), value, key)
            if progress is not None and (summary.published + len(summary.rejected)) % 256 == 0:
                summary.bytes_read = stream.bytes_read if counted is not None else summary.bytes_read
                progress.update(summary.lines, summary.bytes_read, summary.published, len(summary.rejected))
        await asyncio.gather(*pending)
    except InputError as exc:
        await asyncio.gather(*pending)
        summary.error = str(exc)
    finally:
        await producer.stop()
    if counted is not None:
        summary.bytes_read = stream.bytes_read
    if progress is not None:
        progress.finish(summary.lines, summary.bytes_read, summary.published, len(summary.rejected))
    return summary


def _counting_lines(stream, summary: Summary):
    for line in stream:
        summary.lines += 1
        if not hasattr(stream, "bytes_read"):
            summary.bytes_read += len(line)
        yield line


async def publish_events(settings: Settings, events) -> Summary:
    return await _publish(settings, ((i, orjson.dumps(e), e) for i, e in enumerate(events, 1)))


class NoWorker(Exception):
    """No worker answered an export request in time: none runs, or not with this topic prefix."""


async def request_export(settings: Settings, request: dict, timeout: float, on_progress=None,
                         no_worker_timeout: float | None = None) -> dict:
    """Publish a request on the control topic and wait for its final result (a ``failed`` one after
    ``timeout`` s). With ``no_worker_timeout``, raise ``NoWorker`` when no result of any status has
    come after that many seconds: a worker answers at once with ``running`` (or its earlier result)."""
    producer = await _producer(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
                                **settings.kafka_kwargs())
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
        sent = loop.time()
        deadline = sent + timeout
        answered = False
        while loop.time() < deadline:
            if not answered and no_worker_timeout is not None and loop.time() - sent >= no_worker_timeout:
                raise NoWorker(f"no worker answered on {settings.topic('export-requests')}: "
                               "is a worker running with the same --topic-prefix?")
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    if r.key != rid.encode():
                        continue
                    answered = True
                    result = orjson.loads(r.value)
                    if on_progress:
                        on_progress(result)
                    if result["status"] in ("completed", "failed"):
                        return result
        return {"request_id": rid, "status": "failed", "error": f"no result within {timeout:.0f} s"}
    finally:
        await consumer.stop()
        await producer.stop()
