"""Chaos tests: exact reports through crashes, restarts, rebalances, lost disks and hostile input.

Real worker subprocesses on the real broker, each test under its own topic
prefix (the integration harness, extended here by subclassing). Every test has
two sizes:

- ``reduced``: real but small; runs with the rest of the suite (``make test``);
- ``full``: marked ``slow``; runs with ``make chaos`` (``pytest -m slow tests/chaos``).
  Without ``-m`` naming ``slow`` the full versions are skipped.

Figures of each run (events, kills, restarts, dead letters, seconds to recover
after each restart, ...) are printed (``pytest -s``), attached to the test with
``record_property`` (junit XML) and listed in the terminal summary.

A test's topics are deleted when it ends; ``CHAOS_KEEP_TOPICS=1`` keeps them, to
read a failed run's input, changelogs and dead letters from the broker afterwards.

Workers started here get ``BROKER_SESSION_TIMEOUT=6`` and
``BROKER_HEARTBEAT_INTERVAL=1`` (Faust reads these from the environment): with
Faust's default 60 s session timeout, the group waits a whole minute for a
SIGKILLed member before it rebalances, and every restart would cost a minute.
The broker's minimum is 6 s. This changes how fast a dead member is noticed,
nothing about processing.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from convoflow.tools.publish import route
from convoflow.contract.topics import ensure_topics, partitions_of
from convoflow.exporters.reports import REPORTS
from tests.integration.harness import BENIGN, BROKER, Deployment, Worker, broker_reachable, cell_diff
from tests.reference import model

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "scripts" / "kafka.sh"
ALL_REPORTS = sorted(REPORTS)
MIB = 1024 * 1024

CHAOS_WORKER_ENV = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}

# Lines aiokafka logs at ERROR while the group coordinator is being elected on a
# fresh broker, or while a member joins/leaves; the client retries by itself.
BENIGN_GROUP = BENIGN + ("GroupCoordinatorNotAvailableError", "Group Coordinator Request failed",
                         # a group request cut off while both workers of a deployment stop at once
                         "-- marking coordinator dead")
# What a client logs while the broker is away (scripts/kafka.sh down/up); it reconnects by itself.
BENIGN_BROKER_AWAY = BENIGN_GROUP + (
    "Unable connect to node", "Unable to update metadata", "NodeNotReadyError", "Marking the coordinator dead",
    "Failed fetch messages", "KafkaConnectionError", "Unable to request metadata", "RequestTimedOutError",
    "Got error produce response", "NotCoordinatorForGroupError", "Coordinator load in progress",
    "Heartbeat session expired",
)


# ---------------------------------------------------------------- pytest plumbing

# The test's own clients log every failed connection while the broker is away; the figures say what matters.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

def pytest_collection_modifyitems(config, items):
    markexpr = config.getoption("markexpr", "") or ""
    run_slow = "slow" in markexpr and "not slow" not in markexpr
    skip_full = pytest.mark.skip(reason="full chaos version: run `make chaos` (pytest -m slow tests/chaos)")
    for item in items:
        if "tests/chaos" not in str(item.fspath):
            continue
        item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("slow") and not run_slow:
            item.add_marker(skip_full)


def pytest_terminal_summary(terminalreporter):
    lines = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) == "call" and "tests/chaos" in getattr(rep, "nodeid", "") and rep.user_properties:
                figures = {k: v for k, v in rep.user_properties}
                outcome = "xfailed" if hasattr(rep, "wasxfail") and rep.skipped else (
                    "XPASS" if hasattr(rep, "wasxfail") else rep.outcome)
                lines.append(f"{rep.nodeid} [{outcome}, {rep.duration:.1f} s]: {json.dumps(figures, default=str)}")
    if lines:
        terminalreporter.write_sep("-", "chaos figures")
        for line in sorted(lines):
            terminalreporter.write_line(line)


SIZES = [pytest.param("reduced", id="reduced"),
         pytest.param("full", id="full", marks=[pytest.mark.slow, pytest.mark.timeout(3600)])]


@pytest.fixture(scope="session")
def broker():
    if not broker_reachable():
        pytest.fail(f"no Kafka broker at {BROKER}: run `make kafka-up` (or `make test` / `make chaos`)")


class Figures:
    """Figures of one run: printed, attached with record_property, summarised at the end."""

    def __init__(self, node):
        self.node = node
        self.values: dict = {}

    def __setitem__(self, key, value):
        self.values[key] = value
        self.node.user_properties[:] = [(k, v) for k, v in self.node.user_properties if k != key] + [(key, value)]

    def __getitem__(self, key):
        return self.values[key]

    def get(self, key, default=None):
        return self.values.get(key, default)

    def add(self, key, value):
        self[key] = self.values.get(key, []) + [value]

    def show(self, title=""):
        print(f"\nCHAOS FIGURES {self.node.nodeid} {title}: {json.dumps(self.values, default=str)}", flush=True)


@pytest.fixture
def figures(request):
    f = Figures(request.node)
    f["started"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.monotonic()
    yield f
    f["seconds"] = round(time.monotonic() - t0, 1)
    f.show()


@pytest.fixture
def chaos_deployment(broker, tmp_path):
    """A factory of deployments; every one is stopped at the end and its logs checked."""
    made: list[ChaosDeployment] = []

    def make(partitions: int = 4, worker_env: dict | None = None, benign=BENIGN_GROUP) -> ChaosDeployment:
        d = ChaosDeployment(tmp_path / f"deployment-{len(made)}", partitions=partitions, worker_env=worker_env)
        d.benign = benign
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()
    if not os.environ.get("CHAOS_KEEP_TOPICS"):  # set it to read a failed run's topics afterwards
        for d in made:
            d.delete_topics()
    for d in made:
        problems = d.problems()
        assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


# ---------------------------------------------------------------- workers and deployments

def problems_in(text: str, benign=BENIGN_GROUP) -> list[str]:
    """Like harness.problems_in_log, with a scenario's own list of expected client errors.
    A Traceback or CRITICAL is never expected."""
    out = []
    for line in text.splitlines():
        if "Traceback" in line or "[CRITICAL]" in line:
            out.append(line)
        elif "[ERROR]" in line and not any(b in line for b in benign):
            out.append(line)
    return out


class ChaosWorker(Worker):
    """A harness worker that can be started with its own environment, SIGKILLed, wiped and restarted."""

    def __init__(self, deployment: "ChaosDeployment", index: int, env: dict | None = None):
        super().__init__(deployment, index)
        self.env = dict(env or {})
        self.started_at = 0.0
        self.starts = 0
        self.kills = 0

    def command(self) -> list[str]:
        d = self.deployment
        return [sys.executable, "-m", "convoflow.cli", "worker", "--broker", BROKER, "--topic-prefix", d.prefix,
                "--partitions", str(d.partitions), "--data-dir", str(self.data_dir), "--export-dir", str(d.export_dir),
                "--web-port", str(self.port)]

    def start(self, wait: bool = True, timeout: float = 60) -> float:
        """Start the process; return the seconds until /health answered (0 when not waiting)."""
        d = self.deployment
        env = {**os.environ, **CHAOS_WORKER_ENV, **d.worker_env, **self.env}
        self.log = open(self.log_path, "ab")
        self.log.write(f"\n===== chaos: start #{self.starts + 1} of worker {self.index} =====\n".encode())
        self.log.flush()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, cwd=str(d.root), env=env)
        self.starts += 1
        if not wait:
            return 0.0
        return self.wait_healthy(timeout)

    def headers(self) -> dict:
        token = {**self.deployment.worker_env, **self.env}.get("CONVOFLOW_API_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def wait_healthy(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            status, _ = self.request("GET", "/health", headers=self.headers(), timeout=1)
            if status == 200:
                return time.monotonic() - self.started_at
            time.sleep(0.1)
        raise RuntimeError(f"worker did not answer on /health:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def request(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                timeout: float = 10) -> tuple[int, bytes]:
        """One HTTP request with the path sent exactly as given (no client-side normalisation)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or b"")
            resp = conn.getresponse()
            return resp.status, resp.read()
        except OSError:
            return 0, b""
        finally:
            conn.close()

    def health(self) -> dict | None:
        status, body = self.request("GET", "/health", headers=self.headers(), timeout=2)
        if status != 200:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return None

    def assigned(self) -> list[int]:
        h = self.health()
        return h.get("assigned", []) if h else []

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, no offsets are committed, nothing is flushed."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.kills += 1
        self.log.close()

    def wipe(self) -> None:
        """Lose the local disk: the RocksDB stores and everything else in the data dir."""
        assert not self.alive()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop(self, kill: bool = False) -> None:
        super().stop(kill)
        if not self.log.closed:
            self.log.close()


class ChaosDeployment(Deployment):
    def __init__(self, root: Path, partitions: int = 4, worker_env: dict | None = None):
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root, partitions)
        self.worker_env = dict(worker_env or {})
        self.env = self.worker_env  # the harness reads the API token from here
        self.benign = BENIGN_GROUP
        self.workers: list[ChaosWorker] = []

    def start_worker(self, env: dict | None = None, wait: bool = True) -> ChaosWorker:
        w = ChaosWorker(self, len(self.workers), env)
        self.workers.append(w)
        w.start(wait=wait)
        return w

    def stop(self) -> None:
        for w in self.workers:
            if w.proc is not None:
                w.terminate()
        for w in self.workers:
            if w.proc is not None:
                w.stop()

    def problems(self) -> list[str]:
        return problems_in(self.logs(), self.benign)

    def delete_topics(self) -> int:
        """Delete this deployment's topics (after its workers stopped): a broker with thousands of leftover
        partitions takes minutes to restart, which the broker-restart test does."""
        try:
            return self.run(_delete_topics(self.settings, self.prefix))
        except Exception:
            return 0

    # ------------------------------------------------ broker-side views

    def run(self, coro):
        return asyncio.run(coro)

    def input_end_offsets(self) -> dict[tuple[str, int], int]:
        return self.run(_end_offsets(self.settings, self.settings.input_topics()))

    def committed(self) -> dict[tuple[str, int], int]:
        return self.run(_committed(self.settings))

    def lag(self, target: dict[tuple[str, int], int] | None = None) -> int:
        """Records of the input topics not yet committed by the group (up to `target`, default the end now)."""
        target = target if target is not None else self.input_end_offsets()
        done = self.committed()
        return sum(max(0, end - done.get(tp, 0)) for tp, end in target.items())

    def wait_caught_up(self, target=None, timeout: float = 300) -> float:
        t0 = time.monotonic()
        target = target if target is not None else self.input_end_offsets()
        while self.lag(target) > 0:
            if time.monotonic() - t0 > timeout:
                committed = self.committed()
                behind = {tp: (committed.get(tp, 0), end) for tp, end in target.items() if committed.get(tp, 0) < end}
                raise AssertionError(f"the group did not commit within {timeout} s (lag {self.lag(target)}): "
                                     f"(committed, end) {behind}")
            time.sleep(0.3)
        return time.monotonic() - t0

    def read_topic(self, name: str) -> list:
        """Every record of a topic of this deployment, from the beginning to the end offsets now."""
        return self.run(_read_all(self.settings, self.settings.topic(name)))

    def produce_raw(self, records: list[tuple[str, bytes | None, bytes | None, list | None]]) -> list:
        """(logical topic, key, value, headers) straight to `<prefix><topic>`, in order; returns RecordMetadata."""
        return self.run(_produce_raw(self.settings, records))

    # ------------------------------------------------ exports

    def request_raw(self, value: bytes | None, key: bytes | None, rid: str | None, timeout: float = 120) -> list[dict]:
        """Publish one record on export-requests; every result on export-results keyed `rid` up to the final one."""
        return self.run(_request(self.settings, value, key, rid, timeout))

    def results(self, rid: str) -> list[dict]:
        """Every result published so far for a request id (empty while the broker is away)."""
        try:
            return [orjson.loads(r.value) for r in self.read_topic("export-results") if r.key == rid.encode()]
        except Exception:
            return []

    def wait_result(self, rid: str, timeout: float) -> list[dict]:
        """Results for `rid` until the final one (completed/failed), or until the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            results = self.results(rid)
            if results and results[-1].get("status") in ("completed", "failed"):
                return results
            if time.monotonic() > deadline:
                return results + [{"request_id": rid, "status": "no result", "error": f"nothing final within {timeout:.0f} s"}]
            time.sleep(0.5)

    def wait_results(self, rids: list[str], timeout: float) -> dict[str, list[dict]]:
        """Results per request id, until every one has a final result (or the timeout)."""
        deadline = time.monotonic() + timeout
        wanted = {rid.encode() for rid in rids}
        while True:
            out: dict[str, list[dict]] = {rid: [] for rid in rids}
            try:
                for r in self.read_topic("export-results"):
                    if r.key in wanted:
                        out[r.key.decode()].append(orjson.loads(r.value))
            except Exception:
                pass
            done = all(v and v[-1].get("status") in ("completed", "failed") for v in out.values())
            if done or time.monotonic() > deadline:
                for rid, v in out.items():
                    if not v or v[-1].get("status") not in ("completed", "failed"):
                        v.append({"request_id": rid, "status": "no result", "error": f"nothing final within {timeout:.0f} s"})
                return out
            time.sleep(0.3)

    def export_all(self, events: list[dict], tz: str, first: str, last: str, as_of: str, channels=None,
                   figures: "Figures | dict | None" = None, tag: str = "", timeout: float = 600,
                   bodies: dict | None = None) -> list[str]:
        """Every report (requested all at once) compared with the reference model; a list of mismatches (cell diffs)."""
        t = time.monotonic()
        rids = {export_type: f"all-{export_type}-{uuid.uuid4().hex[:8]}" for export_type in ALL_REPORTS}
        requests = []
        for export_type, rid in rids.items():
            request = {"request_id": rid, "export_type": export_type, "time_zone": tz, "date_from": first, "date_to": last,
                       "as_of": as_of}
            if channels:
                request["channels"] = channels
            requests.append(("export-requests", rid.encode(), orjson.dumps(request), None))
        self.produce_raw(requests)
        answers = self.wait_results(list(rids.values()), timeout)
        t_export = time.monotonic() - t
        mismatches, rows, t_model = [], {}, 0.0
        for export_type, rid in rids.items():
            result = answers[rid][-1]
            if result["status"] != "completed":
                mismatches.append(f"{export_type}: export {result['status']}: {result.get('error')}")
                continue
            body = Path(result["file"]).read_bytes()
            if bodies is not None:
                bodies[export_type] = body
            t = time.monotonic()
            expected = model.report(events, export_type, tz, first, last, channels=channels, as_of=as_of)
            t_model += time.monotonic() - t
            rows[export_type] = result["rows"]
            if body != expected:
                mismatches.append(f"{export_type}: differs from the reference model\n{cell_diff(expected, body)}")
        if figures is not None:
            figures[f"rows{tag}"] = rows
            figures[f"export_seconds{tag}"] = round(t_export, 1)
            figures[f"model_seconds{tag}"] = round(t_model, 1)
        assert sum(rows.values()) > 0 or mismatches, "every report is empty: the test proves nothing"
        return mismatches


# ---------------------------------------------------------------- async helpers (plain aiokafka)

async def _end_offsets(settings, topics: list[str]) -> dict[tuple[str, int], int]:
    c = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await c.start()
    try:
        tps = []
        for t in topics:
            tps += await partitions_of(c, t)
        ends = await c.end_offsets(tps)
        return {(tp.topic, tp.partition): off for tp, off in ends.items()}
    finally:
        await c.stop()


async def _committed(settings) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.app_id)
        return {(tp.topic, tp.partition): m.offset for tp, m in offsets.items() if m.offset >= 0}
    finally:
        await admin.close()


async def _delete_topics(settings, prefix: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
        return len(mine)
    finally:
        await admin.close()


async def _read_all(settings, topic: str) -> list:
    c = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False, group_id=None,
                         auto_offset_reset="earliest", max_partition_fetch_bytes=16 * MIB, fetch_max_bytes=64 * MIB)
    await c.start()
    try:
        tps = await partitions_of(c, topic)
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        ends = await c.end_offsets(tps)
        out = []
        deadline = time.monotonic() + 120
        async def behind() -> bool:
            for tp in tps:
                if await c.position(tp) < ends[tp]:
                    return True
            return False

        while await behind():
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end offsets {ends}")
            batches = await c.getmany(timeout_ms=500)
            for records in batches.values():
                out.extend(records)
        return out
    finally:
        try:
            await c.stop()
        except asyncio.CancelledError:
            # aiokafka's fetcher.close awaits the fetch tasks it cancels, and one that is retrying
            # a stopped broker raises CancelledError out of stop(). Only a cancellation of this task goes on.
            if asyncio.current_task().cancelling():
                raise


def raw_producer(settings, **kw) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", max_request_size=8 * MIB,
                            linger_ms=5, max_batch_size=1 * MIB, **kw)


async def _produce_raw(settings, records) -> list:
    await ensure_topics(settings)
    p = raw_producer(settings)
    await p.start()
    try:
        futures = []
        for topic, key, value, headers in records:
            futures.append(await p.send(settings.topic(topic), value, key=key, headers=headers))
        return list(await asyncio.gather(*futures))
    finally:
        await p.stop()


async def _request(settings, value, key, rid, timeout) -> list[dict]:
    """A client that survives a broker restart: it retries what fails and keeps polling."""
    await ensure_topics(settings)
    results: list[dict] = []
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    producer = raw_producer(settings)
    try:
        tps = await partitions_of(consumer, settings.topic("export-results"))
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        deadline = time.monotonic() + timeout
        await producer.start()
        while True:
            try:
                await producer.send_and_wait(settings.topic("export-requests"), value, key=key)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
        if rid is None:
            return results
        while time.monotonic() < deadline:
            try:
                batches = await consumer.getmany(timeout_ms=200)
            except Exception:
                await asyncio.sleep(0.5)
                continue
            for records in batches.values():
                for r in records:
                    if r.key == rid.encode():
                        results.append(orjson.loads(r.value))
                        if results[-1].get("status") in ("completed", "failed"):
                            return results
        results.append({"request_id": rid, "status": "no result", "error": f"no final result within {timeout:.0f} s"})
        return results
    finally:
        await producer.stop()
        await consumer.stop()


# ---------------------------------------------------------------- background publishing

class Publisher(threading.Thread):
    """Publishes events in chunks from a background thread, like a platform team would.

    Every record is acknowledged by the broker (acks=all). A chunk that fails
    (the broker went away) is sent again whole, so some records may arrive
    twice, which the contract allows (duplicates change nothing).
    """

    def __init__(self, settings, events: list[dict], chunk: int, pause: float):
        super().__init__(name="chaos-publisher", daemon=True)
        self.settings = settings
        self.records = []
        for e in events:
            topic, key = route(e)
            self.records.append((settings.topic(topic), key.encode(), orjson.dumps(e)))
        self.chunk, self.pause = chunk, pause
        self.acked = 0
        self.retries = 0
        self.errors: list[str] = []
        self.failure: BaseException | None = None
        self.finished = threading.Event()
        self.seconds = 0.0
        self.may_run = threading.Event()
        self.may_run.set()
        self.idle = threading.Event()

    @property
    def fraction(self) -> float:
        return self.acked / max(1, len(self.records))

    def run(self) -> None:
        t0 = time.monotonic()
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by join_checked
            self.failure = exc
        finally:
            self.seconds = time.monotonic() - t0
            self.finished.set()

    async def _main(self) -> None:
        await ensure_topics(self.settings)
        producer = None
        for i in range(0, len(self.records), self.chunk):
            part = self.records[i:i + self.chunk]
            while True:
                try:
                    if producer is None:
                        producer = raw_producer(self.settings, request_timeout_ms=15000)
                        await producer.start()
                    futures = [await producer.send(t, v, key=k) for t, k, v in part]
                    await asyncio.gather(*futures)
                    break
                except Exception as exc:
                    self.retries += 1
                    self.errors.append(repr(exc)[:200])
                    if self.retries > 300:
                        raise
                    try:
                        if producer is not None:
                            await producer.stop()
                    except Exception:
                        pass
                    producer = None
                    await asyncio.sleep(1)
            self.acked = i + len(part)
            await asyncio.sleep(self.pause)
            while not self.may_run.is_set():
                self.idle.set()
                await asyncio.sleep(0.02)
            self.idle.clear()
        if producer is not None:
            await producer.stop()

    def hold(self, timeout: float = 120) -> int:
        """Stop after the chunk being sent; return how many records are acknowledged by then."""
        self.may_run.clear()
        deadline = time.monotonic() + timeout
        while not (self.idle.is_set() or self.finished.is_set()):
            assert time.monotonic() < deadline, "the publisher did not pause"
            time.sleep(0.01)
        return self.acked

    def release(self) -> None:
        self.may_run.set()

    def join_checked(self, timeout: float = 600) -> None:
        assert self.finished.wait(timeout), f"publisher still running after {timeout} s ({self.acked} acked)"
        if self.failure is not None:
            raise AssertionError(f"publishing failed: {self.failure!r}") from self.failure


# ---------------------------------------------------------------- recovery probes

class RecoveryProbe(threading.Thread):
    """After a (re)start: seconds until the group has committed every input record published before it."""

    def __init__(self, deployment: ChaosDeployment, target: dict, started_at: float, label: str):
        super().__init__(name=f"probe-{label}", daemon=True)
        self.d, self.target, self.started_at, self.label = deployment, target, started_at, label
        self.seconds: float | None = None
        self.cancelled = threading.Event()

    def run(self) -> None:
        while not self.cancelled.is_set():
            try:
                if self.d.lag(self.target) == 0:
                    self.seconds = round(time.monotonic() - self.started_at, 2)
                    return
            except Exception:
                pass
            self.cancelled.wait(0.3)

    def stop(self) -> float | None:
        self.cancelled.set()
        self.join(10)
        return self.seconds

    def wait(self, timeout: float) -> float | None:
        self.join(timeout)
        return self.stop()


# ---------------------------------------------------------------- the broker

def broker_port() -> int:
    return int(BROKER.split("://", 1)[-1].split(",")[0].rsplit(":", 1)[1])


def kafka_home() -> str:
    home = os.environ.get("KAFKA_HOME", ".kafka")
    return str(home if os.path.isabs(home) else REPO / home)


def kafka_sh(command: str, timeout: float = 180) -> float:
    """scripts/kafka.sh down|up|status on the broker the tests use; returns the seconds it took.

    `up` is tried again when it fails: a broker with many partitions can take longer than kafka.sh waits,
    and the port can be taken: while the broker is away, clients keep connecting to 127.0.0.1:<port>, and
    when that port lies in the kernel's ephemeral range (39092 does) a connect attempt can get the very port
    as its own source port (a TCP self-connect) and hold it (then TIME_WAIT) for up to a minute.
    """
    env = {**os.environ, "KAFKA_HOME": kafka_home(), "KAFKA_PORT": str(broker_port())}
    env.pop("KAFKA_CONTROLLER_PORT", None)
    t0 = time.monotonic()
    for attempt in range(8):
        r = subprocess.run(["bash", str(KAFKA_SH), command], env=env, capture_output=True, text=True, timeout=timeout)
        # `up` again is safe: it waits for a broker that is still starting (a big one may need more than
        # KAFKA_START_TIMEOUT), and starts one that died on a taken port.
        if command == "up" and r.returncode != 0 and attempt < 7:
            time.sleep(2)
            continue
        break
    if command != "status" and r.returncode != 0:
        raise AssertionError(f"scripts/kafka.sh {command} failed ({r.returncode}):\n{r.stdout}\n{r.stderr[-3000:]}")
    if command == "status" and r.returncode != 0:
        raise AssertionError(
            f"the broker at {BROKER} is not the one of KAFKA_HOME={kafka_home()} (scripts/kafka.sh status: "
            f"{r.stdout.strip()}): set KAFKA_HOME so that this test can restart it")
    return time.monotonic() - t0


# ---------------------------------------------------------------- simulated data

def simulated(conversations: int, seed: int, days: int = 4, start: str = "2024-10-25T00:00:00Z",
              agents: int = 24, teams: int = 4):
    from convoflow.tools import simulate

    events = simulate.generate(seed=seed, agents=agents, teams=teams, conversations=conversations, days=days, start=start)
    noisy = simulate.disorder(events, seed=seed + 1, duplicate_rate=0.03, window=300)
    return events, noisy


def rng_for(request) -> random.Random:
    seed = int(os.environ.get("CHAOS_SEED", "0")) or random.SystemRandom().randrange(1, 10**9)
    print(f"\nchaos seed for {request.node.nodeid}: CHAOS_SEED={seed}", flush=True)
    if hasattr(request.node, "user_properties"):
        request.node.user_properties.append(("seed", seed))
    r = random.Random(seed)
    r.seed_value = seed
    return r


@pytest.fixture
def rng(request):
    return rng_for(request)


def unique(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]
