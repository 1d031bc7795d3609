"""The yardsticks convoflow's ingest is compared with, each reading the same input topics.

- ``raw_consume``: a bare aiokafka consumer (no group) that reads every input
  partition from the beginning to its end offset and decodes each value with
  orjson: the ceiling for a Python consumer on this machine. Runs in-process.
- ``faust``: a bare Faust app (memory store, no tables) whose one agent only
  iterates the topics in ``take_events`` batches and decodes each value.
  Subprocess: ``python -m bench.peers faust ...``.
- ``quix``: Quix Streams doing a per-key state update (a count and the last
  event type per key, RocksDB store with its changelog topic) over the topics.
  Subprocess: ``python -m bench.peers quix ...``.

Each subprocess writes ``{"events", "first", "last", "eps", ...}`` (wall-clock
seconds since the epoch) as JSON to ``--out`` once it has seen ``--expected``
events, and then idles until the parent stops it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import orjson


def _finish_when_done(args, state: dict, settings: dict) -> None:
    """Once ``args.expected`` events are counted, write the rate from the first to this one (once)."""
    if state["done"] or state["count"] < args.expected:
        return
    state["done"] = True
    last = time.time()
    seconds = max(last - state["first"], 1e-9)
    _write(args.out, {"events": state["count"], "first": state["first"], "last": last, "seconds": seconds,
                      "eps": state["count"] / seconds, "settings": settings})


def _write(out: str, result: dict) -> None:
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, out)


# ---------------------------------------------------------------- raw aiokafka


async def raw_consume(bootstrap: str, topics: list[str], max_records: int = 20_000) -> dict:
    """Read and decode every record of `topics` (from the beginning to the end offsets taken at start)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024, fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        tps = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            while not parts:
                await consumer._client.add_topic(topic)
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        expected = sum(ends[tp] - starts[tp] for tp in tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        loads = orjson.loads
        count = 0
        nbytes = 0
        first = None
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            if first is None and batches:
                first = time.time()
            for tp, records in batches.items():
                for r in records:
                    loads(r.value)
                    nbytes += len(r.value)
                count += len(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        last = time.time()
    finally:
        await consumer.stop()
    seconds = max(last - (first or last), 1e-9)
    return {"events": count, "expected": expected, "bytes": nbytes, "first": first, "last": last,
            "seconds": seconds, "eps": count / seconds}


# ---------------------------------------------------------------- bare Faust


def run_faust(args) -> None:
    import logging

    import faust

    broker = args.broker
    if args.faust_fixes:  # convoflow's transport (streams/faust_ext), chosen by the URL's scheme
        from convoflow.streams.faust_ext import broker_urls

        broker = broker_urls(broker.split("://", 1)[-1])
    app = faust.App(
        args.app_id,
        broker=broker,
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        stream_buffer_maxsize=args.stream_buffer_maxsize,
        consumer_max_fetch_size=args.consumer_max_fetch_size,
        broker_commit_interval=args.broker_commit_interval,
        broker_commit_every=args.broker_commit_every,
        stream_wait_empty=False,
    )
    source = app.topic(*args.topics.split(","), key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw")
    state = {"count": 0, "first": None, "done": False}
    if args.reader == "channel":
        _channel_reader(app, source, args, state)
    else:
        _stream_reader(app, source, args, state)
    worker = faust.Worker(app, loglevel="warning", quiet=True)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker.execute_from_commandline()


def _settings(args) -> dict:
    return {k: getattr(args, k) for k in (
        "reader", "faust_fixes", "batch", "within", "stream_buffer_maxsize", "consumer_max_fetch_size",
        "broker_commit_interval", "broker_commit_every", "decode")}


def _stream_reader(app, source, args, state) -> None:
    loads = orjson.loads

    @app.agent(source, name="bare")
    async def bare(stream):
        async for batch in stream.take_events(args.batch, within=args.within):
            if state["first"] is None:
                state["first"] = time.time()
            if args.decode:
                for ev in batch:
                    loads(ev.value)
            state["count"] += len(batch)
            _finish_when_done(args, state, _settings(args))


def _channel_reader(app, source, args, state) -> None:
    """The topics' Faust channel read in batches, as convoflow's agents read it
    (``convoflow.streams.batching.batches``), without Faust's per-event Stream."""
    from convoflow.streams.batching import batches

    channel = source.clone(is_iterator=True)
    app.topics.add(channel)
    loads = orjson.loads

    @app.task
    async def bare_channel():
        async for batch in batches(app, channel, args.batch, args.within):
            if state["first"] is None:
                state["first"] = time.time()
            if args.decode:
                for ev in batch:
                    loads(ev.value)
            state["count"] += len(batch)
            _finish_when_done(args, state, _settings(args))


# ---------------------------------------------------------------- Quix Streams


def run_quix(args) -> None:
    from quixstreams import Application

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.data_dir,
        use_changelog_topics=True,
        commit_interval=args.commit_interval,
        loglevel=os.environ.get("BENCH_QUIX_LOGLEVEL", "WARNING"),
        consumer_extra_config={"fetch.max.bytes": 64 * 1024 * 1024, "max.partition.fetch.bytes": 16 * 1024 * 1024,
                               "queued.max.messages.kbytes": 256 * 1024},
    )
    state_box = {"count": 0, "first": None, "done": False}

    def update(value, state):
        if state_box["first"] is None:
            state_box["first"] = time.time()
        state.set("n", state.get("n", 0) + 1)
        state.set("last", value.get("type") if isinstance(value, dict) else None)
        state_box["count"] += 1
        _finish_when_done(args, state_box, {"commit_interval": args.commit_interval})

    for name in args.topics.split(","):
        topic = app.topic(name, value_deserializer="json", key_deserializer="bytes")
        app.dataframe(topic).update(update, stateful=True)
    app.run()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    sub = parser.add_subparsers(dest="peer", required=True)
    p = sub.add_parser("faust")
    p.add_argument("--broker", required=True)
    p.add_argument("--app-id", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--expected", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--data-dir", required=True)
    # The best of a sweep on the 2-core machine (docs/performance.md); all within about 20 % of each other.
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--within", type=float, default=0.05)
    p.add_argument("--stream-buffer-maxsize", type=int, default=65_536)
    p.add_argument("--consumer-max-fetch-size", type=int, default=8 * 1024 * 1024)
    p.add_argument("--broker-commit-interval", type=float, default=5.0)
    p.add_argument("--broker-commit-every", type=int, default=100_000)
    p.add_argument("--no-decode", dest="decode", action="store_false")
    p.add_argument("--reader", choices=("stream", "channel"), default="stream")
    p.add_argument("--stock", dest="faust_fixes", action="store_false",
                   help="Faust as released, without convoflow's transport (streams/faust_ext)")
    p.set_defaults(func=run_faust)
    p = sub.add_parser("quix")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--expected", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--commit-interval", type=float, default=5.0)
    p.set_defaults(func=run_quix)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
