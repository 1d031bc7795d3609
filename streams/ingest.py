"""The front door of every input agent: decode, validate, dead-letter, re-route mis-keyed records."""
from __future__ import annotations

from convoflow.contract.events import Rejected, parse_record, record_key
from convoflow.streams.runtime import Runtime, log


async def accepted(runtime: Runtime, records, logical: dict[str, str]) -> list[tuple[object, dict]]:
    """(record, validated event) for each record of the contract; the rest are dead letters.

    A valid record whose Kafka key is not the contract's key (e.g. produced
    without a key) is published again with the right key, so that it lands in
    the partition that owns its state, and is applied there.
    """
    out = []
    for msg in records:
        try:
            e = parse_record(logical[msg.topic], msg.value)
        except Rejected as exc:
            await runtime.dead_letter(msg, exc.reason)
            continue
        if e is None:  # tombstone
            continue
        key = record_key(e).encode()
        if msg.key != key:
            runtime.counts["rerouted"] += 1
            log.info("re-routing %s[%d]@%d: key %r is not %r", msg.topic, msg.partition, msg.offset, msg.key, key)
            await runtime.app.producer.send(msg.topic, key, msg.value, partition=None, timestamp=None, headers=None)
            continue
        runtime.events[(msg.topic, e["type"])] += 1
        out.append((msg, e))
    return out
