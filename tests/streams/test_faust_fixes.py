"""Faust's producer buffer flush, as fixed: it returns only when every record is with aiokafka."""
import asyncio

import pytest

from streams import faust_fixes


class Buffer:
    state = "running"

    def __init__(self, records):
        self.queue = list(records)
        self.convoflow_sending = 0

    @property
    def size(self):
        return len(self.queue)

    async def drain(self, slow_record_seconds):
        """Like Faust's _handle_pending: take a record off the queue, then hand it over (slowly)."""
        while self.queue:
            self.queue.pop(0)
            self.convoflow_sending += 1
            await asyncio.sleep(slow_record_seconds)
            self.convoflow_sending -= 1


def test_flush_waits_through_a_slow_record_and_the_one_in_flight():
    async def scenario():
        buffer = Buffer(range(3))
        drain = asyncio.create_task(buffer.drain(0.15))  # longer than the 0.1 s after which Faust gave up
        await faust_fixes._flush_buffer(buffer)
        flushed_with = (buffer.size, buffer.convoflow_sending)
        await drain
        return flushed_with

    assert asyncio.run(scenario()) == (0, 0)


def test_flush_of_a_stopped_producer_with_records_left_is_an_error():
    buffer = Buffer([1])
    buffer.state = "stopping"
    with pytest.raises(RuntimeError, match="not Running"):
        asyncio.run(faust_fixes._flush_buffer(buffer))
