"""What the Kafka client library reports through asyncio, at the level it deserves in a worker's log.

aiokafka closes a broker connection that its client no longer references when the
garbage collector takes it, and asks asyncio to report "Unclosed AIOKafkaConnection",
which asyncio's default handler logs as an ERROR. The client opens such a connection
when a request to a node is under way while the client closes (a worker stopping in
its first second, for example); nothing is lost with it: no record or offset travels
on a connection nobody waits on, and the socket is closed by then. The worker logs it
as a WARNING, naming the node, so that ERROR stays for what needs an operator.
"""
from __future__ import annotations

import logging

UNCLOSED = "Unclosed AIOKafkaConnection"


class CollectedConnections(logging.Filter):
    """Logs asyncio's report of a collected aiokafka connection as a WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and isinstance(record.msg, str) and record.msg.startswith(UNCLOSED):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            details = "; ".join(line for line in record.getMessage().splitlines()[1:] if line.strip())
            record.msg = f"{UNCLOSED}, closed when collected (its client no longer held it): %s"
            record.args = (details,)
            record.exc_info = record.exc_text = None
        return True


def install() -> None:
    """Once per process, before the worker's loops run (idempotent)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, CollectedConnections) for f in logger.filters):
        logger.addFilter(CollectedConnections())
