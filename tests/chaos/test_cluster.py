"""A real three-broker Kafka cluster: replicated topics, their checks at start, and a broker lost mid-way.

The cluster (tests/chaos/cluster.py: three KRaft processes from the broker's jars, on their own
ports) is started once for this module. Every topic a deployment creates there has 3 replicas and
min.insync.replicas 2, so one broker may be away while producers (acks=all) still write. The
scenario stops a broker while events arrive and another while exports run; every report must
still equal the reference model's: nothing acknowledged is lost.

- ``reduced`` (with the suite): one worker, a small stream; the broker that coordinates the
  worker's consumer group is stopped mid-ingest and stays away through the exports.
- ``full`` (``make chaos``): two workers, a larger stream; the group coordinator is stopped
  mid-ingest and started again, and once it has caught up another broker is killed (SIGKILL)
  while the twelve exports run.
"""
import asyncio
import os
import random
import subprocess
import sys
import threading
import time
import uuid

import pytest
from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from bench.process import free_port
from convoflow.contract.config import ConfigError, Settings
from convoflow.contract.topics import deployment_topics, ensure_topics
from tests.chaos.cluster import BENIGN_NODE_AWAY, ClusterDeployment, KafkaCluster, cluster_port
from tests.chaos.conftest import SIZES, Publisher, problems_in, simulated

TZ, FIRST, LAST, AS_OF = "America/Sao_Paulo", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"

PLAN = {
    "reduced": dict(conversations=150, workers=1, chunk=500, publish_seconds=6.0, stop_at=0.4, restart_at=None,
                    kill_during_export=False),
    "full": dict(conversations=2500, workers=2, chunk=2000, publish_seconds=40.0, stop_at=0.3, restart_at=0.6,
                 kill_during_export=True),
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), cluster_port())
    c.up()
    try:
        yield c
    finally:
        c.down()


def settings_on(cluster: KafkaCluster, **kw) -> Settings:
    return Settings(broker=cluster.broker, topic_prefix=f"c{uuid.uuid4().hex[:10]}-", **kw)


async def _configs(cluster: KafkaCluster, topics: list[str]) -> dict[str, dict[str, str]]:
    """The topics' configs, once a broker describes them all (a broker whose metadata is behind
    answers a topic created a moment ago without its configs)."""
    admin = cluster.admin()
    await admin.start()
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, configs={"min.insync.replicas": None,
                                                                         "cleanup.policy": None}) for t in topics]
        for _ in range(40):
            out = {}
            for response in await admin.describe_configs(resources):
                for resource in response.to_object()["resources"]:
                    out[resource["resource_name"]] = {e["config_names"]: e["config_value"]
                                                      for e in resource["config_entries"]}
            if all("min.insync.replicas" in out.get(t, {}) for t in topics):
                return out
            await asyncio.sleep(0.25)
        return out
    finally:
        await admin.close()


async def _create_and_delete(cluster: KafkaCluster, create: list[NewTopic] = (), prefix: str = "") -> None:
    admin = cluster.admin()
    await admin.start()
    try:
        if create:
            await admin.create_topics(list(create))
        if prefix:
            mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if mine:
                await admin.delete_topics(mine)
    finally:
        await admin.close()


def test_every_topic_is_created_with_3_replicas_and_min_insync_2(cluster):
    s = settings_on(cluster)
    try:
        ready = asyncio.run(ensure_topics(s))
        assert (ready.replication, ready.notes) == (3, [])
        names = [t.name for t in deployment_topics(s)]
        partitions = cluster.partitions(names)
        assert len(partitions) == s.partitions * (len(names) - 1) + 1  # and the assignor's topic: one
        assert {len(p["replicas"]) for p in partitions} == {3}
        configs = asyncio.run(_configs(cluster, names))
        assert {c["min.insync.replicas"] for c in configs.values()} == {"2"}
        assert {n for n, c in configs.items() if c["cleanup.policy"] == "compact"} == {n for n in names if n.endswith("-changelog")}
    finally:
        asyncio.run(_create_and_delete(cluster, prefix=s.topic_prefix))


def test_a_chosen_replication_factor_is_used_and_one_above_the_brokers_is_refused(cluster):
    two = settings_on(cluster, replication_factor="2")
    four = settings_on(cluster, replication_factor="4")
    try:
        assert asyncio.run(ensure_topics(two)).replication == 2
        names = [t.name for t in deployment_topics(two)]
        assert {len(p["replicas"]) for p in cluster.partitions(names)} == {2}
        assert {c["min.insync.replicas"] for c in asyncio.run(_configs(cluster, names)).values()} == {"1"}
        with pytest.raises(ConfigError, match=f"CONVOFLOW_REPLICATION_FACTOR is 4 but 3 broker.s. of {cluster.bootstrap} "
                                              f"answer: topic {four.topic_prefix}\\S+ cannot be created"):
            asyncio.run(ensure_topics(four))
    finally:
        asyncio.run(_create_and_delete(cluster, prefix=two.topic_prefix))


def test_a_topic_with_fewer_replicas_refuses_the_start_unless_allowed_then_warns(cluster, tmp_path):
    d = ClusterDeployment(tmp_path / "low", cluster, worker_env={})
    name = d.settings.topic("messages")
    try:
        asyncio.run(_create_and_delete(cluster, [NewTopic(name, d.partitions, 1)]))
        assert {len(p["replicas"]) for p in cluster.partitions([name])} == {1}  # known to the cluster's metadata
        run = subprocess.run(
            [sys.executable, "-m", "convoflow.cli", "worker", "--broker", cluster.broker, "--topic-prefix", d.prefix,
             "--partitions", str(d.partitions), "--data-dir", str(tmp_path / "data"), "--export-dir", str(tmp_path / "exports"), "--web-port", str(free_port())],
            capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
        assert run.returncode == 2 and "Traceback" not in run.stderr, f"exit {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        assert run.stderr.strip() == (f"convoflow: error: topic {name} has replication factor 1, needs 3 (CONVOFLOW_REPLICATION_FACTOR); "
                                      f"CONVOFLOW_ALLOW_LOW_REPLICATION=1 starts anyway"), run.stderr

        worker = d.start_worker(env={"CONVOFLOW_ALLOW_LOW_REPLICATION": "1"})
        said = f"topic {name} has replication factor 1, needs 3 (CONVOFLOW_REPLICATION_FACTOR); starting anyway"
        deadline = time.monotonic() + 60
        while said not in d.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f"[WARNING] {said}" in d.logs(), d.logs()[-3000:]
        assert worker.alive()
        others = [t.name for t in deployment_topics(d.settings) if t.name != name]
        assert {len(p["replicas"]) for p in cluster.partitions(others)} == {3}, "the missing topics are created as configured"
    finally:
        d.stop()
        d.delete_topics()
    assert not d.problems(), d.problems()


class Scenario:
    def __init__(self, size: str, cluster: KafkaCluster, root, rng: random.Random):
        self.size, self.plan, self.cluster, self.root, self.rng = size, PLAN[size], cluster, root, rng
        self.figures: dict = {}

    def run(self) -> list[str]:
        plan, cluster = self.plan, self.cluster
        events, noisy = simulated(plan["conversations"], seed=self.rng.randrange(1, 10**6))
        d = self.d = ClusterDeployment(self.root, cluster, worker_env={"CONVOFLOW_EXPORT_TIMEOUT": "120"})
        d.benign = BENIGN_NODE_AWAY
        for _ in range(plan["workers"]):
            d.start_worker()
        if plan["workers"] > 1:
            d.wait_until_balanced()
        self.figures.update(events=len(events), records_published=len(noisy))
        publisher = Publisher(d.settings, noisy, plan["chunk"], pause=plan["publish_seconds"] / -(-len(noisy) // plan["chunk"]))
        t0 = time.monotonic()
        publisher.start()
        # Mid-ingest: the broker that coordinates the group (its offsets, its rebalances) goes away.
        self.wait_for(publisher, plan["stop_at"])
        stopped = cluster.coordinator(d.settings.app_id)
        self.figures["ingest_stop"] = {"node": stopped, "published": round(publisher.fraction, 3),
                                       "stop_s": round(cluster.stop_node(stopped), 1)}
        if plan["restart_at"] is not None:
            self.wait_for(publisher, plan["restart_at"])
            self.figures["ingest_stop"]["start_s"] = round(cluster.start_node(stopped), 1)
            self.figures["ingest_stop"]["in_sync_s"] = round(cluster.wait_fully_replicated(d.topics()), 1)
        publisher.join_checked()
        self.figures["publish_retries"] = publisher.retries
        self.figures["catch_up_s"] = round(d.wait_caught_up(timeout=300), 1)
        # Mid-export: the twelve reports are requested, then (full) another broker is killed while they run.
        killer = None
        if plan["kill_during_export"]:
            victim = self.rng.choice([n for n in range(1, cluster.nodes + 1) if n not in cluster.down_nodes])
            killer = _later(1.0, lambda: self.figures.update(export_kill={"node": victim,
                                                                          "kill_s": round(cluster.kill_node(victim), 1)}))
        problems = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=self.figures)
        if killer is not None:
            killer.join()
            assert "export_kill" in self.figures, "the broker was not killed during the exports"
        self.figures["total_seconds"] = round(time.monotonic() - t0, 1)
        dead = [w.index for w in d.workers if not w.alive()]
        if dead:
            problems.append(f"workers {dead} died")
        return problems

    @staticmethod
    def wait_for(publisher: Publisher, fraction: float) -> None:
        while publisher.fraction < fraction and not publisher.finished.is_set():
            time.sleep(0.05)


def _later(seconds: float, action) -> threading.Timer:
    t = threading.Timer(seconds, action)
    t.start()
    return t


@pytest.mark.parametrize("size", SIZES)
def test_reports_are_exact_when_a_broker_stops_mid_ingest_and_mid_export(size, cluster, tmp_path, figures):
    seed = int(os.environ.get("CHAOS_SEED", "0")) or random.SystemRandom().randrange(1, 10**9)
    figures["seed"] = seed
    scenario = Scenario(size, cluster, tmp_path / "deployment", random.Random(seed))
    try:
        problems = scenario.run()
    finally:
        for k, v in scenario.figures.items():
            figures[k] = v
        if hasattr(scenario, "d"):
            scenario.d.stop()
        cluster.start_stopped_nodes()  # the next test gets the whole cluster
        if hasattr(scenario, "d"):
            scenario.d.delete_topics()
    assert not problems, "\n\n".join(problems)
    logged = problems_in(scenario.d.logs(), BENIGN_NODE_AWAY)
    assert not logged, "worker logged errors:\n" + "\n".join(logged[:20])
