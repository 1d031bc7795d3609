"""The worker's readers (contact copy, export inbox, export results) around a stop."""
import asyncio

from convoflow.streams.export_engine.inbox import Inbox
from convoflow.streams.export_results import Results
from convoflow.streams.replica import Replica
from tests.streams.worker_app import run, worker_app


def test_a_stop_while_the_readers_start_ends_their_start_before_stopping_them(tmp_path, monkeypatch):
    app = next(worker_app(tmp_path))
    calls = []

    async def start_forever(self):
        calls.append("replica started")
        await asyncio.Event().wait()  # a broker that does not answer yet

    monkeypatch.setattr(Replica, "start", start_forever)
    for cls, name in ((Inbox, "inbox"), (Results, "results"), (Replica, "replica")):
        async def stop(self, name=name):
            calls.append(f"{name} stopped")
        monkeypatch.setattr(cls, "stop", stop)
    monkeypatch.setattr(Inbox, "start", lambda self: calls.append("inbox started"))
    start_readers = next(t for t in app._app_tasks if getattr(t, "__name__", "") == "start_readers")

    async def scenario():
        starting = asyncio.ensure_future(start_readers())
        await asyncio.sleep(0.01)
        await app.on_before_shutdown.send()
        return starting.cancelled()

    assert run(app, scenario())
    assert calls == ["replica started", "results stopped", "inbox stopped", "replica stopped"]
