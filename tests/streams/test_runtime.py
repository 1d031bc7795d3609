"""A batch that fails is applied again, never dropped; an event that keeps failing becomes a dead letter."""
import asyncio
from types import SimpleNamespace

import pytest

from convoflow.config import Settings
from streams import runtime as rt


class Event(SimpleNamespace):
    pass


def event(offset):
    return Event(message=SimpleNamespace(topic="t", partition=0, offset=offset, key=b"k", value=b"v"), value=b"v")


def runtime_with_dead_letters(monkeypatch):
    r = rt.Runtime(Settings())
    letters = []

    async def dead_letter(ev, reason):
        letters.append((ev.message.offset, reason))

    monkeypatch.setattr(r, "dead_letter", dead_letter)
    return r, letters


def feed(monkeypatch, batches):
    async def fake_batches(app, channel, max_, linger):
        for b in batches:
            yield b

    monkeypatch.setattr(rt, "batches", fake_batches)


def test_a_batch_that_fails_once_is_applied_again(monkeypatch):
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1)]])
    r.sent.changed("conversation|c1")
    applied, calls = [], []

    async def apply(events):
        calls.append(len(events))
        if len(calls) == 1:
            raise ConnectionError("broker away")
        applied.extend(ev.message.offset for ev in events)

    asyncio.run(rt.apply_batches(r, None, apply))
    assert applied == [0, 1] and calls == [2, 2] and not letters
    assert r.processed[("t", 0)] == 2
    assert r.counts["apply_errors"] == 1
    assert r.sent.digests == {}, "what the failed attempt marked as sent is sent again"


def test_an_event_that_keeps_failing_goes_to_dead_letters_and_the_rest_is_applied(monkeypatch):
    monkeypatch.setattr(rt, "RETRY_FOR_SECONDS", 0.3)
    r, letters = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0), event(1), event(2)], [event(3)]])
    applied = []

    async def apply(events):
        if any(ev.message.offset == 1 for ev in events):
            raise ValueError("cannot apply offset 1")
        applied.extend(ev.message.offset for ev in events)

    asyncio.run(rt.apply_batches(r, None, apply))
    assert applied == [0, 2, 3]
    assert letters == [(1, "internal error while applying the event: ValueError: cannot apply offset 1")]
    assert r.processed[("t", 0)] == 4


def test_cancellation_is_not_retried(monkeypatch):
    r, _ = runtime_with_dead_letters(monkeypatch)
    feed(monkeypatch, [[event(0)]])

    async def apply(events):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(rt.apply_batches(r, None, apply))
    assert ("t", 0) not in r.processed
