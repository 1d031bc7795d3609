"""A batch that fails is applied again, never dropped; an event that keeps failing becomes a dead letter."""
import asyncio
from types import SimpleNamespace

import pytest

from convoflow.config import Settings
from streams import runtime as rt


class Event(SimpleNamespace):
    pass


def event(offset):
    return Event(message=SimpleNamespace(topic="t", partition=0, offset=offset, key=b"k", value=b"v"), value=b"v")


def runtime_with_dead_letters(monkeypatch):
    r = rt.Runtime(Settings())
    letters = []

    async def dead_letter(ev, reason):
        letters.append((ev.message.offset, reason))

    monkeypatch.setattr(r, "dead_letter", dead_letter)
    return r, letters


def feed(monkeypatch, batches):
    async def fake_batches(app, channel, max_, linger):
        for b in batches:
            yield b

    monkeypatch.setattr(rt, "batches", fake_batches)


def test_a_batch_that_fails_once_is_applied_again(monkeypatch):
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1)]])
    r.sent.changed("conversation|c1")
    applied, calls = [], []

    async def apply(events):
        calls.append(len(events))
        if len(calls) == 1:
            raise ConnectionError("broker away")
        applied.extend(ev.message.offset for ev in events)

    asyncio.run(rt.apply_batches(r, None, apply, r.settings.batch_size))
    assert applied == [0, 1] and calls == [2, 2] and not letters
    assert r.processed[("t", 0)] == 2
    assert r.counts["apply_errors"] == 1
    assert r.sent.digests == {}, "what the failed attempt marked as sent is sent again"


def test_an_event_that_keeps_failing_goes_to_dead_letters_and_the_rest_is_applied(monkeypatch):
    monkeypatch.setattr(rt, "RETRY_FOR_SECONDS", 0.3)
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1), event(2)], [event(3)]])
    applied = []

    async def apply(events):
        if any(ev.message.offset == 1 for ev in events):
            raise ValueError("cannot apply offset 1")
        applied.extend(ev.message.offset for ev in events)

    asyncio.run(rt.apply_batches(r, None, apply, r.settings.batch_size))
    assert applied == [0, 2, 3]
    assert letters == [(1, "internal error while applying the event: ValueError: cannot apply offset 1")]
    assert r.processed[("t", 0)] == 4


def test_cancellation_is_not_retried(monkeypatch):
    r, _ = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0)]])

    async def apply(events):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(rt.apply_batches(r, None, apply, r.settings.batch_size))
    assert ("t", 0) not in r.processed


class Message(SimpleNamespace):
    __hash__ = object.__hash__  # a consumer keeps unacknowledged messages in a set

    def __eq__(self, other):
        return self is other

    def ack(self, consumer):
        consumer.acked.append(self.offset)


def channel_of(*events):
    queue = asyncio.Queue()
    for ev in events:
        queue.put_nowait(ev)
    return SimpleNamespace(queue=queue)


def app_for_batches(generation=1, flowing=True):
    consumer = SimpleNamespace(unacked=set(), acked=[])
    flow = SimpleNamespace(is_active=lambda: flowing)
    return SimpleNamespace(consumer=consumer, consumer_generation_id=generation, flow_control=flow,
                           topics=SimpleNamespace(acking_topics={"t"}))


def delivered(offset, generation=1):
    return Event(message=Message(topic="t", partition=0, offset=offset, generation_id=generation, tracked=False))


def test_a_batch_is_acknowledged_only_when_the_next_one_is_asked_for():
    app = app_for_batches()
    events = [delivered(0), delivered(1), delivered(2)]

    async def scenario():
        reader = rt.batches(app, channel_of(*events), 2)
        first = await reader.__anext__()
        acked_while_applying = list(app.consumer.acked)
        tracked = {ev.message.offset for ev in first if ev.message in app.consumer.unacked}
        second = await reader.__anext__()
        await reader.aclose()  # the agent stops in the middle of the second batch
        return first, acked_while_applying, tracked, second

    first, acked_while_applying, tracked, second = asyncio.run(scenario())
    assert [ev.message.offset for ev in first] == [0, 1]
    assert acked_while_applying == [] and tracked == {0, 1}
    assert [ev.message.offset for ev in second] == [2]
    assert app.consumer.acked == [0, 1], "the interrupted batch stays unacknowledged: it is read again"


def test_events_of_an_older_generation_or_a_stopped_flow_are_skipped_unacknowledged():
    async def first_batch(app, events):
        reader = rt.batches(app, channel_of(*events), 10)
        try:
            return [ev.message.offset for ev in await asyncio.wait_for(reader.__anext__(), 0.5)]
        except asyncio.TimeoutError:
            return []

    app = app_for_batches(generation=2)
    assert asyncio.run(first_batch(app, [delivered(0, generation=1), delivered(1, generation=2)])) == [1]
    stopped = app_for_batches(flowing=False)
    assert asyncio.run(first_batch(stopped, [delivered(0)])) == []
    assert app.consumer.acked == [] and stopped.consumer.acked == []


class DB(dict):
    put = dict.__setitem__


class Store:
    """Faust's RocksDB store as the writer uses it: a database per partition."""

    def __init__(self):
        self._dbs = {0: DB(), 1: DB()}

    def _db_for_partition(self, partition):
        return self._dbs.setdefault(partition, DB())  # Faust opens the store of a partition it lacks


def test_a_table_write_is_in_the_store_at_once_and_in_the_changelog_when_the_batch_ends():
    store = Store()
    table = SimpleNamespace(data=store, changelog_topic=SimpleNamespace(get_topic_name=lambda: "c-changelog"), name="c")
    sent = []

    async def scenario():
        loop = asyncio.get_running_loop()

        async def send(topic, key, value, partition, timestamp, headers):
            fut = loop.create_future()
            sent.append((topic, key, value, partition, fut))
            return fut

        writer = rt.TableWriter(SimpleNamespace(producer=SimpleNamespace(send=send)), table)
        with rt.partition_context(Event(message=SimpleNamespace(partition=1))):
            writer["c1"] = b"v1"
            writer["c1"] = b"v2"
        in_store_before_flush = dict(store._dbs[1])
        await writer.flush()
        sent[0][4].set_result(SimpleNamespace(offset=6))
        sent[1][4].set_result(SimpleNamespace(offset=7))
        await asyncio.sleep(0)
        return in_store_before_flush

    in_store_before_flush = asyncio.run(scenario())
    assert in_store_before_flush == {b"c1": b"v2"}
    assert [s[:4] for s in sent] == [("c-changelog", b"c1", b"v1", 1), ("c-changelog", b"c1", b"v2", 1)]
    assert store._dbs[1][rt.OFFSET_KEY] == b"7", "the offset a restore reads on from: the batch's last record"
    assert store._dbs[0] == {}


def test_no_offset_is_recorded_for_a_failed_send_nor_into_a_revoked_partition():
    store = Store()
    table = SimpleNamespace(data=store, changelog_topic=SimpleNamespace(get_topic_name=lambda: "c-changelog"), name="c")

    async def scenario():
        loop = asyncio.get_running_loop()
        sent = []

        async def send(topic, key, value, partition, timestamp, headers):
            sent.append(loop.create_future())
            return sent[-1]

        writer = rt.TableWriter(SimpleNamespace(producer=SimpleNamespace(send=send)), table)
        for partition in (0, 1):
            with rt.partition_context(Event(message=SimpleNamespace(partition=partition))):
                writer["c1"] = b"v1"
        await writer.flush()
        del store._dbs[1]  # partition 1 revoked while its record was on its way
        sent[0].set_exception(ConnectionError("broker away"))
        sent[1].set_result(SimpleNamespace(offset=3))
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert store._dbs[0] == {b"c1": b"v1"}
    assert 1 not in store._dbs, "a revoked partition's store is not opened again just to record an offset"


@pytest.mark.parametrize("bundles", [False, True])
def test_an_agent_of_bundles_takes_as_many_items_a_batch_as_one_of_events(monkeypatch, bundles):
    """A bundle carries up to Outbox.MAX_ITEMS items: 10,000 bundles in one batch stopped the event
    loop for seconds. An agent of bundles takes fewer, and the queue Faust fills for it holds a few
    batches, not Faust's 16,384 records (at 1M conversations those held 640 MB of bundles)."""
    import faust

    r = rt.Runtime(Settings(batch_size=10_000))
    asked, queues = [], []

    async def fake_batches(app, channel, max_, linger):
        asked.append(max_)
        queues.append(channel.queue)
        yield [event(0)]

    monkeypatch.setattr(rt, "batches", fake_batches)
    app = faust.App("t-bundles", broker="kafka://127.0.0.1:1", stream_buffer_maxsize=16_384)  # never reached
    tasks = []
    monkeypatch.setattr(app, "task", tasks.append)
    r.app = app

    async def apply(events):
        pass

    async def scenario():
        rt.batch_agent(app, r, app.topic("people-updates", value_type=bytes), "people", apply, bundles=bundles)
        await tasks[0]()

    asyncio.run(scenario())
    per_batch = 10_000 // rt.BUNDLE_BATCH_DIVISOR if bundles else 10_000
    assert asked == [per_batch]
    assert queues[0].maxsize == (rt.BUNDLE_BATCHES_QUEUED * per_batch if bundles else 16_384)
