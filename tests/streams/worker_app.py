"""A real worker app (convoflow's transport, store and table manager) whose broker is never reached,
and real aiokafka records to feed it."""
import asyncio

from aiokafka.structs import ConsumerRecord
from faust.types import TP

from convoflow.app import create_app
from convoflow.contract.config import Settings

PREFIX = "ext-"


def worker_app(tmp_path):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Faust's services use the loop current when they are made
    app, _ = create_app(Settings(broker="kafka://127.0.0.1:1", topic_prefix=PREFIX, data_dir=str(tmp_path)))
    yield app
    asyncio.set_event_loop(None)
    loop.close()


def run(app, coro):
    """Run a coroutine on the app's loop."""
    return app.loop.run_until_complete(coro)


def record(topic: str, partition: int, offset: int, key=b"k", value=b"v", timestamp: int = 0) -> ConsumerRecord:
    """aiokafka's own record type, as its fetcher hands records to Faust."""
    return ConsumerRecord(topic, partition, offset, timestamp, 0, key, value, None, len(key), len(value), ())


def records(topic: str, *offsets: int, partition: int = 0, timestamp: int = 0) -> dict:
    return {TP(topic, partition): [record(topic, partition, o, timestamp=timestamp) for o in offsets]}


class Script:
    """Drives the real consumer's loop: each step changes the app, then is one fetch."""

    def __init__(self, consumer, steps):
        self.consumer, self.steps, self.seeks = consumer, list(steps), []

    async def wait_next_records(self, timeout):
        if not self.steps:
            self.consumer._stopped.set()
            return None, None
        before, fetched = self.steps.pop(0)
        before(self.consumer.app)
        return fetched, None

    async def seek_now(self, tp, offset):
        self.seeks.append((tp.topic, tp.partition, offset))

    def run(self):
        from types import SimpleNamespace

        consumer = self.consumer
        consumer._wait_next_records = self.wait_next_records  # this test's broker
        consumer._thread.seek_now = self.seek_now
        consumer.app.flow_control.resume()
        run(consumer.app, consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event())))
        consumer._stopped.clear()  # how the script ended the loop
        return self


def nothing(app):
    pass
