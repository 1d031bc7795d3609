"""A batch that fails is applied again, never dropped; a record that keeps failing becomes a dead letter;
batches are acknowledged once applied; an agent of bundles takes fewer records a batch."""
import asyncio

import pytest
from faust.types import TP

from convoflow.contract.config import Settings
from convoflow.streams import batching
from convoflow.streams.faust_ext.transport import Chunk
from convoflow.streams.runtime import Runtime

from .worker_app import PREFIX, record, run


def event(offset):
    return record("t", 0, offset)


def runtime_with_dead_letters(monkeypatch):
    r = Runtime(Settings())
    letters = []

    async def dead_letter(msg, reason):
        letters.append((msg.offset, reason))

    monkeypatch.setattr(r, "dead_letter", dead_letter)
    return r, letters


def feed(monkeypatch, batches):
    async def fake_batches(app, sink, max_, linger):
        for b in batches:
            yield b

    monkeypatch.setattr(batching, "batches", fake_batches)


def test_a_batch_that_fails_once_is_applied_again(monkeypatch):
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1)]])
    r.sent.changed("conversation|c1")
    applied, calls = [], []

    async def apply(records):
        calls.append(len(records))
        if len(calls) == 1:
            raise ConnectionError("broker away")
        applied.extend(r.offset for r in records)

    asyncio.run(batching.apply_batches(r, None, apply, r.settings.batch_size))
    assert applied == [0, 1] and calls == [2, 2] and not letters
    assert r.processed[("t", 0)] == 2
    assert r.counts["apply_errors"] == 1
    assert len(r.sent) == 0, "what the failed attempt marked as sent is sent again"


def test_a_record_that_keeps_failing_goes_to_dead_letters_and_the_rest_is_applied(monkeypatch):
    monkeypatch.setattr(batching, "RETRY_FOR_SECONDS", 0.3)
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1), event(2)], [event(3)]])
    applied = []

    async def apply(records):
        if any(r.offset == 1 for r in records):
            raise ValueError("cannot apply offset 1")
        applied.extend(r.offset for r in records)

    asyncio.run(batching.apply_batches(r, None, apply, r.settings.batch_size))
    assert applied == [0, 2, 3]
    assert letters == [(1, "internal error while applying the event: ValueError: cannot apply offset 1")]
    assert r.processed[("t", 0)] == 4


def test_cancellation_is_not_retried(monkeypatch):
    r, _ = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0)]])

    async def apply(records):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(batching.apply_batches(r, None, apply, r.settings.batch_size))
    assert ("t", 0) not in r.processed


# ------------------------------------------------------------------ batches from the real consumer's sinks

MESSAGES = PREFIX + "messages"


def queue(app, *offsets, generation=None):
    tp = TP(MESSAGES, 0)
    generation = app.consumer_generation_id if generation is None else generation
    app.consumer.sinks[MESSAGES].put(Chunk(tp, [record(MESSAGES, 0, o) for o in offsets], generation))


def test_a_batch_is_acknowledged_only_when_the_next_one_is_asked_for(app):
    consumer, sink, tp = app.consumer, app.consumer.sinks[MESSAGES], TP(MESSAGES, 0)
    app.flow_control.resume()
    queue(app, 0, 1, 2)

    async def scenario():
        reader = batching.batches(app, sink, 2)
        first = await reader.__anext__()
        acked_while_applying, in_flight = consumer._new_offset(tp), [c.last for c in sink.in_flight]
        second = await reader.__anext__()
        acked_after_first = consumer._new_offset(tp)
        await reader.aclose()  # the agent stops in the middle of the second batch
        return first, acked_while_applying, in_flight, second, acked_after_first

    first, acked_while_applying, in_flight, second, acked_after_first = run(app, scenario())
    assert [r.offset for r in first] == [0, 1] and [r.offset for r in second] == [2]
    assert acked_while_applying is None and in_flight == [1], "a rebalance waits for the batch in flight"
    assert acked_after_first == 2
    assert consumer._new_offset(tp) == 2, "the interrupted batch stays unacknowledged: it is read again"
    assert sink.in_flight == []


def test_records_of_an_older_generation_or_a_stopped_flow_are_skipped_unacknowledged(app):
    consumer, sink, tp = app.consumer, app.consumer.sinks[MESSAGES], TP(MESSAGES, 0)

    async def first_batch():
        reader = batching.batches(app, sink, 10)
        try:
            return [r.offset for r in await asyncio.wait_for(reader.__anext__(), 0.5)]
        except asyncio.TimeoutError:
            return []

    app.flow_control.resume()
    queue(app, 0, generation=app.consumer_generation_id - 1)
    queue(app, 1)
    assert run(app, first_batch()) == [1]
    app.flow_control.suspend()
    queue(app, 2)
    assert run(app, first_batch()) == []
    assert consumer._new_offset(tp) is None


def test_an_agent_of_bundles_takes_as_many_items_a_batch_as_one_of_events(app):
    """A bundle carries up to Outbox.MAX_ITEMS items: 10,000 bundles in one batch stopped the event
    loop for seconds. A bundle counts for many records, so a batch holds fewer of them and the sink
    a few batches; the plain events read beside them (contact attributes) count one each."""
    sinks, size = app.consumer.sinks, Settings().batch_size
    per_batch = size // batching.BUNDLE_BATCH_DIVISOR
    bundles, attributes = PREFIX + "contact-updates", PREFIX + "contact-attributes"
    sink = sinks[bundles]
    assert sinks[attributes] is sink and sinks[PREFIX + "people-updates"].weights
    assert sink.max_records == batching.BUNDLE_BATCHES_QUEUED * size
    assert sinks[PREFIX + "messages"].max_records == batching.EVENT_BATCHES_QUEUED * size
    generation = app.consumer_generation_id
    sink.put(Chunk(TP(bundles, 0), [record(bundles, 0, o) for o in range(per_batch + 5)], generation))
    sink.put(Chunk(TP(attributes, 0), [record(attributes, 0, o) for o in range(size)], generation))
    assert sink.size == (per_batch + 5) * batching.BUNDLE_BATCH_DIVISOR + size

    async def take():
        return [(c.tp.topic, len(c.records)) for c in await sink.take(size)]

    assert run(app, take()) == [(bundles, per_batch)]
    assert run(app, take()) == [(bundles, 5), (attributes, size - 5 * batching.BUNDLE_BATCH_DIVISOR)]
    assert run(app, take()) == [(attributes, 5 * batching.BUNDLE_BATCH_DIVISOR)] and sink.size == 0

def test_records_read_in_step_are_not_weighed(app):
    from convoflow.streams.faust_ext.transport import BatchSink

    sink = BatchSink(app, 10, {"t": batching.BUNDLE_BATCH_DIVISOR})
    with pytest.raises(ValueError, match="counted one by one"):
        app.consumer.add_sink(["t"], sink, aligned=True)
    assert "t" not in app.consumer.sinks
