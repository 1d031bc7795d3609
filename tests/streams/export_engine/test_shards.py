"""Shards (streams/export_engine/shards.py): a shard answering a coordinator in its own process hands the parts
over directly; a shard request delivered twice is answered once."""
import asyncio
from types import SimpleNamespace

from convoflow.contract.config import Settings
from convoflow.streams.export_engine.inbox import Inbox
from convoflow.streams.export_engine import shards as shards_module
from convoflow.streams.export_engine.shards import LOCAL_PARTS_AHEAD, Shards
from convoflow.streams.codec import dumps
from convoflow.streams.scan_process import write_part


class Producer:
    def __init__(self):
        self.sent = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key, value))


def shards_with_local_coordinator(token):
    producer = Producer()
    settings = SimpleNamespace(topic=lambda name: f"t-{name}", export_timeout=300.0)
    runtime = SimpleNamespace(settings=settings)
    inbox = Inbox(runtime)
    inbox.waiting[token] = asyncio.Queue()
    shards = Shards(SimpleNamespace(producer=producer), runtime, None, {}, inbox)
    return shards, inbox.waiting[token], producer


def test_parts_for_a_coordinator_in_this_process_skip_kafka_and_lines_skip_json():
    async def scenario():
        shards, queue, producer = shards_with_local_coordinator("r1.abc")
        lines = [[("2024-07-01", "c1"), "c1,2024-07-01\r\n"]]
        await shards.reply("r1.abc", 2, lines, False, lines=True)
        rows = [[("agent", 1), {"3": 1}]]
        await shards.reply("r1.abc", 2, rows, True)
        await shards.reply("r2.def", 3, rows, True)  # another process's export: through Kafka
        return queue.get_nowait(), queue.get_nowait(), producer.sent

    first, second, sent = asyncio.run(scenario())
    assert first["rows"][0][0] == ("2024-07-01", "c1"), "lines as made: the coordinator encodes them once"
    assert (first["shard"], first["done"], first["error"]) == (2, False, None)
    assert second["rows"] == [[["agent", 1], {"3": 1}]] and second["done"], "other rows as JSON would bring them"
    assert [(topic, key) for topic, key, _ in sent] == [("t-export-parts", b"r2.def")]


class HelperScans:
    """Export helpers that answer with a part written as a helper writes one."""

    def __init__(self, root, part):
        self.root, self.part = root, part

    async def scan(self, name, job, dbs, contacts, export=None):
        directory = self.root / name
        directory.mkdir()
        return str(directory), write_part(self.part, str(directory))


def test_a_helpers_partials_reach_a_coordinator_in_this_process_whole_and_others_through_kafka(tmp_path, monkeypatch):
    part = [[["a-1"], {"p": {"replies": 2, "contacts": {"ct-1": 1}}}], ["a-2", {"av": 5}]]
    req = {"report": "agent_metrics", "request": {}, "as_of_us": 0}
    encoded = []
    monkeypatch.setattr(shards_module, "dumps", lambda value: encoded.append(value) or dumps(value))

    async def scenario():
        shards, queue, producer = shards_with_local_coordinator("r1.abc")
        shards.processes = HelperScans(tmp_path, part)
        shards.replica = SimpleNamespace(directory=SimpleNamespace(entries={}), identifiers=None)
        shards.runtime.scan_processes = 0
        shards.runtime.settings.url_template = ""
        await shards.scan_with_process("r1.abc", 2, req, {})
        encoded_for_local = len(encoded)
        await shards.scan_with_process("r2.def", 3, req, {})  # another process's export: through Kafka
        return [queue.get_nowait() for _ in range(queue.qsize())], producer.sent, encoded_for_local

    local, sent, encoded_for_local = asyncio.run(scenario())
    assert local == [{"shard": 2, "run": 0, "rows": part, "done": True, "error": None}], "one part, as JSON brings it"
    assert encoded_for_local == 0 and encoded, "read from JSON already: not encoded again for this process"
    assert [(topic, key) for topic, key, _ in sent] == [("t-export-parts", b"r2.def")]
    assert list(tmp_path.iterdir()) == [], "the helpers' files are gone"


def test_a_local_shard_waits_while_its_coordinator_is_behind_and_stops_waiting_when_it_gives_up():
    async def scenario():
        shards, queue, _ = shards_with_local_coordinator("r1.abc")

        async def scan():
            for n in range(3 * LOCAL_PARTS_AHEAD):
                await shards.reply("r1.abc", 0, [[["c%d" % n], "line\r\n"]], False, lines=True)

        task = asyncio.ensure_future(scan())
        await asyncio.sleep(0.05)
        ahead = queue.qsize()
        taken = [queue.get_nowait() for _ in range(ahead)]
        await asyncio.sleep(0.05)
        ahead_again = queue.qsize()
        del shards.inbox.waiting["r1.abc"]  # the export gave up: the scan no longer waits for it
        await asyncio.wait_for(task, 1.0)
        return ahead, len(taken), ahead_again

    ahead, taken, ahead_again = asyncio.run(scenario())
    assert ahead == LOCAL_PARTS_AHEAD and taken == LOCAL_PARTS_AHEAD
    assert ahead_again == LOCAL_PARTS_AHEAD, "it went on once the coordinator had taken parts, and waited again"


def test_a_shard_request_delivered_twice_is_answered_once():
    """A partition of export-shards read again (as after a broker failure) delivers a request twice; two
    answers would give the coordinator the shard's rows twice."""
    handled = []

    class Counting(Shards):
        async def handle(self, req):
            handled.append((req["token"], req["shard"]))

    async def scenario():
        shards = Counting(SimpleNamespace(producer=Producer()), SimpleNamespace(settings=Settings()), None, {}, None)
        request = SimpleNamespace(value=dumps({"token": "r1.abc", "shard": 2, "op": "scan"}))
        shards.start(request)
        await asyncio.sleep(0)
        shards.start(request)  # while or after the first is answered
        shards.start(SimpleNamespace(value=dumps({"token": "r1.abc", "shard": 3, "op": "scan"})))
        shards.start(SimpleNamespace(value=dumps({"token": "r2.def", "shard": 2, "op": "scan"})))
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert handled == [("r1.abc", 2), ("r1.abc", 3), ("r2.def", 2)]


class Processes:
    """Export helpers as a shard sees them: wanted for partitions of at least ``min_keys`` keys."""

    def __init__(self, min_keys: int, fail: bool = False):
        self.min_keys, self.fail, self.warmed = min_keys, fail, []

    def wanted(self, dbs: dict, key_cost: int = 1) -> bool:
        return sum(dbs.values()) * key_cost >= self.min_keys

    async def warm(self) -> None:
        if self.fail:
            raise OSError("no processes left")
        self.warmed.append(True)


def test_a_catch_up_starts_an_export_helper_only_for_a_scan_that_will_use_one():
    async def catch_up(processes, warm):
        producer = Producer()
        producer.flush = lambda: asyncio.sleep(0)
        runtime = SimpleNamespace(settings=Settings(), wait_processed=lambda offsets, p, timeout: asyncio.sleep(0))
        tables = {"owner_days": SimpleNamespace(data=SimpleNamespace(partition_db=lambda p: 10 * p)),
                  "presence": SimpleNamespace(data=SimpleNamespace(partition_db=lambda p: 10 * p))}
        shards = Shards(SimpleNamespace(producer=producer), runtime, None, tables, None, processes)
        answers = []
        shards.reply = lambda token, p, rows, done, error=None, **kw: asyncio.sleep(0, answers.append((p, done, error)))
        for p in (1, 3):
            await shards.handle({"token": "r1.abc", "shard": p, "op": "catchup", "offsets": {}, **warm})
        return answers

    processes = Processes(min_keys=50)  # agent_metrics reads owner_days and presence: 20 keys at 1, 60 at 3
    answers = asyncio.run(catch_up(processes, {"warm": "agent_metrics"}))
    assert answers == [(1, True, None), (3, True, None)] and processes.warmed == [True]
    asyncio.run(catch_up(processes, {}))
    assert processes.warmed == [True], "a catch-up that names no report (a lookup's) starts none"
    failing = Processes(min_keys=0, fail=True)
    assert asyncio.run(catch_up(failing, {"warm": "agent_metrics"})) == [(1, True, None), (3, True, None)], \
        "a helper that does not start leaves the catch-up answered (the scan starts its own)"


def test_a_shard_is_answered_in_process_only_while_its_partition_is_active_and_settled():
    """``owned``: a coordinator skips the hop through export-shards only for a partition this worker owns
    as active, outside a rebalance and after recovery; otherwise the owner of the day answers through Kafka."""
    from faust.exceptions import ConsumerNotStarted
    from faust.types import TP

    settings = Settings(topic_prefix="x-")
    assignment = {TP("x-export-shards", 1), TP("x-messages", 2)}

    class Consumer:
        started = True

        def assignment(self):
            if not self.started:
                raise ConsumerNotStarted()
            return assignment

    completed = asyncio.Event()
    app = SimpleNamespace(rebalancing=False, consumer=Consumer(),
                          tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)))
    shards = Shards(app, SimpleNamespace(settings=settings), None, {}, None)
    assert 1 not in shards.owned(), "recovery not done yet"
    completed.set()
    assert 1 in shards.owned() and 2 not in shards.owned(), "only a partition of export-shards assigned here"
    app.rebalancing = True
    assert 1 not in shards.owned()
    app.rebalancing = False
    app.consumer.started = False
    assert 1 not in shards.owned()
