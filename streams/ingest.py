"""The front door of every input agent: decode, validate, dead-letter, re-route mis-keyed records."""
from __future__ import annotations

from collections import Counter

from convoflow.contract.events import TYPE_TOPIC, Rejected, parse_record, record_key
from convoflow.streams.runtime import Runtime, log


async def accepted(runtime: Runtime, records, logical: dict[str, str]) -> list[dict]:
    """The validated event of each record of the contract, in order; the rest are dead letters.

    A valid record whose Kafka key is not the contract's key (e.g. produced
    without a key) is published again with the right key, so that it lands in
    the partition that owns its state, and is applied there.
    """
    out = []
    append = out.append
    types: Counter = Counter()  # accepted events by type (a type belongs to one topic)
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
        types[e["type"]] += 1
        append(e)
    if types:
        topic_of_logical = {name: topic for topic, name in logical.items()}
        for etype, n in types.items():
            runtime.events[(topic_of_logical[TYPE_TOPIC[etype]], etype)] += n
    return out
