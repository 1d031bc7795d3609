"""The results of exports as every worker sees them on ``export-results``, and their files.

``Results`` follows the topic for the export page (status and recent
exports), the scheduler (which waits for its exports' results) and
``/metrics``; ``fetch_from_owner`` downloads the file of an export that
another worker coordinated.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

import orjson
from aiokafka import AIOKafkaConsumer

from convoflow.contract.config import Settings
from convoflow.contract.topics import partitions_of
from convoflow.streams.polling import poll
from convoflow.streams.runtime import log

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def now_us() -> int:
    return int(time.time() * 1_000_000)


def rfc3339(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Results:
    """The latest result of recent exports, as every worker sees them on ``export-results``.

    A plain consumer (no group) of every partition, from ``backlog`` records
    before the end at start, then following; requests made through this
    worker's page are listed as "requested" until their first result arrives.
    """

    def __init__(self, settings: Settings, backlog: int = 200, keep: int = 500):
        self.settings = settings
        self.backlog, self.keep = backlog, keep
        self.latest: OrderedDict[str, dict] = OrderedDict()
        self.requested: OrderedDict[str, dict] = OrderedDict()
        self.listeners: list = []
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task | None = None
        self.started = asyncio.Event()

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap, group_id=None,
                                         enable_auto_commit=False, fetch_max_wait_ms=100,
                                         **self.settings.kafka_kwargs())
        await self.consumer.start()
        tps = await partitions_of(self.consumer, self.settings.topic("export-results"))
        self.consumer.assign(tps)
        begin = await self.consumer.beginning_offsets(tps)
        end = await self.consumer.end_offsets(tps)
        for tp in tps:
            self.consumer.seek(tp, max(begin[tp], end[tp] - self.backlog))
        self.task = asyncio.ensure_future(self._run())
        self.started.set()

    async def _run(self) -> None:
        while True:
            batches = await poll(self.consumer, "export-results", timeout_ms=200)
            for records in batches.values():
                for r in records:
                    self.apply(r.value)

    def apply(self, value: bytes | None) -> None:
        try:
            result = orjson.loads(value)
            rid = result["request_id"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return
        previous = self.latest.pop(rid, None) or self.requested.pop(rid, None) or {}
        self.latest[rid] = {**previous, **result}
        while len(self.latest) > self.keep:
            self.latest.popitem(last=False)
        for listener in self.listeners:
            try:
                listener(self.latest[rid])
            except Exception as exc:  # a listener's bug must not stop the reader
                log.warning("export result listener failed: %r", exc)

    def note_request(self, request: dict) -> None:
        rid = request["request_id"]
        if rid not in self.latest:
            self.requested[rid] = {**request, "status": "requested", "requested_at": rfc3339(now_us())}
            while len(self.requested) > self.keep:
                self.requested.popitem(last=False)

    def get(self, rid: str) -> dict | None:
        return self.latest.get(rid) or self.requested.get(rid)

    def recent(self, limit: int = 50) -> list[dict]:
        items = {**self.requested, **self.latest}
        ordered = sorted(items.values(), key=lambda r: r.get("requested_at") or "", reverse=True)
        return ordered[:limit]

    async def end_offsets(self, tps) -> dict:
        return await self.consumer.end_offsets(tps)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        if self.consumer is not None:
            await self.consumer.stop()


def public_result(result: dict) -> dict:
    """A result as the page shows it: without the coordinator's local path, with a download link."""
    out = {k: v for k, v in result.items() if k != "file"}
    if result.get("status") == "completed":
        out["download_url"] = f"/exports/download/{result['request_id']}"
    return out


async def fetch_from_owner(app, rid: str, token: str = "") -> bytes | None:
    """The file of an export coordinated by another worker (its export folder is not ours):
    the coordinator of a request owns its partition of export_log, and serves /exports/<id>.csv."""
    import aiohttp

    try:
        url = app.router.key_store("export_log", rid.encode())
    except Exception:
        return None
    own = f"http://{app.conf.web_host}:{app.conf.web_port}"
    if str(url).rstrip("/") == own:
        return None
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), headers=headers) as session:
            async with session.get(f"{str(url).rstrip('/')}/exports/{rid}.csv") as resp:
                if resp.status != 200:
                    return None
                return await resp.read()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return None
