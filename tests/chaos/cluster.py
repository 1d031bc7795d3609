"""A real Kafka cluster of three KRaft nodes for the tests (scripts/kafka-cluster.sh), and deployments on it.

The cluster gets its own ports, from KAFKA_CLUSTER_PORT (default: the port of CONVOFLOW_BROKER + 10, so
node N listens on that + 2(N-1) and its controller on the next one) and its own data under a temp dir;
it shares the jars of scripts/kafka.sh (KAFKA_HOME, default .kafka).
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from convoflow.contract.topics import deployment_topics
from tests.chaos.conftest import BENIGN_BROKER_AWAY, REPO, ChaosDeployment, ChaosWorker, broker_port

CLUSTER_SH = REPO / "scripts" / "kafka-cluster.sh"
NODES = 3

# What a client logs while a node of the cluster is away, besides what BENIGN_BROKER_AWAY lists: a request
# that reached a node which no longer leads the partition (aiokafka asks again after a metadata refresh).
BENIGN_NODE_AWAY = BENIGN_BROKER_AWAY + ("NotLeaderForPartitionError",)


def cluster_port() -> int:
    return int(os.environ.get("KAFKA_CLUSTER_PORT") or broker_port() + 10)


def port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class KafkaCluster:
    def __init__(self, home: Path, port: int, nodes: int = NODES):
        self.home, self.port, self.nodes = home, port, nodes
        self.down_nodes: set[int] = set()

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * i}" for i in range(self.nodes))

    @property
    def broker(self) -> str:
        return f"kafka://{self.bootstrap}"

    def sh(self, *args: str, timeout: float = 300) -> float:
        """scripts/kafka-cluster.sh ARGS for this cluster; the seconds it took."""
        env = {**os.environ, "KAFKA_CLUSTER_HOME": str(self.home), "KAFKA_CLUSTER_PORT": str(self.port),
               "KAFKA_CLUSTER_NODES": str(self.nodes)}
        for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT"):
            env.pop(name, None)
        t0 = time.monotonic()
        r = subprocess.run(["bash", str(CLUSTER_SH), *args], env=env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"scripts/kafka-cluster.sh {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return time.monotonic() - t0

    def up(self) -> float:
        taken = [p for p in range(self.port, self.port + 2 * self.nodes) if port_taken(p)]
        assert not taken, f"ports {taken} are in use: set KAFKA_CLUSTER_PORT to {2 * self.nodes} free ports for the test cluster"
        return self.sh("up")

    def down(self) -> float:
        return self.sh("down")

    def stop_node(self, node: int) -> float:
        self.down_nodes.add(node)
        return self.sh("stop-node", str(node))

    def kill_node(self, node: int) -> float:
        self.down_nodes.add(node)
        return self.sh("kill-node", str(node))

    def start_node(self, node: int) -> float:
        seconds = self.sh("start-node", str(node))
        self.down_nodes.discard(node)
        return seconds

    def start_stopped_nodes(self) -> None:
        for node in sorted(self.down_nodes):
            self.start_node(node)

    def admin(self) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)

    def coordinator(self, group: str) -> int:
        """The node that coordinates a consumer group (the group's offsets are written there)."""
        return asyncio.run(_with_admin(self, lambda a: a.find_coordinator(group)))

    def partitions(self, topics: list[str], timeout: float = 30) -> list[dict]:
        """Every partition of the topics as the cluster describes it: leader, replicas, isr. A topic just
        created may not be known yet to the node asked: asked again."""
        deadline = time.monotonic() + timeout
        while True:
            described = asyncio.run(_with_admin(self, lambda a: a.describe_topics(topics)))
            unknown = [t["topic"] for t in described if t["error_code"] or not t["partitions"]]
            if not unknown:
                return [p for t in described for p in t["partitions"]]
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster does not describe {unknown[:3]} within {timeout} s")
            time.sleep(0.2)

    def wait_fully_replicated(self, topics: list[str], timeout: float = 180) -> float:
        """Until every partition of the topics has all its replicas in sync (a node back has caught up)."""
        t0 = time.monotonic()
        while True:
            lagging = [p for p in self.partitions(topics) if set(p["isr"]) != set(p["replicas"])]
            if not lagging:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"{len(lagging)} partitions not fully replicated within {timeout} s: {lagging[:3]}")
            time.sleep(0.5)


async def _with_admin(cluster: KafkaCluster, call):
    admin = cluster.admin()
    await admin.start()
    try:
        return await call(admin)
    finally:
        await admin.close()


class ClusterWorker(ChaosWorker):
    def command(self) -> list[str]:
        cmd = super().command()
        cmd[cmd.index("--broker") + 1] = self.deployment.settings.broker
        return cmd


class ClusterDeployment(ChaosDeployment):
    """A chaos deployment whose workers and clients use the cluster."""

    def __init__(self, root: Path, cluster: KafkaCluster, **kw):
        super().__init__(root, **kw)
        self.cluster = cluster
        self.settings = dataclasses.replace(self.settings, broker=cluster.broker)

    def start_worker(self, env: dict | None = None, wait: bool = True) -> ClusterWorker:
        w = ClusterWorker(self, len(self.workers), env)
        self.workers.append(w)
        w.start(wait=wait)
        return w

    def wait_until_balanced(self, timeout: float = 90) -> None:
        """Until every worker owns partitions and together they own all of them."""
        deadline = time.monotonic() + timeout
        every = set(range(self.partitions))
        while not (all(w.assigned() for w in self.workers) and set().union(*(w.assigned() for w in self.workers)) == every):
            assert time.monotonic() < deadline, f"the workers did not share the partitions within {timeout} s"
            time.sleep(0.3)

    def topics(self) -> list[str]:
        return [t.name for t in deployment_topics(self.settings)] + ["__consumer_offsets"]
