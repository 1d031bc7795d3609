"""What coordinators and shards share: the error a moved shard answers with, and the context a
report runs in (the request, its as-of time, this worker's copies of the directory and of the
contacts' identifiers)."""
from __future__ import annotations

from convoflow.exporters.context import ReportContext
from convoflow.exporters.request import ExportRequest
from convoflow.streams.replica import Replica
from convoflow.streams.runtime import Runtime

REASSIGNED = "reassigned"  # how a shard's error starts when its partition moved to another worker


def report_context(replica: Replica, runtime: Runtime, req: ExportRequest, as_of_us: int) -> ReportContext:
    return ReportContext(req, as_of_us, replica.directory, replica.contact_identifiers, runtime.settings.url_template)
