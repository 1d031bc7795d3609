"""`convoflow simulate --live` against the real broker: the past at once, then each event when its time comes."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

from aiokafka import AIOKafkaConsumer

from convoflow.contract.config import Settings
from convoflow.contract.events import parse_record
from convoflow.contract.times import parse_time
from convoflow.contract.topics import partitions_of_topics
from tests.integration.harness import BROKER

BACKFILL_LINE = re.compile(r"^live: backfill published .*: (\d+) events")
STOPPED_LINE = re.compile(r"^live: stopped; published (\d+) events")


class Feed:
    """The feed as a subprocess; its stderr lines collected by a thread."""

    def __init__(self, settings: Settings, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "convoflow.cli", "simulate", "--live", "--broker", settings.broker,
             "--topic-prefix", settings.topic_prefix, "--partitions", str(settings.partitions), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def wait_for(self, pattern: re.Pattern, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = pattern.match(line)
                if m:
                    return m
            assert self.proc.poll() is None, f"the feed exited with {self.proc.returncode}: {self.lines}"
            time.sleep(0.2)
        raise AssertionError(f"no {pattern.pattern!r} within {timeout:.0f} s: {self.lines}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.reader.join(timeout=10)


async def paced_events(settings: Settings, wanted: int, timeout: float) -> list[tuple[float, dict]]:
    """(time received, event) of the next ``wanted`` records published on the input topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
                                **settings.kafka_kwargs())
    await consumer.start()
    try:
        tps = await partitions_of_topics(consumer, settings.input_topics())
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        got: list[tuple[float, dict]] = []
        deadline = time.monotonic() + timeout
        while len(got) < wanted and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                topic = tp.topic[len(settings.topic_prefix):]
                for r in records:
                    got.append((time.time(), parse_record(topic, r.value)))  # raises for an invalid event
        return got
    finally:
        await consumer.stop()


def test_live_feed_backfills_then_publishes_each_event_at_its_time(broker):
    settings = Settings(broker=BROKER, topic_prefix=f"t{uuid.uuid4().hex[:10]}-", partitions=2)
    started = time.time()
    feed = Feed(settings, "--rate", "300", "--agents", "5", "--seed", "3")
    try:
        backfill = int(feed.wait_for(BACKFILL_LINE, 180).group(1))
        assert backfill > 0  # today so far (UTC) at least: its directory comes at 00:00:01
        got = asyncio.run(paced_events(settings, wanted=3, timeout=240))
        assert len(got) >= 3, f"only {len(got)} events in 240 s after the backfill"
        for received, event in got:
            occurred = parse_time(event["occurred_at"]) / 1e6
            # current timestamps, never sent ahead of their time (1 s for clocks and batching)
            assert started - 5 <= occurred <= received + 1, (event, received)
        # live, not the backfill's: the backfill ends at the feed's start, and a live event's time is
        # when it is sent (from `started`, not from when the backfill line was read: a loaded machine
        # may take seconds to read it)
        assert max(parse_time(e["occurred_at"]) / 1e6 for _, e in got) > started
    finally:
        code = feed.stop()
    assert code == 0, feed.lines
    total = int(feed.wait_for(STOPPED_LINE, 10).group(1))
    assert total >= backfill + 3
    assert not any("Traceback" in line for line in feed.lines), feed.lines


def test_a_stop_during_a_long_backfill_ends_the_feed_cleanly(broker):
    """31 days at 200 conversations an hour take minutes to send: SIGTERM a few seconds in stops it between
    batches, with the summary of what was sent, and without the backfill line."""
    settings = Settings(broker=BROKER, topic_prefix=f"t{uuid.uuid4().hex[:10]}-", partitions=2)
    feed = Feed(settings, "--rate", "200", "--agents", "5", "--backfill", "31")
    feed.wait_for(re.compile(r"^live: 200 conversations per hour"), 60)
    time.sleep(3)
    assert feed.stop() == 0, feed.lines
    total = int(feed.wait_for(STOPPED_LINE, 10).group(1))
    assert total < 31 * 200 * 24 * 15  # far from the whole backfill
    assert not any(BACKFILL_LINE.match(line) for line in feed.lines), feed.lines
    assert not any("Traceback" in line for line in feed.lines), feed.lines
