"""A connection aiokafka closes when it is collected is a WARNING in the worker's log, not an ERROR."""
import asyncio
import gc
import logging

import pytest
from aiokafka.conn import create_conn

from convoflow.streams import client_logs
from tests.integration.harness import BROKER, broker_reachable


@pytest.fixture
def filtered():
    logger = logging.getLogger("asyncio")
    before = list(logger.filters)
    client_logs.install()
    client_logs.install()
    yield [f for f in logger.filters if isinstance(f, client_logs.CollectedConnections)]
    logger.filters[:] = before


def test_a_collected_connection_of_the_real_client_is_a_warning_naming_its_node(filtered, caplog):
    if not broker_reachable():
        pytest.fail("no Kafka broker: run `make kafka-up` (or `make test`, which starts one)")
    host, port = BROKER.split("://", 1)[-1].split(",")[0].rsplit(":", 1)

    async def leave_one_open():
        conn = await create_conn(host, int(port))
        assert conn.connected()
        del conn
        gc.collect()
        await asyncio.sleep(0)

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        asyncio.run(leave_one_open())
    reports = [r for r in caplog.records if r.name == "asyncio" and client_logs.UNCLOSED in r.getMessage()]
    assert len(filtered) == 1, "installed once"
    assert [r.levelname for r in reports] == ["WARNING"], [(r.levelname, r.getMessage()) for r in reports]
    assert f"port={port}" in reports[0].getMessage() or f":{port}" in reports[0].getMessage(), reports[0].getMessage()


def test_other_asyncio_errors_stay_errors(filtered, caplog):
    async def fail_unobserved():
        loop = asyncio.get_running_loop()
        loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": ValueError("x")})

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        asyncio.run(fail_unobserved())
    assert [r.levelname for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.WARNING] == ["ERROR"]
