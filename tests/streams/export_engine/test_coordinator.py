"""The coordinator (streams/export_engine/coordinator.py): how many catch-up rounds an export sends."""
import asyncio
from types import SimpleNamespace

from convoflow.streams.export_engine import coordinator as coordinating
from convoflow.streams.export_engine.coordinator import CATCHUP_HOPS


def catch_up_rounds(monkeypatch, ends_seen: list[dict], warm=None, bodies=None) -> list[dict]:
    """The offsets of each catch-up round a coordinator sends, when the broker's end offsets are
    ``ends_seen`` one read after the other (the last one repeating); each round's request in ``bodies``."""
    reads = iter(ends_seen)
    last = {}

    async def end_offsets(consumer, topics):
        # Not the parts reader: the broker would answer this only after that reader's waiting fetch.
        assert consumer == "offsets client"
        nonlocal last
        last = next(reads, last)
        return last

    monkeypatch.setattr(coordinating, "end_offsets", end_offsets)
    coordinator = coordinating.Coordinator.__new__(coordinating.Coordinator)
    coordinator.inbox = SimpleNamespace(offsets="offsets client", consumer="parts reader")
    coordinator.inputs, coordinator.internal = ["t-messages"], ["t-people-updates"]
    rounds = []

    async def fan_out(req, op, **body):
        assert op == "catchup"
        rounds.append(body["offsets"])
        if bodies is not None:
            bodies.append(body)

    coordinator.fan_out = fan_out
    asyncio.run(coordinator.catch_up(None, warm))
    return rounds


def test_catch_up_stops_when_a_round_sent_nothing_on(monkeypatch):
    idle = {"t-messages": {0: 5}, "t-people-updates": {0: 7}}
    assert catch_up_rounds(monkeypatch, [idle]) == [idle]


def test_catch_up_follows_a_re_routed_record_to_the_updates_its_copy_sends(monkeypatch):
    published = {"t-messages": {0: 5}, "t-people-updates": {0: 7}}
    rerouted = {"t-messages": {0: 6}, "t-people-updates": {0: 8}}  # the copy, and what the original sent
    applied = {"t-messages": {0: 6}, "t-people-updates": {0: 9}}  # what the copy sent
    assert catch_up_rounds(monkeypatch, [published, rerouted, applied, applied]) == [published, rerouted, applied]


def test_catch_up_ends_after_the_longest_chain_while_records_keep_arriving(monkeypatch):
    busy = [{"t-messages": {0: 100 * n}, "t-people-updates": {0: 50 * n}} for n in range(1, 10)]
    assert catch_up_rounds(monkeypatch, busy) == busy[:CATCHUP_HOPS]


def test_only_the_first_round_asks_the_shards_to_start_export_helpers(monkeypatch):
    published = {"t-messages": {0: 5}, "t-people-updates": {0: 7}}
    applied = {"t-messages": {0: 5}, "t-people-updates": {0: 9}}
    bodies = []
    catch_up_rounds(monkeypatch, [published, applied, applied], warm="agent_metrics", bodies=bodies)
    assert [b.get("warm") for b in bodies] == ["agent_metrics", None]
    bodies.clear()
    catch_up_rounds(monkeypatch, [published], bodies=bodies)
    assert [b.get("warm") for b in bodies] == [None]
