"""A fix to faust-streaming 0.15's consumer loop, applied when a worker starts.

Faust treats a jump in the offsets it reads from a partition as a "gap" (left by
compaction or transaction markers) and acknowledges the skipped offsets as if
they had been processed. Around a rebalance, records fetched before a seek can
arrive after it; the jump they make is then no gap at all, and the records in
between were committed without ever reaching an agent: a lost message in the
reports (seen in the rebalance test). Faust also advanced its read position for
a record whose delivery a rebalance had cancelled.

Our acknowledged topics are plain topics, without compaction or transactions,
so a jump always means "read from the wrong place": here the partition is read
again from where it was, and the read position moves only for delivered records.
"""
from __future__ import annotations

import asyncio
import logging

from faust.transport import consumer as faust_consumer
from faust.transport.consumer import CONSUMER_FETCHING

log = logging.getLogger("convoflow")


async def _drain_messages(self, fetcher) -> None:  # the loop of faust.transport.consumer.Consumer, fixed
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every, num_since_yield = 100, 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                rewound = set()
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    if tp in rewound:
                        continue  # the rest of a batch read from the wrong place
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue  # already delivered
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        rewound.add(tp)
                        log.info("read %s[%d]@%d after %d: reading the partition again from %d",
                                 tp.topic, tp.partition, offset, r_offset, r_offset)
                        try:
                            await self.seek(tp, r_offset)
                        except Exception as exc:  # no longer assigned: the next owner reads it
                            log.info("could not seek %s[%d]: %r", tp.topic, tp.partition, exc)
                        continue
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    delivery = callback(message)
                    waited = await self.wait_first(delivery, self.suspend_flow.wait())
                    if delivery not in waited.done:
                        break  # a rebalance stopped the flow: it seeks to the committed offsets
                    set_read_offset(tp, offset)
            unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


def apply() -> None:
    faust_consumer.Consumer._drain_messages = _drain_messages
