"""Real workers (subprocesses) on the real broker, each deployment under its own topic prefix."""
from __future__ import annotations

import asyncio
import os
import socket
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import orjson

from bench.process import WorkerProcess
from convoflow.contract.config import Settings
from convoflow.tools.publish import publish_events, request_export

BROKER = os.environ.get("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092")


def broker_reachable() -> bool:
    host, port = BROKER.split("://", 1)[-1].split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


class Deployment:
    """One convoflow deployment: a topic prefix, its workers, an export folder."""

    def __init__(self, root: Path, partitions: int = 4, env: dict | None = None, broker: str = BROKER):
        self.root = root
        self.env = env or {}  # the workers' environment; the tests' clients use its settings too
        self.broker = broker
        self.prefix = f"t{uuid.uuid4().hex[:10]}-"
        self.partitions = partitions
        self.export_dir = root / "exports"
        self.settings = Settings.from_environ({**os.environ, **self.env}, broker=broker, topic_prefix=self.prefix,
                                              partitions=partitions, export_dir=str(self.export_dir))
        self.workers: list[Worker] = []

    def start_worker(self) -> "Worker":
        w = Worker(self, len(self.workers))
        self.workers.append(w)
        w.start()
        return w

    def wait_until_balanced(self, timeout: float = 90) -> None:
        """Until every worker owns partitions and together they own all of them (the group has settled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owned = []
            for w in self.workers:
                status, body = w.get("/health")
                owned.append(set(orjson.loads(body).get("assigned", [])) if status == 200 else set())
            if all(owned) and set().union(*owned) >= set(range(self.partitions)):
                return
            time.sleep(0.5)
        raise AssertionError(f"the workers did not settle their partitions within {timeout:.0f} s: {owned}")

    def publish(self, events: list[dict]):
        return asyncio.run(publish_events(self.settings, events))

    def export(self, export_type: str, time_zone: str, date_from: str, date_to: str, channels=None, as_of=None,
               request_id: str | None = None, timeout: float = 180) -> tuple[dict, bytes | None]:
        request = {"request_id": request_id or uuid.uuid4().hex, "export_type": export_type, "time_zone": time_zone,
                   "date_from": date_from, "date_to": date_to}
        if channels:
            request["channels"] = channels
        if as_of:
            request["as_of"] = as_of
        result = asyncio.run(request_export(self.settings, request, timeout))
        body = Path(result["file"]).read_bytes() if result["status"] == "completed" else None
        return result, body

    def stop(self) -> None:
        for w in self.workers:  # all at once: no pointless rebalance between them
            w.terminate()
        for w in self.workers:
            w.stop()

    def logs(self) -> str:
        return "\n".join(w.log_path.read_text(errors="replace") for w in self.workers if w.log_path.exists())


class Worker(WorkerProcess):
    """Worker ``index`` of a deployment: its data dir and log under the deployment's root."""

    def __init__(self, deployment: Deployment, index: int):
        d = deployment
        super().__init__(broker=d.broker, topic_prefix=d.prefix, partitions=d.partitions,
                         data_dir=d.root / f"worker-{index}", export_dir=d.export_dir,
                         log_path=d.root / f"worker-{index}.log", cwd=d.root, env={**os.environ, **d.env},
                         token=d.env.get("CONVOFLOW_API_TOKEN"))
        self.deployment = deployment
        self.index = index

    def start(self) -> None:
        """Start the process and wait until it answers on /health."""
        super().start()
        self.wait_health(timeout=60, interval=0.2)

    def request(self, path: str, method: str = "GET") -> urllib.request.Request:
        """A request to this worker, with the deployment's API token (for tests that open it themselves)."""
        return self.http_request(path, method)


# aiokafka logs these at ERROR while a group rebalances (a worker joins or leaves); it rejoins by itself.
# Logged at ERROR by aiokafka and retried by it: a commit or heartbeat during a rebalance, and the first
# group lookup on a fresh broker, which creates its offsets topic then.
BENIGN = ("OffsetCommit failed for group", "Heartbeat failed for group",
          "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")


def problems_in_log(text: str) -> list[str]:
    """Lines that show a crash: tracebacks and errors (expected bad input logs no traceback)."""
    return [
        line for line in text.splitlines()
        if ("Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line) and not any(b in line for b in BENIGN)
    ]


@contextmanager
def workers_running(root: Path, workers: int, partitions: int = 4, env: dict | None = None):
    """A deployment with its workers started (and sharing the partitions, when several); at the end
    they stop, and an error in their logs fails the test."""
    d = Deployment(root, partitions=partitions, env=env)
    for _ in range(workers):
        d.start_worker()
    if workers > 1:
        d.wait_until_balanced()
    try:
        yield d
    finally:
        d.stop()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


def cell_diff(expected: bytes, actual: bytes, limit: int = 10) -> str:
    import csv
    import io

    e = list(csv.reader(io.StringIO(expected.decode())))
    a = list(csv.reader(io.StringIO(actual.decode())))
    out = [f"expected {len(e)} lines, got {len(a)}"]
    for i, (er, ar) in enumerate(zip(e, a)):
        if er != ar:
            header = e[0]
            for j, (x, y) in enumerate(zip(er, ar)):
                if x != y:
                    out.append(f"line {i} col {header[j] if j < len(header) else j}: expected {x!r} got {y!r}")
            if len(er) != len(ar):
                out.append(f"line {i}: {len(er)} vs {len(ar)} cells")
            if len(out) > limit:
                break
    return "\n".join(out)


def dumps(obj) -> bytes:
    return orjson.dumps(obj)
