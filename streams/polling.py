"""Kafka requests of a worker's plain aiokafka clients, waiting out a broker that is away.

A broker that restarts comes back and the client reconnects by itself, so a failed request is
tried again rather than given up on: the restore, the replica, the export inbox and the export
results all read this way.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("convoflow")


async def poll(consumer, what: str, **getmany):
    """``consumer.getmany`` for the plain aiokafka readers of a worker, waiting out a broker
    that went away (the client reconnects by itself)."""
    return await patiently(lambda: consumer.getmany(**getmany), f"{what} fetch")


async def patiently(request, what: str):
    """``await request()`` again until it succeeds: a broker that is away (restarting) comes back,
    and the client reconnects by itself. Errors are logged as warnings, twice a second at most."""
    while True:
        try:
            return await request()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed: %r", what, exc)
            await asyncio.sleep(0.5)
