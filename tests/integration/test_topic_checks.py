"""Topics that exist before a worker starts are checked against the configuration, on the real broker.

A topic with fewer partitions than configured, or a table changelog that is not compacted, makes the
worker refuse to start with one line naming the topic, what it has and what it needs; nothing is
created then. (Replication factors need several brokers: tests/chaos/test_cluster.py.)
"""
import asyncio
import os
import subprocess
import sys
import time
import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.process import free_port
from convoflow.contract.config import Settings
from convoflow.contract.topics import changelog_topic, deployment_topics, ensure_topics
from tests.integration.harness import BROKER, workers_running


def settings(**kw) -> Settings:
    return Settings(broker=BROKER, topic_prefix=f"t{uuid.uuid4().hex[:10]}-", **kw)


async def _admin(settings: Settings, create: list[NewTopic] = (), delete: bool = False) -> list[str]:
    """Create topics; return the deployment's topics on the broker (and delete them when asked)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        if create:
            await admin.create_topics(list(create))
        mine = sorted(t for t in await admin.list_topics() if t.startswith(settings.topic_prefix))
        if delete and mine:
            await admin.delete_topics(mine)
        return mine
    finally:
        await admin.close()


def start_worker(s: Settings, tmp_path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`convoflow worker` for a deployment whose start is refused: it must exit by itself."""
    cmd = [sys.executable, "-m", "convoflow.cli", "worker", "--broker", BROKER, "--topic-prefix", s.topic_prefix,
           "--partitions", str(s.partitions), "--data-dir", str(tmp_path / "data"), "--export-dir", str(tmp_path / "exports"),
           "--web-port", str(free_port())]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                          env={**os.environ, **(env or {})})


def assert_refused(run: subprocess.CompletedProcess, line: str) -> None:
    assert run.returncode == 2, f"exit {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.stderr.strip() == f"convoflow: error: {line}", run.stderr


def test_a_topic_with_fewer_partitions_than_configured_stops_the_worker_before_anything_is_created(broker, tmp_path):
    s = settings(partitions=4)
    try:
        asyncio.run(_admin(s, [NewTopic(s.topic("messages"), 2, 1)]))
        run = start_worker(s, tmp_path)
        assert_refused(run, f"topic {s.topic('messages')} has 2 partition(s), needs 4 (--partitions / CONVOFLOW_PARTITIONS)")
        assert asyncio.run(_admin(s)) == [s.topic("messages")], "a refused start created topics"
    finally:
        asyncio.run(_admin(s, delete=True))


def test_a_changelog_that_is_not_compacted_stops_the_worker(broker, tmp_path):
    s = settings(partitions=4)
    name = changelog_topic(s, "conversations")
    try:
        asyncio.run(_admin(s, [NewTopic(name, 4, 1, topic_configs={"cleanup.policy": "delete"})]))
        run = start_worker(s, tmp_path)
        assert_refused(run, f"topic {name} has cleanup.policy=delete, needs compact (a table's changelog)")
        assert asyncio.run(_admin(s)) == [name], "a refused start created topics"
    finally:
        asyncio.run(_admin(s, delete=True))


def test_every_problem_is_counted_in_the_one_line(broker, tmp_path):
    s = settings(partitions=4)
    try:
        asyncio.run(_admin(s, [NewTopic(s.topic("messages"), 3, 1),
                               NewTopic(changelog_topic(s, "presence"), 2, 1, topic_configs={"cleanup.policy": "delete"})]))
        run = start_worker(s, tmp_path)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert "(and 2 more problem(s) with existing topics)" in run.stderr, run.stderr
    finally:
        asyncio.run(_admin(s, delete=True))


def test_topics_created_as_configured_pass_the_check_and_a_larger_partition_count_is_accepted(broker):
    s = settings(partitions=4)
    try:
        first = asyncio.run(ensure_topics(s))
        assert first.replication == 1  # one broker
        assert asyncio.run(_admin(s)) == sorted(t.name for t in deployment_topics(s))
        fewer = Settings(broker=BROKER, topic_prefix=s.topic_prefix, partitions=2)
        assert asyncio.run(ensure_topics(fewer)).replication == 1
    finally:
        asyncio.run(_admin(s, delete=True))


def test_on_one_broker_the_worker_replicates_once_and_says_so(broker, tmp_path):
    said = "replication factor 1 for new topics, not 3: the cluster has 1 broker(s) up"
    with workers_running(tmp_path, 1) as d:
        deadline = time.monotonic() + 60  # logged once the worker has started its tasks
        while said not in d.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert said in d.logs(), d.logs()[-3000:]
    assert {len(p["replicas"]) for p in asyncio.run(_describe(d.settings))} == {1}


async def _describe(settings: Settings) -> list[dict]:
    """Every partition of the deployment's topics, as the broker describes it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics([t.name for t in deployment_topics(settings)])
        return [p for t in topics for p in t["partitions"]]
    finally:
        await admin.close()


def test_a_replication_factor_that_is_not_a_number_exits_2_with_one_line(broker, tmp_path):
    s = settings(partitions=4)
    run = start_worker(s, tmp_path, env={"CONVOFLOW_REPLICATION_FACTOR": "three"})
    assert_refused(run, "CONVOFLOW_REPLICATION_FACTOR='three' is not valid: expected empty, or a whole number, at least 1")
    assert asyncio.run(_admin(s)) == [], "a refused start created topics"
