"""What coordinators and shards share (streams/export_engine/protocol.py): the context a report runs in."""
from types import SimpleNamespace

from convoflow.exporters.request import ExportRequest
from convoflow.streams.export_engine.protocol import report_context


def test_a_report_runs_with_this_workers_copies_and_url_template():
    directory = object()

    def identifiers(contact_id):
        return ("+316", contact_id)

    replica = SimpleNamespace(directory=directory, contact_identifiers=identifiers)
    runtime = SimpleNamespace(settings=SimpleNamespace(url_template="https://app.example/c/{conversation_id}"))
    req = ExportRequest("r1", "teams", "Europe/Amsterdam", "2024-07-15", "2024-07-15")
    ctx = report_context(replica, runtime, req, 1_721_034_902_123_000)
    assert ctx.request is req and ctx.as_of_us == 1_721_034_902_123_000
    assert ctx.directory is directory and ctx.contact_identifiers("ct-1") == ("+316", "ct-1")
    assert ctx.url("c-1") == "https://app.example/c/c-1"
