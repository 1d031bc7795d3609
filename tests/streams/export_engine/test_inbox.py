"""The inbox (streams/export_engine/inbox.py): each part read from export-parts goes to the export that waits
for its token; parts of exports nobody here waits for are passed over."""
import asyncio
from types import SimpleNamespace

import orjson
from aiokafka.structs import ConsumerRecord

from convoflow.streams.export_engine import inbox as inbox_module
from convoflow.streams.export_engine.inbox import Inbox


def part(key: bytes | None, shard: int) -> ConsumerRecord:
    value = orjson.dumps({"shard": shard, "run": 0, "rows": [[["c1"], "c1\r\n"]], "done": True, "error": None})
    return ConsumerRecord("t-export-parts", 0, shard, 0, 0, key, value, None, 0, len(value), ())


def test_each_part_reaches_the_export_waiting_for_its_token(monkeypatch):
    batches = [{"tp": [part(b"r1.abc", 1), part(b"r9.zzz", 2), part(None, 3)]}, {"tp": [part(b"r1.abc", 4)]}]

    async def poll(consumer, name, timeout_ms):
        assert name == "export-parts"
        if batches:
            return batches.pop(0)
        await asyncio.sleep(3600)

    monkeypatch.setattr(inbox_module, "poll", poll)

    async def scenario():
        inbox = Inbox(SimpleNamespace(settings=None))
        queue = inbox.waiting["r1.abc"] = asyncio.Queue()
        inbox.task = asyncio.ensure_future(inbox._run())
        got = [await asyncio.wait_for(queue.get(), 1.0) for _ in range(2)]
        await inbox.stop()
        return got, queue.qsize()

    got, left = asyncio.run(scenario())
    assert [p["shard"] for p in got] == [1, 4] and left == 0
    assert got[0]["rows"] == [[["c1"], "c1\r\n"]]
