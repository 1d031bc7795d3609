"""What the agents of a worker share: how far each partition is processed, and dead letters
that keep the record's bytes and say where it came from and why."""
import asyncio
from types import SimpleNamespace

import pytest

from convoflow.contract.config import Settings
from convoflow.streams.runtime import Runtime, reason_kind

from .worker_app import record


def test_a_partition_is_marked_processed_only_forwards():
    r = Runtime(Settings())
    r.mark("t", 0, 5)
    r.mark("t", 0, 3)  # a batch applied again after a retry
    assert r.processed == {("t", 0): 5}
    assert r.position("t", 0) == 5 and r.position("t", 1) == 0


def test_waiting_for_a_partition_returns_once_it_is_processed_and_times_out_otherwise():
    r = Runtime(Settings())
    r.mark("t", 2, 10)
    asyncio.run(r.wait_processed({"t": {"2": 10}}, 2, timeout=1))
    with pytest.raises(TimeoutError, match="partition 2"):
        asyncio.run(r.wait_processed({"t": {2: 11}}, 2, timeout=0.05))


def test_a_dead_letter_keeps_the_bytes_and_names_its_source_and_reason():
    sent = []

    async def send(topic, key, value, partition, timestamp, headers):
        sent.append((topic, key, value, dict(headers)))

    settings = Settings()
    r = Runtime(settings, SimpleNamespace(producer=SimpleNamespace(send=send)))
    asyncio.run(r.dead_letter(record("in", 3, 42, b"k1", b"{bad"), "invalid JSON: line 1 'x'"))
    assert sent == [(settings.topic("dead-letters"), b"k1", b"{bad", {
        "source_topic": b"in", "source_partition": b"3", "source_offset": b"42", "reason": b"invalid JSON: line 1 'x'"})]
    assert r.counts["dead_letters"] == 1 and r.dead_letters == {"invalid JSON": 1}


def test_a_reason_kind_leaves_the_particulars_out():
    assert reason_kind("missing field: 'conversation_id'") == "missing field"
    assert reason_kind("unknown type 'x' in the event") == "unknown type"
