"""The Faust application of one worker: topics -> agents -> tables -> exporter.

Where an event goes: ``streams/conversations.py`` (messages, status changes,
locks, CSAT, annotations), ``streams/contacts.py``, ``streams/presence.py``,
``streams/directory.py``. Where a CSV column is computed: ``exporters/``.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os

import faust

from convoflow.contract.config import Settings
from convoflow.contract.topics import ensure_topics
from convoflow.streams import (
    client_logs, contacts, conversations, directory, export_engine, heap, metrics, people, presence, schedule, watchdog,
)
from convoflow.web import dashboard, explain, lookups, api as web
from convoflow.streams.faust_ext import SCHEME, assignor, audit, broker_urls, transport
from convoflow.streams.export_results import Results
from convoflow.streams.replica import Replica
from convoflow.streams.runtime import Runtime, log
from convoflow.streams.state import recovery
from convoflow.streams.state.memory import configure_rocksdb_memory


def create_app(settings: Settings, replication: int = 1) -> tuple[faust.App, Runtime]:
    """The worker's app; ``replication`` is the replication factor ``ensure_topics`` settled."""
    audit.check()
    configure_rocksdb_memory(*settings.rocksdb_memory())
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.bootstrap),  # convoflow's transport (streams/faust_ext/transport.py)
        broker_credentials=settings.faust_credentials(),
        store=f"{SCHEME}://",  # convoflow's RocksDB store (streams/faust_ext/store.py)
        TableManager="convoflow.streams.faust_ext.tables:TableManager",
        PartitionAssignor="convoflow.streams.faust_ext.assignor:PartitionAssignor",  # warm hand-over
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=replication,
        topic_allow_declare=False,  # ensure_topics created every topic, the assignor's too, in one go
        table_standby_replicas=settings.standby_replicas,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        producer_linger_ms=5,
        producer_max_request_size=8 * 1024 * 1024,
        # Below the broker's default message.max.bytes (1 MiB): a batch is one message to the broker.
        producer_max_batch_size=512 * 1024,
        broker_commit_every=10_000,
        # Once the input pauses, what was applied is committed within 0.2 s (a commit with nothing
        # new to commit sends nothing): lag monitors see the worker caught up, a restart replays less.
        broker_commit_interval=0.2,
        stream_buffer_maxsize=16_384,
        # Per partition and fetch: what aiokafka reads ahead of the agents, and how far one fetch
        # moves a conversation topic while the topics are read in step (streams/faust_ext/alignment.py;
        # a batch then folds more events of each conversation). 512 KiB at 4 partitions, 256 KiB at 12.
        consumer_max_fetch_size=settings.partition_fetch_bytes(),
    )
    runtime = Runtime(settings, app)
    tables = {
        "conversations": conversations.register(app, runtime),
        "contacts": contacts.register(app, runtime),
        "presence": presence.register(app, runtime),
        "directory": directory.register(app, runtime),
    }
    tables["owner_conversations"], tables["owner_days"] = people.register(app, runtime)
    replica = Replica(settings)
    coordinator, inbox = export_engine.register(app, runtime, replica, tables)
    web.register(app, runtime)
    lookups.register(app, runtime, coordinator, replica)
    explain.register(app, runtime, coordinator, replica)
    watchdog.register(app, runtime)
    transport.register(app)
    assignor.register(app)
    register_partition_copies(app, settings)
    heap.register(app, settings.malloc_trim_every())

    # For operators: the dashboard and export page, scheduled exports, /metrics.
    results = Results(settings)
    scheduler = schedule.register(app, runtime, results)
    dashboard.register(app, runtime, coordinator, results, scheduler)
    metrics.register(app, runtime, results, scheduler, replica)

    @app.on_partitions_revoked.connect
    async def forget_what_was_sent(app, revoked, **kwargs):
        """After a rebalance another worker may have sent newer values for our keys: send again."""
        runtime.sent.clear()

    @app.task
    async def say_what_happened_before_start():
        for note in runtime.notes:
            level, line = note if isinstance(note, tuple) else (logging.INFO, note)
            log.log(level, line)

    starting: list[asyncio.Task] = []

    @app.task
    async def start_readers():
        starting.append(asyncio.current_task())
        await replica.start()
        await inbox.start()
        await results.start()

    @app.on_before_shutdown.connect
    async def stop_readers(app, **kwargs):
        # A worker stopped while its readers start: their start ends first, so that no start
        # goes on with a client stopped under it (aiokafka then fails, and the worker "crashes").
        for task in starting:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await results.stop()
        await inbox.stop()
        await replica.stop()

    return app, runtime


def register_partition_copies(app, settings: Settings) -> None:
    """A worker reads the table partitions a rebalance gives it into its stores (``convoflow.streams.state.recovery``),
    and drops the copies of those it no longer holds after CONVOFLOW_STALE_PARTITION_HOURS."""
    grace = settings.stale_partition_seconds()

    async def restore_assigned(tps):
        await recovery.restore_logged(app, settings, tps, log)

    app.tables.restorer = restore_assigned

    @app.timer(interval=min(60.0, max(1.0, grace / 10)))
    async def drop_stale_partition_copies():
        app.tables.drop_stale_copies(grace)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    audit.check()  # before anything connects: a Faust that is not the audited one is a setting error
    os.makedirs(settings.data_dir, exist_ok=True)
    os.makedirs(settings.export_dir, exist_ok=True)
    heap.fix_mmap_threshold()
    client_logs.install()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    topics = loop.run_until_complete(ensure_topics(settings))
    app, runtime = create_app(settings, topics.replication)
    runtime.notes += topics.notes
    loop.run_until_complete(recovery.wait_until_served(app, settings))
    # The agents allocate many short-lived objects and few cycles: collections of the
    # heap that is there at start, and collections every 700 allocations, cost a busy
    # worker about 15 % of its throughput (measured with the bench's ingest).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    worker = faust.Worker(app, loop=loop, loglevel=loglevel, quiet=True)
    logging.getLogger("faust").setLevel(logging.WARNING)
    worker.execute_from_commandline()
