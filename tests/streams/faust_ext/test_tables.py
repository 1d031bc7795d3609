"""convoflow's table manager, as the real one of a worker app."""
from ..worker_app import run


def test_the_tables_start_at_once(app, monkeypatch):
    manager = app.tables
    calls = []

    async def sleep(seconds):
        calls.append(("sleep", seconds))

    async def update_channels():
        calls.append("channels")

    async def start_recovery():
        calls.append("recovery")

    monkeypatch.setattr(manager, "sleep", sleep)
    monkeypatch.setattr(manager, "_update_channels", update_channels)
    monkeypatch.setattr(manager.recovery, "start", start_recovery)
    run(app, manager.on_start())
    assert calls == ["channels", "recovery"], "Faust's slept a second first"
