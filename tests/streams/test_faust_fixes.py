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


def consumer_for_delivery(*, suspended=False, flowing=True, locked=False, buffered=0, full=False):
    from types import SimpleNamespace

    lock = asyncio.Lock()
    if locked:
        lock._locked = True
    queue = SimpleNamespace(full=lambda: full)
    app = SimpleNamespace(
        flow_control=SimpleNamespace(is_active=lambda: flowing),
        producer=SimpleNamespace(buffer=SimpleNamespace(size=buffered, max_messages=100)),
        topics=SimpleNamespace(_tp_index={"tp": [SimpleNamespace(queue=queue)]}, _tp_to_callback_lock=lock),
    )
    return SimpleNamespace(app=app, suspend_flow=SimpleNamespace(is_set=lambda: suspended))


def test_a_record_is_delivered_directly_only_when_its_delivery_cannot_wait():
    assert faust_fixes._delivers_at_once(consumer_for_delivery())("tp")
    for blocked in ({"suspended": True}, {"flowing": False}, {"locked": True}, {"buffered": 101}, {"full": True}):
        assert not faust_fixes._delivers_at_once(consumer_for_delivery(**blocked))("tp"), blocked


def test_a_rebalance_collects_garbage_only_for_a_table_that_loses_a_partition(monkeypatch):
    from types import SimpleNamespace

    from faust.types import TP

    calls = []
    monkeypatch.setattr(faust_fixes, "_revoke_partitions", lambda store, table, tps: calls.append(set(tps)))
    table = SimpleNamespace(changelog_topic=SimpleNamespace(topics={"conversations-changelog"}))
    faust_fixes._revoke_partitions_collecting_only_when_closing(None, table, {TP("other", 0)})
    faust_fixes._revoke_partitions_collecting_only_when_closing(None, table, set())
    assert calls == []
    revoked = {TP("conversations-changelog", 1)}
    faust_fixes._revoke_partitions_collecting_only_when_closing(None, table, revoked)
    assert calls == [revoked]


def test_the_worker_consumer_fetches_without_a_long_wait_and_the_tables_start_at_once():
    from convoflow.app import create_app
    from convoflow.config import Settings

    app, _ = create_app(Settings(broker="kafka://127.0.0.1:1", topic_prefix="fixes-"))

    async def consumer():  # aiokafka objects are made inside a running loop
        return app.consumer._thread._create_worker_consumer(app.transport)

    assert asyncio.run(consumer())._fetch_max_wait_ms == faust_fixes.FETCH_MAX_WAIT_MS == 100  # Faust's: 1,500

    calls = []

    class Manager:
        should_stop = False

        async def sleep(self, seconds):
            calls.append(("sleep", seconds))

        async def _update_channels(self):
            calls.append("channels")

        class recovery:
            @staticmethod
            async def start():
                calls.append("recovery")

    asyncio.run(faust_fixes._start_tables_at_once(Manager()))
    assert calls == ["channels", "recovery"]
    assert not app.conf.topic_allow_declare, "ensure_topics creates the topics, in one go"
