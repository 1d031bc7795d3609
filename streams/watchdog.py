"""A worker left without partitions asks its group to rebalance again.

A worker whose group join happens while a restarted broker does not list the
topics yet gets an empty assignment, and the Kafka client does not rejoin by
itself when the topics come back. Every two seconds this checks the
assignment; after two empty checks in a row it requests a rejoin, then waits
twice as long before the next one, at most eight times (a deployment with
more workers than partitions legitimately leaves some workers idle, and must
not rebalance forever).
"""
from __future__ import annotations

from faust.exceptions import ConsumerNotStarted

from convoflow.streams.runtime import Runtime, log

CHECK_SECONDS = 2.0
MAX_REJOINS = 8


def register(app, runtime: Runtime) -> None:
    state = {"empty_checks": 0, "rejoins": 0}

    @app.on_partitions_assigned.connect
    async def assigned(app, assigned, **kwargs):
        if assigned:
            state["empty_checks"] = state["rejoins"] = 0

    @app.timer(interval=CHECK_SECONDS)
    async def check_assignment():
        if state["rejoins"] >= MAX_REJOINS:
            return
        try:
            empty = not app.consumer.assignment()
        except ConsumerNotStarted:
            return
        state["empty_checks"] = state["empty_checks"] + 1 if empty else 0
        if state["empty_checks"] < 2 ** (state["rejoins"] + 1):
            return
        state["empty_checks"] = 0
        state["rejoins"] += 1
        log.warning("no partitions assigned: asking the group to rebalance (%d of %d)", state["rejoins"], MAX_REJOINS)
        await app.consumer.rejoin()  # in the consumer's thread: fresh metadata first, then a new join
