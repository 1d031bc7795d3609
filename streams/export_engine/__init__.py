"""Exports across workers: a coordinator per request, one shard per state partition.

- ``coordinator``: the worker that receives a request catches every shard up
  (read-your-writes), has them scan, merges their rows and writes the file;
- ``shards``: every worker answers the shard requests of the partitions it owns;
- ``inbox``: every worker's reader of ``export-parts``, which hands each part to
  the export waiting for it;
- ``protocol``: what coordinators and shards share.

``register`` makes them for a worker and subscribes the two agents.
"""
from __future__ import annotations

import os

from convoflow.streams.export_engine.coordinator import Coordinator
from convoflow.streams.export_engine.inbox import Inbox
from convoflow.streams.export_engine.protocol import report_context
from convoflow.streams.export_engine.shards import Shards
from convoflow.streams.replica import Replica
from convoflow.streams.runtime import Runtime, log
from convoflow.streams.scan_process import ScanProcesses

__all__ = ["Coordinator", "Inbox", "Shards", "register", "report_context"]

HELPERS_CHECK_SECONDS = 5.0  # how often a worker ends the export helpers that waited too long for a scan


def register(app, runtime: Runtime, replica: Replica, tables: dict):
    s = runtime.settings
    raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    log_table = runtime.table("export_log")
    inbox = Inbox(runtime)
    processes = ScanProcesses(os.path.join(s.data_dir, "export-scans"), *s.export_process_limits())
    shards = Shards(app, runtime, replica, tables, inbox, processes)
    coordinator = Coordinator(app, runtime, replica, inbox, log_table, shards)

    # Requests and shard requests run as tasks, not inside the agents: an export waits for other
    # partitions, and a rebalance waits for the agents' current events; blocking here would deadlock.
    @app.agent(app.topic(s.topic("export-requests"), **raw), name="export-requests")
    async def export_requests(stream):
        async for event in stream.events():
            coordinator.start(event)

    @app.agent(app.topic(s.topic("export-shards"), **raw), name="export-shards", concurrency=1)
    async def export_shards(stream):
        async for event in stream.events():
            shards.start(event)

    @app.timer(interval=HELPERS_CHECK_SECONDS)
    async def end_idle_export_helpers():
        try:
            await processes.end_idle()
        except Exception as exc:  # the helper is no longer counted; its process ends with the worker
            log.warning("ending an idle export helper failed: %r", exc)

    @app.on_partitions_revoked.connect
    async def stop_moved_shards(app, revoked, **kwargs):
        await shards.on_revoked({tp.partition for tp in revoked})

    @app.on_before_shutdown.connect
    async def stop_scan_processes(app, **kwargs):
        await processes.close()

    return coordinator, inbox
