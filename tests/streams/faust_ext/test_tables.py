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


def test_a_rebalance_restores_new_active_and_holed_changelog_partitions(app, monkeypatch):
    from faust.types import TP

    manager = app.tables
    conversations, presence = manager["conversations"], manager["presence"]
    c_topic = conversations.changelog_topic.get_topic_name()
    p_topic = presence.changelog_topic.get_topic_name()
    active, standby, new, holed, gone = TP(c_topic, 0), TP(c_topic, 1), TP(c_topic, 2), TP(p_topic, 3), TP(p_topic, 1)
    monkeypatch.setattr(app.assignor, "assigned_actives", lambda: {active, TP("ext-messages", 0)})
    presence.data.holes[holed] = 17
    presence.data.holes[gone] = 5  # no longer assigned here: nothing to read
    assigned = {active, standby, new, holed, TP("ext-messages", 0)}
    assert manager.to_restore(assigned, {new}) == {active, new, holed}

    restored, handed_on = [], []

    async def restorer(tps):
        restored.append(set(tps))

    async def faust_on_rebalance(self, *args):
        handed_on.append(args)

    manager.restorer = restorer
    monkeypatch.setattr(app, "consumer_generation_id", 3, raising=False)
    from faust.tables.manager import TableManager as FaustTableManager
    monkeypatch.setattr(FaustTableManager, "on_rebalance", faust_on_rebalance)  # Faust's recovery: not here
    run(app, manager.on_rebalance(assigned, set(), {new}, 3))
    assert restored == [{active, new, holed}] and len(handed_on) == 1
    assert presence.data.holes == {gone: 5}, "a partition read again has no hole left"
