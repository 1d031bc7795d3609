"""A request to a broker that is away is tried again until it succeeds; a cancellation is not retried."""
import asyncio

import pytest

from convoflow.streams import polling


def test_a_failing_request_is_tried_again_until_it_succeeds(monkeypatch):
    async def no_wait(_):
        pass

    monkeypatch.setattr(polling.asyncio, "sleep", no_wait)
    calls = []

    async def request():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("broker away")
        return "answer"

    assert asyncio.run(polling.patiently(request, "test")) == "answer"
    assert len(calls) == 3


def test_a_cancelled_request_is_not_tried_again():
    calls = []

    async def request():
        calls.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(polling.patiently(request, "test"))
    assert calls == [1]


def test_poll_is_the_consumers_getmany_with_its_arguments():
    class Consumer:
        async def getmany(self, **kwargs):
            return kwargs

    answer = asyncio.run(polling.poll(Consumer(), "test", timeout_ms=5, max_records=7))
    assert answer == {"timeout_ms": 5, "max_records": 7}
