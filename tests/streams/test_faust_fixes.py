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


# ------------------------------------------------------------------ the consumer loop around a rebalance

class LoopConsumer:
    """What the fixed consumer loop uses of Faust's consumer: batches of records, a callback, seeks."""

    def __init__(self, batches):
        from collections import defaultdict
        from types import SimpleNamespace

        self.batches = list(batches)  # (before the batch is handed over, [(tp, message), ...])
        self.app = SimpleNamespace(
            rebalancing=False, consumer_generation_id=1, should_stop=False,
            flow_control=SimpleNamespace(is_active=lambda: True),
            producer=SimpleNamespace(buffer=SimpleNamespace(size=0, max_messages=100)),
            topics=SimpleNamespace(acks_enabled_for=lambda topic: True, _tp_index={},
                                   _tp_to_callback_lock=asyncio.Lock()),
        )
        self.transport = SimpleNamespace(app=self.app)
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self._read_offset = defaultdict(lambda: None)
        self._stopped, self.suspend_flow = asyncio.Event(), asyncio.Event()
        self._commit_every, self._thread, self.should_stop = None, None, False
        self.consumer_stopped_errors = ()
        self.on_delivery = lambda message: None
        self.delivered, self.seeks = [], []

    async def callback(self, message):
        self.delivered.append(message.offset)
        self.on_delivery(message)
        await asyncio.sleep(0)

    def getmany(self, timeout):
        async def records():
            if not self.batches:
                self._stopped.set()
                return
            before, batch = self.batches.pop(0)
            before(self)
            for item in batch:
                yield item
        return records()

    async def seek(self, tp, offset):  # what Faust's seek (as fixed) does without a consumer thread
        self.seeks.append((tp.partition, offset))
        self._read_offset[tp] = offset
        faust_fixes._delivered(self).pop(tp, None)

    async def sleep(self, seconds):
        await asyncio.sleep(0)


def records(*offsets, partition=0):
    from types import SimpleNamespace

    from faust.types import TP

    tp = TP("messages", partition)
    return [(tp, SimpleNamespace(topic=tp.topic, partition=partition, tp=tp, offset=o)) for o in offsets]


def run_loop(consumer):
    from types import SimpleNamespace

    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    asyncio.run(faust_fixes._drain_messages(consumer, fetcher))


def test_records_arriving_before_a_rebalance_ends_are_read_again_afterwards():
    def rebalancing(c):
        c.app.rebalancing = True  # Faust has resumed the flow but will empty the agents' queues

    def done(c):
        c.app.rebalancing = False

    consumer = LoopConsumer([(rebalancing, records(45, 46, 47)), (done, records(45, 46, 47))])
    run_loop(consumer)
    assert consumer.seeks == [(0, 45)]
    assert consumer.delivered == [45, 46, 47]


def test_a_delivery_that_spans_a_change_of_generation_leaves_no_read_position_behind():
    def revoke_during_delivery_of_46(message):
        if message.offset == 46 and consumer.app.consumer_generation_id == 1:
            consumer.app.consumer_generation_id = 2
            consumer._read_offset.pop(message.tp, None)  # what Faust does with a revoked partition

    consumer = LoopConsumer([(lambda c: None, records(45, 46, 47)), (lambda c: None, records(46, 47))])
    consumer.on_delivery = revoke_during_delivery_of_46
    run_loop(consumer)
    # The new generation starts at the committed offset, 46: read, not skipped as "already delivered".
    assert consumer.delivered == [45, 46, 46, 47]
    assert consumer.seeks == []


# ------------------------------------------------------------------ StallWatch

def watched(*, committed=45, end=53, position=53, acked=(), queued=(), tracked=(), rebalancing=False):
    from types import SimpleNamespace

    from faust.types import TP

    tp = TP("csat", 3)
    message = lambda offset: SimpleNamespace(tp=tp, offset=offset)  # noqa: E731
    state = SimpleNamespace(position=position)
    client = SimpleNamespace(_subscription=SimpleNamespace(subscription=SimpleNamespace(
        assignment=SimpleNamespace(state_value=lambda tp_: state))))
    consumer = SimpleNamespace(
        assignment=lambda: {tp, TP("convoflow-conversations-changelog", 3)},
        _committed_offset={tp: committed}, _acked_index={tp: set(acked)},
        highwater=lambda tp_: end, unacked=[message(o) for o in tracked],
        _thread=SimpleNamespace(_consumer=client),
    )
    queue = SimpleNamespace(_queue=[SimpleNamespace(message=message(o)) for o in queued])
    app = SimpleNamespace(
        consumer=consumer, rebalancing=rebalancing, flow_control=SimpleNamespace(is_active=lambda: True),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: not topic.endswith("-changelog"),
                               _tp_index={tp: [SimpleNamespace(queue=queue)]}),
    )
    return faust_fixes.StallWatch(app, seconds=3.0), tp


def test_a_partition_whose_next_record_was_handed_over_and_lost_is_read_again_after_a_while():
    watch, tp = watched()
    assert watch.due(100.0) == []
    assert watch.due(102.9) == []
    assert watch.due(103.0) == [(tp, 45)]
    assert watch.due(103.5) == []  # counted again from now


def test_a_partition_is_not_read_again_while_its_next_record_is_on_its_way():
    for case in ({"queued": [45]}, {"tracked": [45]}, {"acked": [45, 46]}, {"position": 45},
                 {"committed": 53}, {"rebalancing": True}):
        watch, tp = watched(**case)
        watch.due(100.0)
        assert watch.due(110.0) == [], case
    watch, tp = watched(queued=[46, 47], acked=[48])  # later records are no help: 45 is gone
    watch.due(100.0)
    assert watch.due(103.0) == [(tp, 45)]


def test_every_store_uses_the_one_cache_of_the_process_with_its_write_buffers_charged_to_it(tmp_path):
    from faust.stores.rocksdb import RocksDBOptions

    from convoflow.config import Settings
    from streams.runtime import ROCKSDB_OPTIONS, configure_rocksdb_memory, shared_rocksdb_memory

    faust_fixes.apply()
    cache, write_buffers = shared_rocksdb_memory()
    before = write_buffers.get_usage()
    dbs = [RocksDBOptions(**ROCKSDB_OPTIONS).open(tmp_path / f"store-{n}") for n in range(2)]
    for db in dbs:
        for i in range(2000):
            db[b"conversation-%d" % i] = b"x" * 200
    assert write_buffers.get_usage() > before, "both stores' memtables are counted by the one manager"
    assert cache.get_usage() >= write_buffers.get_usage(), "and charged to the one cache"
    for db in dbs:
        db.close()
    configure_rocksdb_memory(300 << 20, 100 << 20)  # settings read after the first store opened still apply
    try:
        assert write_buffers.get_buffer_size() == 100 << 20
    finally:
        configure_rocksdb_memory(*Settings().rocksdb_memory())
