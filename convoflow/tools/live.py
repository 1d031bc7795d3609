"""A contact centre in real time: ``convoflow simulate --live``.

The live feed plays the simulator's days (``convoflow.tools.simulate.generate``, one
UTC day at a time) against the wall clock: every event is published when its
``occurred_at`` arrives, so agents log in and out on their shifts and
conversations open, are answered and resolved while a dashboard watches.

* Each UTC day is generated from ``(seed, date)`` alone, with the day's date
  in its conversation, message, lock, survey and event ids (``c-20250301-000042``):
  the same day always gives the same events, so restarting the feed (or
  backfilling the same days again) only re-sends facts the workers already
  hold, which changes nothing. Agents, teams, channels, topics, tags and
  contacts keep their ids from day to day.
* On start, the past is sent at once: ``backfill`` whole days before today and
  today up to now (so that the conversations in progress have their
  beginning), then the feed waits for each next event. A day is generated a
  little before it starts; events of a day that fall on later days (a reopened
  conversation, a late survey answer) wait their turn with the others.
* ``rate`` is the average number of new conversations per hour; the hours of a
  day are weighted like the simulator's (busy afternoons, quiet nights).
* A conversation the simulator leaves New or Pending is resolved by the system
  a day after its last status change (``AUTO_RESOLVE``), as contact centres
  do: the open queue holds about a day's leftovers, not every day's since the
  feed started.

Pure scheduling lives in ``Feed`` (a clock is passed in, so tests control it);
``run`` publishes through the same producer and routing as ``convoflow publish``.
"""
from __future__ import annotations

import asyncio
import heapq
import signal
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter

from convoflow.tools import simulate
from convoflow.contract.config import ConfigError, Settings
from convoflow.contract.times import parse_time

DAY_US = 86_400 * 1_000_000
MAX_RATE = 1000.0  # conversations per hour: a day is generated in memory at once
MAX_BACKFILL_DAYS = 31
LOOKAHEAD_US = 10 * 60 * 1_000_000  # a day is generated this long before it starts

AUTO_RESOLVE_US = DAY_US  # a conversation left New or Pending is resolved this long after its last status

# Ids that name one conversation's facts: namespaced by the day they were generated for.
DAILY_IDS = ("event_id", "conversation_id", "message_id", "inbound_message_id", "lock_id", "survey_id")


def check(rate: float, backfill: int) -> None:
    """ConfigError (one line, exit 2) for a rate or backfill the feed cannot play."""
    if not 0 < rate <= MAX_RATE:
        raise ConfigError(f"--rate must be more than 0 and at most {MAX_RATE:g} conversations per hour, got {rate:g}")
    if not 0 <= backfill <= MAX_BACKFILL_DAYS:
        raise ConfigError(f"--backfill must be 0 to {MAX_BACKFILL_DAYS} days, got {backfill}")


def day_of(t_us: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=t_us)).date()


def day_start_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_US


def _daily(value: str, tag: str) -> str:
    """'c-000042' -> 'c-20250301-000042' (the simulator's ids are a letter, a dash and a number or name)."""
    head, sep, rest = value.partition("-")
    return f"{head}-{tag}-{rest}" if sep else f"{value}-{tag}"


def day_events(day: date, seed: int = 1, rate: float = 120.0, agents: int = 25, teams: int = 4) -> list[tuple[int, dict]]:
    """The simulated events of one UTC day as (occurred_at in µs, event), in time order.

    Deterministic in its arguments; the day's date is part of every per-conversation id."""
    events = simulate.generate(seed=seed * 1_000_003 + day.toordinal(), agents=agents, teams=teams,
                               conversations=max(1, round(rate * 24)), days=1, start=f"{day.isoformat()}T00:00:00Z")
    tag = day.strftime("%Y%m%d")
    out = []
    last_status: dict[str, tuple[int, str]] = {}
    for e in events:
        for name in DAILY_IDS:
            v = e.get(name)
            if v.__class__ is str:
                e[name] = _daily(v, tag)
        t = parse_time(e["occurred_at"])
        out.append((t, e))
        if e["type"] == "conversation.status_changed":
            last_status[e["conversation_id"]] = (t, e["status"])
    resolves = sorted((t + AUTO_RESOLVE_US - t % 1000, cid)  # to the millisecond, like the simulator's times
                      for cid, (t, status) in last_status.items() if status != "RESOLVED")
    for n, (t, cid) in enumerate(resolves, 1):
        out.append((t, {"event_id": f"e-{tag}-auto-{n:06d}", "type": "conversation.status_changed",
                        "occurred_at": _rfc3339(t), "conversation_id": cid, "status": "RESOLVED",
                        "resolved_by": "SYSTEM", "resolve_trigger": "AUTO_RESOLVE"}))
    out.sort(key=itemgetter(0))  # stable: the simulator's order stays for equal times
    return out


def _rfc3339(t_us: int) -> str:
    dt = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=t_us)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Feed:
    """The events of consecutive simulated days, handed out as the clock passes their time."""

    def __init__(self, first_day: date, seed: int = 1, rate: float = 120.0, agents: int = 25, teams: int = 4):
        self.seed, self.rate, self.agents, self.teams = seed, rate, agents, teams
        self.next_day = first_day
        self._heap: list[tuple[int, int, dict]] = []
        self._seq = 0
        self.days: list[date] = []

    def _extend(self, now_us: int) -> None:
        while day_start_us(self.next_day) <= now_us + LOOKAHEAD_US:
            for t, e in day_events(self.next_day, self.seed, self.rate, self.agents, self.teams):
                heapq.heappush(self._heap, (t, self._seq, e))
                self._seq += 1
            self.days.append(self.next_day)
            self.next_day += timedelta(days=1)

    def due(self, now_us: int) -> list[dict]:
        """Every event not yet handed out whose time is now or earlier, in time order."""
        self._extend(now_us)
        heap, out = self._heap, []
        while heap and heap[0][0] <= now_us:
            out.append(heapq.heappop(heap)[2])
        return out

    def next_at(self) -> int | None:
        """The time of the next event (µs), None when none is generated yet."""
        return self._heap[0][0] if self._heap else None


def describe(counts: Counter) -> str:
    opened = counts["conversation.status_changed:NEW"]
    return (f"{counts['events']} events: {counts['message.created']} messages, {opened} conversations (re)opened, "
            f"{counts['conversation.status_changed:RESOLVED']} resolved, {counts['presence.changed']} presence changes")


def _count(counts: Counter, event: dict) -> None:
    counts["events"] += 1
    typ = event["type"]
    counts[typ] += 1
    if typ == "conversation.status_changed":
        counts[f"{typ}:{event.get('status')}"] += 1


async def run(settings: Settings, feed: Feed, stop: asyncio.Event, clock=time.time, out=None,
              report_every: float = 60.0) -> Counter:
    """Publish the feed's past at once, then each event at its time, until ``stop`` is set."""
    from convoflow.tools.publish import _producer, route

    out = out if out is not None else sys.stderr
    now_us = lambda: int(clock() * 1_000_000)  # noqa: E731
    producer = await _producer(settings)
    counts: Counter = Counter()

    async def send(events: list[dict]) -> None:
        """Publish in order; a stop (a signal handled while sends yield) leaves the rest unsent."""
        import orjson

        pending = []
        for e in events:
            topic, key = route(e)
            pending.append(await producer.send(settings.topic(topic), orjson.dumps(e), key=key.encode()))
            _count(counts, e)
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                if stop.is_set():
                    break
        await asyncio.gather(*pending)

    try:
        first = feed.next_day
        # The past one day at a time, so that a stop does not wait for the whole backfill.
        day = first
        while not stop.is_set() and day_start_us(day) <= now_us():
            day += timedelta(days=1)
            await send(feed.due(min(day_start_us(day) - 1, now_us())))
        if stop.is_set():
            return counts
        print(f"live: backfill published ({first.isoformat()} 00:00 UTC to now): {describe(counts)}",
              file=out, flush=True)
        reported, last = clock(), Counter(counts)
        while not stop.is_set():
            await send(feed.due(now_us()))
            if clock() - reported >= report_every:
                print(f"live: last {clock() - reported:.0f} s: {describe(counts - last)}", file=out, flush=True)
                reported, last = clock(), Counter(counts)
            nxt = feed.next_at()
            wait = 1.0 if nxt is None else min(1.0, max(0.0, (nxt - now_us()) / 1e6))
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))
            except asyncio.TimeoutError:
                pass
    finally:
        await producer.stop()
    return counts


def main(settings: Settings, seed: int, rate: float, backfill: int, agents: int, teams: int = 4) -> int:
    """``convoflow simulate --live``: runs until SIGINT or SIGTERM, then prints what it published."""
    check(rate, backfill)
    first = day_of(int(time.time() * 1_000_000)) - timedelta(days=backfill)
    feed = Feed(first, seed=seed, rate=rate, agents=agents, teams=teams)
    print(f"live: {rate:g} conversations per hour, {agents} agents, from {first.isoformat()} (UTC) on; "
          "Ctrl-C stops", file=sys.stderr, flush=True)

    async def go() -> Counter:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run(settings, feed, stop)

    counts = asyncio.run(go())
    print(f"live: stopped; published {describe(counts)}", file=sys.stderr, flush=True)
    return 0
