"""convoflow's consumer, producer buffer and stall watch, driven as the real Faust objects of a worker app."""
import asyncio

import pytest
from faust.transport.producer import ProducerBuffer as FaustProducerBuffer
from faust.types import TP

from convoflow.streams.faust_ext import store, tables, transport

from ..worker_app import PREFIX, Script, nothing, record, records, run

MESSAGES = PREFIX + "messages"


def test_the_worker_runs_on_convoflows_transport_store_and_table_manager(app):
    assert type(app.transport) is transport.Transport
    assert type(app.consumer) is transport.Consumer
    assert type(app.consumer._thread) is transport.ConsumerThread
    assert type(app.producer) is transport.Producer and type(app.producer.buffer) is transport.ProducerBuffer
    assert type(app.tables) is tables.TableManager
    assert all(type(table.data) is store.Store for table in app.tables.values())
    assert not app.conf.topic_allow_declare, "ensure_topics creates the topics, in one go"

    async def worker_consumer():  # aiokafka objects are made inside a running loop
        return app.consumer._thread._create_worker_consumer(app.transport)

    assert run(app, worker_consumer())._fetch_max_wait_ms == transport.FETCH_MAX_WAIT_MS == 100  # Faust's: 1,500


def test_every_agent_topic_has_a_sink_and_faust_s_own_agents_keep_the_per_record_path(app):
    sinks = app.consumer.sinks
    for topic in ("messages", "status-changes", "presence", "directory", "people-updates", "contact-updates"):
        assert isinstance(sinks.get(PREFIX + topic), transport.BatchSink), topic
    assert PREFIX + "export-requests" not in sinks and PREFIX + "export-shards" not in sinks
    assert sinks[PREFIX + "messages"] is sinks[PREFIX + "csat"], "one sink per agent"


def test_fetched_records_reach_the_sink_as_chunks_and_are_committed_once_applied(app):
    consumer = app.consumer
    sink = consumer.sinks[MESSAGES]
    Script(consumer, [(nothing, records(MESSAGES, 5, 6, 7)), (nothing, records(MESSAGES, 8, 9))]).run()
    tp = TP(MESSAGES, 0)
    assert [[r.offset for r in c.records] for c in sink.chunks] == [[5, 6, 7], [8, 9]]
    assert consumer._new_offset(tp) is None, "nothing is committed before it is applied"

    async def apply_one_batch():
        taken = await sink.take(4)
        for chunk in taken:
            consumer.ack_through(chunk.tp, chunk.last + 1, len(chunk.records), chunk.generation)
        return [[r.offset for r in c.records] for c in taken]

    assert run(app, apply_one_batch()) == [[5, 6, 7], [8]], "a chunk is split at the batch's size"
    assert tp in set(consumer._filter_tps_with_pending_acks()) and consumer._new_offset(tp) == 9
    consumer.ack_through(tp, 10, 1, generation=consumer.app.consumer_generation_id - 1)
    assert consumer._new_offset(tp) == 9, "an older generation's acknowledgement counts for nothing"


def test_records_arriving_before_a_rebalance_ends_are_read_again_afterwards(app):
    def rebalancing(app):
        app.rebalancing = True  # Faust has resumed the flow but will empty the agents' queues

    def done(app):
        app.rebalancing = False

    script = Script(app.consumer, [(rebalancing, records(MESSAGES, 45, 46, 47)), (done, records(MESSAGES, 45, 46, 47))])
    script.run()
    sink = app.consumer.sinks[MESSAGES]
    assert script.seeks == [(MESSAGES, 0, 45)]
    assert [[r.offset for r in c.records] for c in sink.chunks] == [[45, 46, 47]]


def test_a_jump_in_offsets_is_read_again_from_the_record_that_should_come_next(app):
    consumer = app.consumer
    script = Script(consumer, [
        (nothing, records(MESSAGES, 10, 11)),
        (nothing, records(MESSAGES, 15, 16)),  # records fetched before a seek, arriving after it
        (nothing, records(MESSAGES, 12, 13, 20)),  # a jump inside a fetch: delivered up to it
    ]).run()
    sink = consumer.sinks[MESSAGES]
    assert [[r.offset for r in c.records] for c in sink.chunks] == [[10, 11], [12, 13]]
    assert script.seeks == [(MESSAGES, 0, 12), (MESSAGES, 0, 14)]


def test_records_delivered_already_are_not_delivered_twice(app):
    consumer = app.consumer
    Script(consumer, [(nothing, records(MESSAGES, 3, 4)), (nothing, records(MESSAGES, 3, 4, 5))]).run()
    assert [[r.offset for r in c.records] for c in consumer.sinks[MESSAGES].chunks] == [[3, 4], [5]]


def test_a_rebalance_waits_for_the_batch_being_applied_and_clears_what_waits(app):
    consumer = app.consumer
    sink = consumer.sinks[MESSAGES]
    Script(consumer, [(nothing, records(MESSAGES, 1, 2)), (nothing, records(MESSAGES, 3))]).run()

    async def scenario():
        sink.in_flight = await sink.take(2)
        app.flow_control.suspend()
        app.flow_control.clear()  # what Faust does with the agents' queues when partitions are revoked
        waiting = asyncio.ensure_future(consumer.wait_empty())
        await asyncio.sleep(0.05)
        still_waiting = not waiting.done()
        sink.in_flight = []
        waiting.cancel()
        return still_waiting

    assert run(app, scenario())
    assert not sink.chunks and sink.size == 0


def test_the_commit_does_not_pass_over_a_single_unacknowledged_record(app):
    consumer = app.consumer
    tp = TP(PREFIX + "export-requests", 0)  # a topic of Faust's per-record path
    consumer._committed_offset[tp] = 10
    consumer._acked[tp] = [11, 12]  # 10 was handed over and never acknowledged
    assert consumer._new_offset(tp) is None
    consumer._acked[tp] = [10, 11, 12]
    assert consumer._new_offset(tp) == 13


def test_a_record_is_delivered_directly_only_when_its_delivery_cannot_wait(app):
    consumer = app.consumer
    tp = TP(PREFIX + "export-requests", 0)
    app.flow_control.resume()
    assert consumer._delivers_at_once(tp)
    app.flow_control.suspend()
    assert not consumer._delivers_at_once(tp)
    app.flow_control.resume()
    consumer.suspend_flow.set()
    assert not consumer._delivers_at_once(tp)


# ------------------------------------------------------------------ producer buffer


class FutureMessage:
    """What Faust queues in its producer buffer; publishing takes ``seconds`` (a slow broker)."""

    def __init__(self, seconds):
        from types import SimpleNamespace

        async def publish_message(fut, wait=False):
            await asyncio.sleep(seconds)

        self.message = SimpleNamespace(channel=SimpleNamespace(publish_message=publish_message))


@pytest.mark.parametrize("flush, left", [(transport.ProducerBuffer.flush, 0), (FaustProducerBuffer.flush, 1)])
def test_the_buffer_flush_returns_only_when_every_record_is_with_aiokafka(app, flush, left):
    buffer = app.producer.buffer

    async def scenario():
        await buffer.start()
        for _ in range(3):
            buffer.put(FutureMessage(0.15))  # longer than the 0.1 s after which Faust's flush gives up
        await flush(buffer)
        unsent = buffer.size + buffer.sending
        await transport.ProducerBuffer.flush(buffer)
        await buffer.stop()
        return unsent

    assert (run(app, scenario()) == 0) == (left == 0), "Faust's flush returns with records still queued"


# ------------------------------------------------------------------ StallWatch


def stall_case(app, monkeypatch, *, committed=45, end=53, position=53, acked_through=None, queued=(),
               rebalancing=False):
    consumer = app.consumer
    tp = TP(PREFIX + "csat", 3)
    monkeypatch.setattr(consumer, "assignment", lambda: {tp, TP(PREFIX + "conversations-changelog", 3)})
    monkeypatch.setattr(consumer, "highwater", lambda tp_: end)
    monkeypatch.setattr(consumer._thread, "fetch_position", lambda tp_: position)
    consumer._committed_offset[tp] = committed
    if acked_through is not None:
        consumer.acked_through[tp] = acked_through
    app.rebalancing = rebalancing
    app.flow_control.resume()  # (which empties the sinks)
    if queued:
        consumer.sinks[tp.topic].put(transport.Chunk(tp, [record(tp.topic, 3, o) for o in queued], 0))
    run(app, app.topics._update_indices())  # what the conductor does when it subscribes: acking topics
    return transport.StallWatch(app, seconds=3.0), tp


def test_a_partition_whose_next_record_was_handed_over_and_lost_is_read_again_after_a_while(app, monkeypatch):
    watch, tp = stall_case(app, monkeypatch)
    assert watch.due(100.0) == []
    assert watch.due(102.9) == []
    assert watch.due(103.0) == [(tp, 45)]
    assert watch.due(103.5) == []  # counted again from now


@pytest.mark.parametrize("case", [{"queued": [45, 46]}, {"acked_through": 47}, {"position": 45},
                                  {"committed": 53}, {"rebalancing": True}])
def test_a_partition_is_not_read_again_while_its_next_record_is_on_its_way(app, monkeypatch, case):
    watch, _ = stall_case(app, monkeypatch, **case)
    watch.due(100.0)
    assert watch.due(110.0) == []


def test_later_records_queued_are_no_help_when_the_next_one_is_gone(app, monkeypatch):
    watch, tp = stall_case(app, monkeypatch, queued=[46, 47])
    watch.due(100.0)
    assert watch.due(103.0) == [(tp, 45)]


def test_after_a_rebalance_an_input_partition_nothing_was_committed_for_is_read_from_its_first_record(app, monkeypatch):
    consumer = app.consumer
    committed, fresh = TP(MESSAGES, 0), TP(MESSAGES, 1)
    changelog = TP(app.tables["conversations"].changelog_topic.get_topic_name(), 1)
    seeks = []

    async def seek_to_committed():  # the broker's answer: only partition 0 has a committed offset
        return {committed: 7, fresh: None, changelog: None}

    async def earliest_offsets(*tps):
        return {tp: 3 for tp in tps}

    async def seek_now(tp, offset):
        seeks.append((tp, offset))

    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_offsets)
    monkeypatch.setattr(consumer._thread, "seek_now", seek_now)
    monkeypatch.setattr(consumer, "assignment", lambda: {committed, fresh, changelog})
    consumer._read_offset[fresh] = 5  # records 3 and 4 were handed over before, and dropped
    run(app, consumer.perform_seek())
    assert seeks == [(fresh, 3)], "the changelog is Faust's recovery's to place"
    assert consumer._expected(fresh) == 3 and consumer._expected(committed) == 7


def test_a_conversation_topic_partition_ahead_in_record_time_sits_out_the_next_fetch(app, monkeypatch):
    """The five conversation topics are read in step by record time (``alignment``); the others are not."""
    consumer = app.consumer
    assert consumer.alignment.topics == {PREFIX + t for t in ("messages", "status-changes", "locks", "csat",
                                                                "annotations")}
    status = PREFIX + "status-changes"
    Script(consumer, [(nothing, {**records(MESSAGES, 0, 1, timestamp=1_000),
                                 **records(status, 0, 1, 2, timestamp=9_000),
                                 **records(PREFIX + "presence", 0, timestamp=20_000)})]).run()
    monkeypatch.setattr(consumer, "highwater", lambda tp: 100)  # records left in every partition
    asked = []

    async def getmany(active_partitions, timeout):
        asked.append(set(active_partitions))
        return {}

    monkeypatch.setattr(consumer._thread, "getmany", getmany)
    active = {TP(MESSAGES, 0), TP(status, 0), TP(PREFIX + "presence", 0), TP(status, 1)}
    run(app, consumer._getmany(active, 0.1))
    assert asked[-1] == active - {TP(status, 0)}, "status changes wait for messages to reach their time"
    monkeypatch.setattr(consumer, "highwater", lambda tp: 2 if tp == TP(MESSAGES, 0) else 100)
    run(app, consumer._getmany(active, 0.1))
    assert asked[-1] == active, "messages has nothing more to read: it holds nothing back"


def test_a_sink_in_step_takes_each_partition_up_to_its_floor_in_offset_order(app):
    consumer = app.consumer
    sink = consumer.sinks[MESSAGES]
    status = PREFIX + "status-changes"
    assert sink.alignment is consumer.alignment and consumer.sinks[PREFIX + "presence"].alignment is None

    def chunk(topic, partition, *stamped):
        return transport.Chunk(TP(topic, partition), [record(topic, partition, o, timestamp=t) for o, t in stamped],
                               app.consumer_generation_id)

    sink.put(chunk(status, 0, (0, 100), (1, 200), (2, 900)))
    sink.put(chunk(MESSAGES, 0, (0, 100), (1, 300)))
    sink.put(chunk(status, 0, (3, 950)))  # behind a record left in the sink: waits with it
    sink.put(chunk(MESSAGES, 1, (0, 5_000)))  # no floor for partition 1
    consumer.alignment.floors = {0: 300}

    def offsets(taken):
        return [(c.tp.topic[len(PREFIX):], c.tp.partition, [r.offset for r in c.records]) for c in taken]

    assert offsets(run(app, sink.take(100))) == [
        ("status-changes", 0, [0, 1]), ("messages", 0, [0, 1]), ("messages", 1, [0])]
    assert sink.size == 2 and offsets(sink.chunks) == [("status-changes", 0, [2]), ("status-changes", 0, [3])]
    assert sink.holds(TP(status, 0), 3)
    consumer.alignment.floors = {0: 1_000}
    assert offsets(run(app, sink.take(1))) == [("status-changes", 0, [2])], "at most max_records"
    assert offsets(run(app, sink.take(100))) == [("status-changes", 0, [3])]


def test_a_full_sink_in_step_takes_in_arrival_order_so_the_consumer_never_waits_for_itself(app):
    consumer = app.consumer
    sink = consumer.sinks[MESSAGES]
    sink.max_records = 3
    sink.put(transport.Chunk(TP(MESSAGES, 0), [record(MESSAGES, 0, o, timestamp=9_000) for o in range(3)],
                             app.consumer_generation_id))
    consumer.alignment.floors = {0: 100}  # nothing is at or before it, but nothing more fits in
    assert sink.full()
    assert [r.offset for c in run(app, sink.take(2)) for r in c.records] == [0, 1]
    assert not sink.full()

    async def nothing_before_the_floor():
        return await asyncio.wait_for(sink.take(2), 0.2)

    with pytest.raises(asyncio.TimeoutError):
        run(app, nothing_before_the_floor())
    consumer.alignment.floors = {0: 9_000}
    assert [r.offset for c in run(app, sink.take(2)) for r in c.records] == [2]
