"""convoflow benchmark: one simulated stream, published once, read by every contender.

    python -m bench.run [--conversations N] [--agents N] [--days N] ... [--smoke] [--profile DIR]
    make bench BENCH_ARGS='--conversations 20000'      (starts and stops the local broker)

Phases, in this order, on one topic prefix:
 1. generate (``convoflow.simulate.generate``) and publish the stream;
 2. ``raw_consume_eps``: bare aiokafka consumer + orjson over the input topics;
 3. ``faust_stream_eps``: bare Faust agent iterating the same topics (subprocess), on
    Faust with convoflow's transport (``streams/faust_ext``), as the worker runs it;
    ``faust_stock_eps``: the same agent on Faust as released;
 4. ``peer_quix_eps``: Quix Streams per-key state update with changelog (subprocess);
 5. ``ingest_eps``: a real ``convoflow worker`` on an empty data dir, from the first
    committed offset of its group (``<prefix>convoflow``) to lag 0 on every input
    partition and on ``contact-updates``/``people-updates`` (committed offsets vs
    end offsets, two polls in a row);
 6. exports (``conversations_resolved``, ``messages``, ``agent_metrics``), each timed
    from the request to its ``completed`` result; ``explain_cell_ms``: ``GET /explain``
    of the busiest agent's ``Handle Time (s)`` over the simulated days (median of 5);
 7. ``restore_rps``: stop the worker, delete its data dir, start it, time until an
    ``agent_presence`` export completes (recovery done and caught up), divided by
    the changelog records (end - beginning offsets of every changelog topic);
 8. ``freshness_p99_ms`` at a steady publish rate: probe published -> visible in
    the live lookup (``GET /conversations/{id}``) when the worker has one, else
    -> included in a completed ``agent_presence`` export (said so in the output).
``peak_rss_mb`` is the worker's resident memory, with its export scan processes
added, sampled every 0.2 s over 5-8 (and per phase: ``peak_rss_ingest_mb`` ...).

Prints one ``name: value`` line per figure (PASS/MISS against the issue's
targets) and writes everything to ``bench/results.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson

from bench.peers import raw_consume
from convoflow.config import Settings
from convoflow.publish import publish_events, request_export

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"

# name: (comparison, target)
TARGETS = {
    "ingest_eps": (">=", 15_000),
    "ingest_vs_faust": (">=", 0.8),
    "export_resolved_s": ("<=", 20),
    "export_agent_metrics_s": ("<=", 2),
    "restore_rps": (">=", 50_000),
    "peak_rss_mb": ("<=", 1_500),
    "freshness_p99_ms": ("<=", 500),
    "explain_cell_ms": ("<=", 300),
}
# The sizes the targets are stated for (the issue); reported beside the sizes used.
TARGET_SIZES = {"conversations": 1_000_000, "agents": 1_000, "days": 30}

INTERNAL = ("contact-updates", "people-updates")
CHANGELOG_TABLES = ("conversations", "contacts", "presence", "directory", "owner_conversations", "owner_days", "export_log")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# ---------------------------------------------------------------- machine


def code_version() -> dict:
    """The commit of the tree under test, and its uncommitted files (figures are of that code)."""
    def git(*argv):
        try:
            return subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD").strip() or None
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] and not line[3:].startswith("bench/")]
    return {"root": str(ROOT), "commit": commit, "uncommitted": dirty}


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu"] = m.group(1).strip() if m else None
    except OSError:
        pass
    try:
        m = re.search(r"<kafka.version>(.*?)</kafka.version>", (ROOT / "kafka" / "pom.xml").read_text())
        info["kafka"] = m.group(1) if m else None
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("faust-streaming", "aiokafka", "rocksdict", "orjson", "quixstreams", "confluent-kafka"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = None
    return info


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RssSampler:
    """Peak resident memory of whichever process it watches, with its child processes, sampled on a thread."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.psutil = psutil
        self.interval = interval
        self.proc = None
        self.peak = 0
        self.samples = 0
        self.current = None
        self.phases: dict[str, int] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def watch(self, pid: int | None) -> None:
        self.proc = self.psutil.Process(pid) if pid else None

    def phase(self, name: str) -> None:
        """Attribute the samples from now on to `name` (peaks per phase, besides the overall peak)."""
        self.current = name
        self.phases.setdefault(name, 0)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            proc = self.proc
            if proc is None:
                continue
            try:
                rss = proc.memory_info().rss
            except self.psutil.Error:
                continue
            try:  # the worker's export scan processes (streams.scan_process) count as the worker's
                children = proc.children(recursive=True)
            except self.psutil.Error:
                children = []
            for child in children:
                try:
                    rss += child.memory_info().rss
                except self.psutil.Error:
                    pass
            self.samples += 1
            self.peak = max(self.peak, rss)
            if self.current is not None:
                self.phases[self.current] = max(self.phases[self.current], rss)

    def stop(self) -> None:
        self.stopped.set()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    def phase_peaks_mb(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.phases.items()}


def cpu_snapshot(pid: int) -> tuple:
    import psutil

    t = psutil.Process(pid).cpu_times()
    system = psutil.cpu_times()
    return time.monotonic(), t.user + t.system, sum(system) - system.idle - getattr(system, "iowait", 0)


def cpu_usage(before: tuple, after: tuple, phase: str) -> dict:
    """The worker's CPU (100 = one core busy) and the whole machine's (100 = every core) over a phase."""
    wall = max(after[0] - before[0], 1e-9)
    cores = os.cpu_count() or 1
    return {f"{phase}_worker_cpu_pct": round(100 * (after[1] - before[1]) / wall, 1),
            f"{phase}_machine_cpu_pct": round(100 * (after[2] - before[2]) / wall / cores, 1)}


class Worker:
    """A real ``convoflow worker`` subprocess."""

    def __init__(self, settings: Settings, root: Path, data_dir: Path, export_dir: Path):
        self.settings, self.root, self.data_dir, self.export_dir = settings, root, data_dir, export_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> float:
        """Start the process; returns its start time (time.time())."""
        s = self.settings
        cmd = [sys.executable, "-m", "convoflow.cli", "worker", "--broker", s.broker, "--topic-prefix", s.topic_prefix,
               "--partitions", str(s.partitions), "--data-dir", str(self.data_dir), "--export-dir", str(self.export_dir),
               "--web-port", str(self.port)]
        self.starts += 1
        self.log_path = self.root / f"worker-{self.starts}.log"
        self.log = open(self.log_path, "ab")
        env = {**os.environ, "CONVOFLOW_EXPORT_TIMEOUT": os.environ.get("CONVOFLOW_EXPORT_TIMEOUT", "3600"),
               # the worker runs the code of the tree this bench belongs to (also from a copy of the repo)
               "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        started = time.time()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(self.root), env=env)
        return started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")

    def wait_health(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                status, _, _ = self.get("/health", timeout=1)
                if status == 200:
                    return time.time()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"worker did not answer on /health within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=20)
            self.log.close()


# ---------------------------------------------------------------- Kafka helpers


async def _admin_and_consumer(settings: Settings):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    return admin, consumer


async def topic_partitions(consumer, topics: list[str]):
    from convoflow.topics import partitions_of

    tps = []
    for t in topics:
        tps += await partitions_of(consumer, t)
    return tps


async def count_records(settings: Settings, topics: list[str]) -> dict[str, int]:
    """end - beginning offsets per topic (the records a reader of the whole topic gets)."""
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        out: dict[str, int] = {}
        for tp in tps:
            out[tp.topic] = out.get(tp.topic, 0) + ends[tp] - begins[tp]
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def watch_lag(settings: Settings, topics: list[str], group: str, worker: Worker, poll: float = 0.25,
                    timeout: float = 7200) -> dict:
    """Poll the group's committed offsets against end offsets until lag 0 twice in a row.

    Returns the wall-clock time of the first poll that saw a committed offset
    (and what was committed then), and of the first of the two lag-0 polls.
    """
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        first = None
        zero_since = None
        deadline = time.monotonic() + timeout
        inputs = set(settings.input_topics())
        last_report = 0.0
        while time.monotonic() < deadline:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.proc.returncode}:\n{worker.tail()}")
            now = time.time()
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            done = {tp: (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in tps}
            lag = sum(max(ends[tp] - done[tp], 0) for tp in tps)
            input_done = sum(done[tp] for tp in tps if tp.topic in inputs)
            if first is None and sum(done.values()) > 0:
                first = {"time": now, "input_committed": input_done}
            if lag == 0 and first is not None:
                if zero_since is None:
                    zero_since = now
                else:
                    return {"first": first, "caught_up": zero_since,
                            "internal_records": sum(ends[tp] for tp in tps if tp.topic not in inputs)}
            else:
                zero_since = None
            if now - last_report > 15:
                last_report = now
                log(f"  ingest: lag {lag:,}, input committed {input_done:,}")
            await asyncio.sleep(poll)
        raise TimeoutError(f"the worker did not catch up within {timeout:.0f} s")
    finally:
        await consumer.stop()
        await admin.close()


# ---------------------------------------------------------------- phases


def run_peer(kind: str, argv: list[str], out: Path, log_path: Path, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "bench.peers", kind, *argv, "--out", str(out)]
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=str(ROOT))
        try:
            deadline = time.monotonic() + timeout
            while not out.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"{kind} peer exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{kind} peer did not finish within {timeout:.0f} s")
                time.sleep(0.1)
            return json.loads(out.read_text())
        finally:
            stop_process(proc)


def export_request(export_type: str, date_from: str, date_to: str, as_of: str, tz: str = "UTC") -> dict:
    return {"request_id": f"bench-{export_type}-{uuid.uuid4().hex[:10]}", "export_type": export_type,
            "time_zone": tz, "date_from": date_from, "date_to": date_to, "as_of": as_of}


def timed_export(settings: Settings, request: dict, timeout: float) -> tuple[float, dict]:
    started = time.monotonic()
    result = asyncio.run(request_export(settings, request, timeout))
    elapsed = time.monotonic() - started
    if result.get("status") != "completed":
        raise RuntimeError(f"export {request['export_type']} failed: {result}")
    return elapsed, result


ID_FIELDS = ("event_id", "message_id", "conversation_id", "contact_profile_id", "inbound_message_id", "survey_id",
             "lock_id")
DIRECTORY_TYPES = ("agent.", "team.", "channel.", "topic.upserted", "topic.deleted", "tag.upserted", "tag.deleted",
                   "virtual_agent.")


def chunks(total: int, size: int) -> list[int]:
    """Conversations per chunk: ``generate`` holds a whole stream in memory, 1M conversations would not fit."""
    size = max(1, size)
    return [min(size, total - start) for start in range(0, total, size)] or [0]


def stream_chunk(args, i: int, conversations: int) -> list[dict]:
    """Chunk 0 is the simulated contact centre (directory, presence, conversations); every further
    chunk adds conversations only: the same agents, teams and days, its own conversation, message and
    contact ids (prefix ``k<i>-``)."""
    from convoflow import simulate

    if i == 0:
        return simulate.generate(seed=args.seed, agents=args.agents, teams=args.teams, conversations=conversations,
                                 days=args.days, start=args.start)
    return background_stream(args, args.seed + 1000 + i, conversations, f"k{i}-", presence=False)


def background_stream(args, seed: int, conversations: int, tag: str, presence: bool = True) -> list[dict]:
    """A second simulated stream with its own conversation/message/contact ids (directory ids shared)."""
    from convoflow import simulate

    events = simulate.generate(seed=seed, agents=args.agents, teams=args.teams, conversations=conversations,
                               days=args.days, start=args.start)
    out = []
    for e in events:
        if e["type"].startswith(DIRECTORY_TYPES) or (not presence and e["type"] == "presence.changed"):
            continue
        for f in ID_FIELDS:
            v = e.get(f)
            if isinstance(v, str):
                e[f] = f"{tag}{v}"
        out.append(e)
    return out


async def steady_load_and_probe(settings: Settings, load: list[dict], rate: float, seconds: float,
                                probe_fn, probe_interval: float, max_inflight: int = 2, idle: bool = False) -> dict:
    """Publish `load` at `rate` events/s for `seconds`; meanwhile start a probe every `probe_interval`
    (at most `max_inflight` at once), each of which appends its latency in ms to `samples` or counts a timeout."""
    from aiokafka import AIOKafkaProducer

    from convoflow.publish import route
    from convoflow.topics import DURABLE_PRODUCER

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=5, max_batch_size=512 * 1024,
                                **DURABLE_PRODUCER)
    await producer.start()
    stop = asyncio.Event()
    sent = {"n": 0}

    async def publisher():
        tick = 0.02
        started = time.monotonic()
        i = 0
        pending = []
        while not stop.is_set() and i < len(load):
            due = int((time.monotonic() - started) * rate)
            while i < min(due, len(load)):
                e = load[i]
                topic, key = route(e)
                pending.append(await producer.send(settings.topic(topic), orjson.dumps(e), key=key.encode()))
                i += 1
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending.clear()
            await asyncio.sleep(tick)
        await asyncio.gather(*pending)
        sent["n"] = i
        sent["seconds"] = time.monotonic() - started

    pub = asyncio.ensure_future(publisher())
    samples: list[float] = []
    errors: dict = {}
    inflight: set = set()
    probes = 0
    try:
        await asyncio.sleep(min(2.0, seconds / 5))  # let the load settle first
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (idle or not pub.done()):
            if len(inflight) < max_inflight:
                probes += 1
                task = asyncio.ensure_future(probe_fn(producer, probes, samples, errors))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                if probe_interval <= 0:
                    await task
            await asyncio.sleep(max(probe_interval, 0.01))
        await asyncio.gather(*inflight, return_exceptions=True)
    finally:
        stop.set()
        await pub
        await producer.stop()
    return {"samples": samples, "errors": errors, "timeouts": errors.get("timeout", 0), "probes": probes,
            "published": sent["n"], "publish_rate": sent["n"] / max(sent.get("seconds", 1e-9), 1e-9)}


async def group_lag(settings: Settings, topics: list[str], group: str) -> int:
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return sum(max(ends[tp] - max(committed[tp].offset if tp in committed else 0, 0), 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


def has_live_lookup(worker: Worker, template: str) -> bool:
    """Whether GET `template` answers like an endpoint (200, or a JSON 404) rather than 'no such route'."""
    try:
        status, body, ctype = worker.get(template.format(id="bench-no-such-conversation"))
    except OSError:
        return False
    return status == 200 or (status in (400, 404) and "json" in ctype)


def make_lookup_probe(settings: Settings, worker: Worker, template: str, day: str, timeout: float):
    """A new conversation (message, then resolution) -> GET template answers 200 with the resolution in it.

    The probe resolves its conversation because the row of an open one is not
    what every version of the lookup serves; visibility is of the later event.
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=8)

    async def probe(producer, i: int, samples: list[float], errors: dict) -> None:
        cid = f"fresh-c-{uuid.uuid4().hex[:8]}-{i}"
        marker = f"freshness probe {cid}"
        created = {"event_id": f"fresh-e1-{cid}", "type": "message.created", "occurred_at": f"{day}T12:00:00.000Z",
                   "message_id": f"fresh-m-{cid}", "conversation_id": cid, "channel_id": "ch-1",
                   "contact_profile_id": f"fresh-ct-{i}", "direction": "INBOUND", "message_type": "TEXT",
                   "origin": "CONTACT", "content": "freshness probe"}
        resolved = {"event_id": f"fresh-e2-{cid}", "type": "conversation.status_changed",
                    "occurred_at": f"{day}T12:00:01.000Z", "conversation_id": cid, "status": "RESOLVED",
                    "resolved_by": "SYSTEM", "resolve_trigger": "AUTO_RESOLVE", "resolve_comment": marker}
        started = time.monotonic()
        await asyncio.gather(
            await producer.send(settings.topic("messages"), orjson.dumps(created), key=cid.encode()),
            await producer.send(settings.topic("status-changes"), orjson.dumps(resolved), key=cid.encode()))
        path = template.format(id=cid)
        loop = asyncio.get_running_loop()
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                break
            try:
                status, body, _ = await loop.run_in_executor(pool, worker.get, path, min(left, 5.0))
            except OSError as exc:
                status, body = type(exc).__name__, b""
            if status == 200 and marker.encode() in body:
                samples.append((time.monotonic() - started) * 1000)
                return
            if status not in (200, 404):
                errors[status] = errors.get(status, 0) + 1
            await asyncio.sleep(0.05)  # each lookup is a shard request through Kafka: do not swamp the worker
        errors["timeout"] = errors.get("timeout", 0) + 1

    return probe


def make_export_probe(settings: Settings, day: str, as_of: str, timeout: float):
    """A new agent's presence -> a completed agent_presence export that lists it."""
    async def probe(producer, i: int, samples: list[float], errors: dict) -> None:
        agent = f"fresh-a-{uuid.uuid4().hex[:8]}-{i}"
        event = {"event_id": f"fresh-e-{agent}", "type": "presence.changed", "occurred_at": f"{day}T12:00:00.000Z",
                 "agent_id": agent, "state": "AVAILABLE"}
        started = time.monotonic()
        await producer.send_and_wait(settings.topic("presence"), orjson.dumps(event), key=agent.encode())
        result = await request_export(settings, export_request("agent_presence", day, day, as_of), timeout)
        if result.get("status") != "completed":
            key = "timeout" if "no result within" in str(result.get("error")) else str(result.get("status"))
            errors[key] = errors.get(key, 0) + 1
            return
        with open(result["file"], "rb") as f:
            found = agent.encode() in f.read()
        os.remove(result["file"])
        if not found:
            errors["missing"] = errors.get("missing", 0) + 1
            return
        samples.append((time.monotonic() - started) * 1000)

    return probe


# ---------------------------------------------------------------- main run


def run(args) -> dict:
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    prefix = args.kept_state or f"bench{uuid.uuid4().hex[:8]}-"
    if args.kept_state and not (args.work_dir and not args.delete_topics):
        raise SystemExit("--kept-state needs the earlier run's --work-dir, and --keep-topics")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="convoflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(broker=args.broker, topic_prefix=prefix, partitions=args.partitions,
                        export_dir=str(work / "exports"))
    sizes = {k: getattr(args, k) for k in ("conversations", "chunk_conversations", "agents", "teams", "days",
                                           "partitions", "seed", "freshness_rate", "freshness_seconds")}
    sizes["start"] = args.start
    out = {"started_at": started_at, "command": " ".join([os.path.basename(sys.executable), "-m", "bench.run",
                                                          *sys.argv[1:]]),
           "machine": machine(), "code": code_version(), "sizes": sizes, "target_sizes": TARGET_SIZES,
           "topic_prefix": prefix,
           "work_dir": str(work), "figures": {}, "notes": {}, "targets": {k: list(v) for k, v in TARGETS.items()}}
    log(f"prefix {prefix}, work dir {work}, sizes {sizes}")
    try:
        _run(args, settings, work, out)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
        if args.delete_topics:
            try:
                asyncio.run(delete_topics(settings))
            except Exception as exc:  # the figures are what matter
                log(f"could not delete the run's topics: {exc!r}")
    out["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return out


def measure_exports(args, settings: Settings, worker: "Worker", fig: dict, notes: dict) -> None:
    """export_resolved_s, export_messages_s (and rows/s), export_agent_metrics_s from a caught-up worker."""
    first_day, last_day, as_of = export_range(args)
    profiler = start_profiler(worker.pid, Path(args.profile), "exports") if args.profile else None
    try:
        exports = [("export_resolved_s", "conversations_resolved"), ("export_messages_s", "messages"),
                   ("export_agent_metrics_s", "agent_metrics")]
        for name, typ in (e for e in exports if not (args.skip_messages and e[1] == "messages")):
            elapsed, result = timed_export(settings, export_request(typ, first_day, last_day, as_of),
                                           args.export_timeout)
            fig[name] = round(elapsed, 3)
            fig[name.replace("_s", "_rows")] = result["rows"]
            log(f"{name} {elapsed:.2f} s ({result['rows']:,} rows)")
            if typ == "agent_metrics":
                measure_explain(args, worker, result["file"], fig, notes)
            if not args.keep_exports:
                os.remove(result["file"])
        if not args.skip_messages:
            fig["export_messages_rows_per_s"] = round(fig["export_messages_rows"] / fig["export_messages_s"])
    finally:
        if profiler is not None:
            stop_profiler(profiler)
    notes["exports"] = (f"UTC, {first_day}..{last_day}, timed from publishing the request to reading its "
                        "'completed' result (includes the catch-up round trips)")


EXPLAIN_RUNS = 5


def measure_explain(args, worker: "Worker", agent_metrics_file: str, fig: dict, notes: dict) -> None:
    """explain_cell_ms: GET /explain of the busiest agent's Handle Time (s) over the simulated days
    (the median of EXPLAIN_RUNS requests, each read-your-writes: catch-up, then that agent's days)."""
    import csv

    with open(agent_metrics_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        notes["explain_cell_ms"] = "no agent_metrics rows to explain"
        return
    agent = max(rows, key=lambda r: int(r["Handle Time (s)"] or 0))
    first_day = args.start[:10]
    last_day = (date.fromisoformat(first_day) + timedelta(days=args.days - 1)).isoformat()
    query = urllib.parse.urlencode({"type": "agent_metrics", "tz": "UTC", "from": first_day, "to": last_day,
                                    "row": agent["User ID"], "column": "Handle Time (s)"})
    samples, listed = [], 0
    for _ in range(EXPLAIN_RUNS):
        t = time.monotonic()
        status, body, _ = worker.get(f"/explain?{query}", timeout=args.export_timeout)
        samples.append((time.monotonic() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"GET /explain answered {status}: {body[:300]!r}")
        listed = len(orjson.loads(body)["conversations"])
    fig["explain_cell_ms"] = round(sorted(samples)[len(samples) // 2], 1)
    fig["explain_cell_conversations"] = listed
    notes["explain_cell_ms"] = (f"GET /explain of agent {agent['User ID']}'s Handle Time (s), UTC {first_day}..{last_day}"
                                f", {listed} conversations; median of {EXPLAIN_RUNS}: "
                                + ", ".join(f"{v:.0f}" for v in samples))
    log(f"explain_cell_ms {fig['explain_cell_ms']} ({listed} conversations)")


def export_range(args) -> tuple[str, str, str]:
    """(first day, last day, as_of) of the exports: the simulated range, and the week after it."""
    first_day = args.start[:10]
    last_day = (date.fromisoformat(first_day) + timedelta(days=args.days + 6)).isoformat()
    return first_day, last_day, f"{last_day}T23:59:59Z"


def exports_on_kept_state(args, settings: Settings, work: Path, out: dict) -> None:
    """``--kept-state``: the exports (and the worker's memory meanwhile) again, with the code of this tree,
    on the topics and worker data dir an earlier run kept (``--keep-topics --work-dir``)."""
    fig, notes = out["figures"], out["notes"]
    data_dir = work / "worker-data"
    if not data_dir.is_dir():
        raise SystemExit(f"--kept-state: no worker data dir at {data_dir}")
    rss = RssSampler()
    worker = Worker(settings, work, data_dir, work / "exports")
    try:
        rss.phase("start")
        t_spawn = worker.start()
        rss.watch(worker.pid)
        worker.wait_health(timeout=1800)
        lag_topics = settings.input_topics() + [settings.topic(t) for t in INTERNAL]
        asyncio.run(watch_lag(settings, lag_topics, settings.app_id, worker))
        # An export waits for the worker's directory and contact copies, which a new worker rebuilds
        # from the changelogs (after an ingest they are long caught up): one small export first.
        first_day, _, as_of = export_range(args)
        timed_export(settings, export_request("agent_presence", first_day, first_day, as_of), args.export_timeout)
        log(f"worker caught up on the kept state after {time.time() - t_spawn:.1f} s")
        rss.phase("exports")
        measure_exports(args, settings, worker, fig, notes)
        fig["peak_rss_mb"] = round(rss.peak_mb, 1)
        for phase, mb in rss.phase_peaks_mb().items():
            fig[f"peak_rss_{phase}_mb"] = mb
        notes["kept_state"] = (f"exports only, on the state of an earlier run (prefix {settings.topic_prefix}, "
                               f"{data_dir}); no ingest, restore or freshness")
    finally:
        worker.stop()
        rss.stop()


def _run(args, settings: Settings, work: Path, out: dict) -> None:
    fig, notes, prefix = out["figures"], out["notes"], settings.topic_prefix
    if args.kept_state:
        exports_on_kept_state(args, settings, work, out)
        return
    first_day, _, as_of = export_range(args)

    # 1. the stream, generated and published a chunk of conversations at a time
    generate_s = publish_s = 0.0
    per_topic: dict[str, int] = {}
    for i, size in enumerate(chunks(args.conversations, args.chunk_conversations)):
        t = time.monotonic()
        events = stream_chunk(args, i, size)
        generate_s += time.monotonic() - t
        t = time.monotonic()
        summary = asyncio.run(publish_events(settings, events))
        publish_s += time.monotonic() - t
        if summary.rejected:
            raise RuntimeError(f"{len(summary.rejected)} events not published: {summary.rejected[:5]}")
        for topic, n in summary.per_topic.items():
            per_topic[topic] = per_topic.get(topic, 0) + n
        log(f"chunk {i}: {size:,} conversations, {len(events):,} events")
        del events, summary
        gc.collect()
    fig["generate_s"] = round(generate_s, 2)
    fig["events"] = sum(per_topic.values())
    fig["publish_eps"] = round(fig["events"] / max(publish_s, 1e-9))
    out["per_topic"] = dict(sorted(per_topic.items()))
    inputs = settings.input_topics()
    total = asyncio.run(count_records(settings, inputs))
    n_events = sum(total.values())
    log(f"published {n_events:,} events at {fig['publish_eps']:,}/s")

    # 2. raw aiokafka + orjson
    # the best of a few runs: a ceiling, and a short run is at the mercy of the broker's page cache
    runs = [asyncio.run(raw_consume(settings.bootstrap, inputs)) for _ in range(args.raw_runs)]
    raw = max(runs, key=lambda r: r["eps"])
    fig["raw_consume_eps"] = round(raw["eps"])
    notes["raw_consume_eps"] = f"best of {len(runs)} runs: " + ", ".join(f"{r['eps']:,.0f}" for r in runs)
    log(f"raw_consume_eps {fig['raw_consume_eps']:,} ({raw['events']:,} events in {raw['seconds']:.1f} s; "
        f"{notes['raw_consume_eps']})")

    # 3. bare Faust, as convoflow runs it (with streams/faust_ext's transport) and as released: what the fixes are worth
    if not args.skip_faust:
        for figure, name, extra in (("faust_stream_eps", "faust", []), ("faust_stock_eps", "stock", ["--stock"])):
            res = run_peer("faust", [
                "--broker", settings.broker, "--app-id", f"{prefix}{name}-faust", "--topics", ",".join(inputs),
                "--partitions", str(args.partitions), "--expected", str(n_events), "--data-dir", str(work / name),
                *extra, *args.faust_args.split()], work / f"{name}.json", work / f"{name}.log", args.peer_timeout)
            fig[figure] = round(res["eps"])
            notes.setdefault("faust_settings", res.get("settings"))
            log(f"{figure} {fig[figure]:,} ({res['events']:,} events in {res['seconds']:.1f} s)")

    # 4. Quix Streams
    if not args.skip_quix:
        if importlib.util.find_spec("quixstreams") is None:
            notes["peer_quix_eps"] = "quixstreams not installed (pip install -e '.[bench]')"
        else:
            asyncio.run(precreate_quix_changelogs(settings, f"{prefix}quix", inputs))
            res = run_peer("quix", [
                "--bootstrap", settings.bootstrap, "--group", f"{prefix}quix", "--topics", ",".join(inputs),
                "--expected", str(n_events), "--data-dir", str(work / "quix")],
                work / "quix.json", work / "quix.log", args.peer_timeout)
            fig["peer_quix_eps"] = round(res["eps"])
            log(f"peer_quix_eps {fig['peer_quix_eps']:,} ({res['events']:,} events in {res['seconds']:.1f} s)")

    # 5. the pipeline
    rss = RssSampler()
    worker = Worker(settings, work, work / "worker-data", work / "exports")
    profiler = None
    try:
        rss.phase("ingest")
        t_spawn = worker.start()
        rss.watch(worker.pid)
        t_health = worker.wait_health()
        fig["worker_start_s"] = round(t_health - t_spawn, 2)
        if args.profile:
            profiler = start_profiler(worker.pid, Path(args.profile))
        lag_topics = inputs + [settings.topic(t) for t in INTERNAL]
        cpu0 = cpu_snapshot(worker.pid)
        lag = asyncio.run(watch_lag(settings, lag_topics, settings.app_id, worker))
        fig.update(cpu_usage(cpu0, cpu_snapshot(worker.pid), "ingest"))
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
        ingest_s = lag["caught_up"] - lag["first"]["time"]
        counted = n_events - lag["first"]["input_committed"]
        fig["ingest_s"] = round(ingest_s, 2)
        fig["ingest_wall_s"] = round(lag["caught_up"] - t_spawn, 2)
        fig["ingest_eps"] = round(counted / max(ingest_s, 1e-9))
        fig["ingest_internal_records"] = lag["internal_records"]
        notes["ingest_eps"] = ("input events committed after the first commit of the group was seen, divided by "
                               "the time from then until committed == end offsets on every input partition and on "
                               "contact-updates/people-updates (two polls 0.25 s apart); ingest_wall_s is from the "
                               "worker's process start")
        if counted < n_events / 10:  # a small stream, mostly committed before the first poll saw a commit
            counted, ingest_s = n_events, lag["caught_up"] - t_health
            fig["ingest_eps"] = round(counted / max(ingest_s, 1e-9))
            notes["ingest_eps"] = ("every input event, divided by the time from /health answering until lag 0 "
                                   "(the first commit seen already covered most of this small stream)")
        fig["ingest_ratio"] = round(fig["ingest_eps"] / fig["raw_consume_eps"], 3)
        if "faust_stream_eps" in fig:
            fig["ingest_vs_faust"] = round(fig["ingest_eps"] / fig["faust_stream_eps"], 3)
        if "peer_quix_eps" in fig:
            fig["ingest_vs_quix"] = round(fig["ingest_eps"] / fig["peer_quix_eps"], 3)
        log(f"ingest_eps {fig['ingest_eps']:,} ({counted:,} events in {ingest_s:.1f} s; "
            f"{lag['internal_records']:,} internal records)")

        # 6. exports (the worker is caught up: this is the scan, merge and CSV)
        rss.phase("exports")
        measure_exports(args, settings, worker, fig, notes)

        # 7. restore from the changelogs
        worker.stop()
        rss.watch(None)
        changelogs = [f"{settings.app_id}-{t}-changelog" for t in CHANGELOG_TABLES]
        records = asyncio.run(count_records(settings, changelogs))
        fig["changelog_records"] = sum(records.values())
        out["changelog_records"] = records
        shutil.rmtree(worker.data_dir)
        rss.phase("restore")
        t_spawn = worker.start()
        rss.watch(worker.pid)
        if args.profile:
            profiler = start_profiler(worker.pid, Path(args.profile), "restore")
        t_health = worker.wait_health()
        elapsed, _ = timed_export(settings, export_request("agent_presence", first_day, first_day, as_of),
                                  args.export_timeout)
        t_done = time.time()
        if profiler is not None:
            stop_profiler(profiler)
            profiler = None
        fig["restore_s"] = round(t_done - t_spawn, 2)
        fig["restore_rps"] = round(fig["changelog_records"] / max(t_done - t_spawn, 1e-9))
        notes["restore_rps"] = ("changelog records (end - beginning offsets of every table changelog) / time from "
                                "starting the worker on an empty data dir until an agent_presence export completed "
                                f"(health answered after {t_health - t_spawn:.1f} s; the export took {elapsed:.1f} s)")
        log(f"restore_rps {fig['restore_rps']:,} ({fig['changelog_records']:,} records in {fig['restore_s']} s)")
        bulk = re.search(r"restored (\d+) changelog records in ([\d.]+) s", worker.tail(200_000))
        if bulk:
            fig["restore_bulk_s"] = float(bulk.group(2))
            fig["restore_bulk_rps"] = round(int(bulk.group(1)) / max(float(bulk.group(2)), 1e-9))
            notes["restore_bulk_rps"] = ("the worker's own line: records read into RocksDB before Faust started "
                                         "(streams/restore.py), without process start, group join and the export")
            log(f"restore_bulk_rps {fig['restore_bulk_rps']:,} ({bulk.group(1)} records in {bulk.group(2)} s)")

        # 8. freshness at a steady rate
        if args.freshness_seconds > 0:
            n_load = int(args.freshness_rate * (args.freshness_seconds + 10))
            conv = max(10, n_load // 22)
            load = background_stream(args, args.seed + 1, conv, "f")[:n_load]
            lookup = has_live_lookup(worker, args.lookup_path)
            if lookup:
                probe = make_lookup_probe(settings, worker, args.lookup_path, first_day, args.probe_timeout)
                interval = 0.25
                notes["freshness_p99_ms"] = f"publish (acked) -> GET {args.lookup_path} answers 200 with the event"
            else:
                probe = make_export_probe(settings, first_day, as_of, args.probe_timeout)
                interval = 0  # one export at a time
                notes["freshness_p99_ms"] = ("no live-lookup endpoint (GET " + args.lookup_path + "): publish (acked) "
                                             "-> a completed agent_presence export that includes the event")
            log(f"freshness: {len(load):,} background events at {args.freshness_rate:,}/s for "
                f"{args.freshness_seconds} s, via {'lookup' if lookup else 'export'}")
            rss.phase("freshness")
            idle = asyncio.run(steady_load_and_probe(settings, [], 0, min(10.0, max(2.0, args.freshness_seconds / 3)),
                                                     probe, interval, idle=True))
            v = percentile(idle["samples"] + [float("inf")] * idle["timeouts"], 99)
            fig["freshness_idle_p99_ms"] = None if v is None else round(min(v, args.probe_timeout * 1000), 1)
            res = asyncio.run(steady_load_and_probe(settings, load, args.freshness_rate, args.freshness_seconds,
                                                    probe, interval))
            del load
            fig["freshness_method"] = "lookup" if lookup else "export"
            fig["freshness_samples"] = len(res["samples"])
            fig["freshness_timeouts"] = res["timeouts"]
            fig["freshness_publish_eps"] = round(res["publish_rate"])
            fig["freshness_end_lag"] = asyncio.run(group_lag(settings, lag_topics, settings.app_id))
            if res["errors"]:
                notes["freshness_errors"] = {str(k): v for k, v in res["errors"].items()}
            # A probe that never became visible counts as infinitely late: p99 is then at least the timeout.
            values = res["samples"] + [float("inf")] * res["timeouts"]
            for q in (50, 99):
                v = percentile(values, q)
                if v is None:
                    fig[f"freshness_p{q}_ms"] = None
                elif v == float("inf"):
                    fig[f"freshness_p{q}_ms"] = round(args.probe_timeout * 1000)
                    fig[f"freshness_p{q}_ms_is_lower_bound"] = True
                else:
                    fig[f"freshness_p{q}_ms"] = round(v, 1)
            log(f"freshness p50 {fig['freshness_p50_ms']} ms, p99 {fig['freshness_p99_ms']} ms "
                f"({len(res['samples'])} samples, {res['timeouts']} timeouts, end lag {fig['freshness_end_lag']:,})")
        fig["peak_rss_mb"] = round(rss.peak_mb, 1)
        for phase, mb in rss.phase_peaks_mb().items():
            fig[f"peak_rss_{phase}_mb"] = mb
        notes["peak_rss_mb"] = ("the worker's RSS plus its export scan processes' (psutil, every 0.2 s) over ingest, "
                                "exports, restore and freshness; "
                                "peak_rss_<phase>_mb per phase")
    finally:
        if profiler is not None:
            stop_profiler(profiler)
        worker.stop()
        rss.stop()


async def precreate_quix_changelogs(settings: Settings, group: str, topics: list[str]) -> None:
    """Create Quix's changelog topics in one request (Quix creates them one by one, about 1 s each)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1"}
        await admin.create_topics([NewTopic(f"changelog__{group}--{t}--default", settings.partitions, 1,
                                            topic_configs=config) for t in topics])
    finally:
        await admin.close()


async def delete_topics(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)
                 or t.startswith(f"changelog__{settings.topic_prefix}") or t.startswith(f"repartition__{settings.topic_prefix}")]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


# ---------------------------------------------------------------- profiling


def start_profiler(pid: int, out_dir: Path, name: str = "ingest") -> subprocess.Popen:
    """py-spy record (collapsed stacks, so that bench.profile can rank them) of the worker during a phase."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--nonblocking", "--threads",
           "-o", str(out_dir / f"{name}.folded")]
    log(f"profiling the worker (pid {pid}) -> {out_dir / f'{name}.folded'}")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(out_dir / "py-spy.log", "ab"))


def stop_profiler(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---------------------------------------------------------------- output


def verdict(name: str, value) -> str:
    if name not in TARGETS:
        return ""
    op, target = TARGETS[name]
    if value is None:
        return f"MISS (target {op} {target:,}; not measured)"
    ok = value >= target if op == ">=" else value <= target
    if ok:
        return f"PASS (target {op} {target:,})"
    miss = (target / value if op == ">=" and value else value / target) if value else float("inf")
    return f"MISS (target {op} {target:,}; {miss:.1f}x off)"


ORDER = ("events", "publish_eps", "raw_consume_eps", "faust_stream_eps", "faust_stock_eps", "peer_quix_eps",
         "ingest_eps", "ingest_ratio", "ingest_vs_faust", "ingest_vs_quix", "ingest_s", "export_resolved_s",
         "export_resolved_rows", "export_messages_s", "export_messages_rows", "export_messages_rows_per_s",
         "export_agent_metrics_s", "export_agent_metrics_rows", "changelog_records", "restore_s", "restore_rps",
         "restore_bulk_s", "restore_bulk_rps", "peak_rss_mb", "peak_rss_ingest_mb", "peak_rss_exports_mb",
         "peak_rss_restore_mb", "peak_rss_freshness_mb", "freshness_idle_p99_ms", "freshness_p50_ms", "freshness_p99_ms")


def report(out: dict) -> None:
    fig = out["figures"]
    m = out["machine"]
    print(f"machine: nproc {m.get('nproc')}, {m.get('memory_gb')} GB, python {m.get('python')}, "
          f"kafka {m.get('kafka')}, faust {m.get('faust-streaming')}, aiokafka {m.get('aiokafka')}")
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in out["sizes"].items()))
    names = [n for n in ORDER if n in fig] + sorted(n for n in fig if n not in ORDER)
    for name in names:
        value = fig[name]
        shown = f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if fig.get(f"{name}_is_lower_bound"):
            shown = f">={shown}"
        extra = verdict(name, value)
        if name == "freshness_p99_ms" and fig.get("freshness_method") == "export":
            extra += " [via export completion: no live-lookup endpoint]"
        print(f"{name}: {shown}" + (f"  {extra}" if extra else ""))


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", default=os.environ.get("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092"))
    p.add_argument("--smoke", action="store_true", help="a tiny stream, everything in under a minute")
    p.add_argument("--conversations", type=int, default=env_int("BENCH_CONVERSATIONS", 10_000))
    p.add_argument("--agents", type=int, default=env_int("BENCH_AGENTS", 1_000))
    p.add_argument("--teams", type=int, default=env_int("BENCH_TEAMS", 20))
    p.add_argument("--days", type=int, default=env_int("BENCH_DAYS", 30))
    p.add_argument("--start", default=os.environ.get("BENCH_START", "2024-07-01T00:00:00Z"))
    p.add_argument("--seed", type=int, default=env_int("BENCH_SEED", 1))
    p.add_argument("--partitions", type=int, default=env_int("BENCH_PARTITIONS", 4))
    p.add_argument("--chunk-conversations", type=int, default=env_int("BENCH_CHUNK_CONVERSATIONS", 50_000),
                   help="generate and publish the stream this many conversations at a time (memory)")
    p.add_argument("--freshness-rate", type=int, default=env_int("BENCH_FRESHNESS_RATE", 5_000),
                   help="background events/s during the freshness phase")
    p.add_argument("--freshness-seconds", type=float, default=env_float("BENCH_FRESHNESS_SECONDS", 60),
                   help="length of the freshness phase (0 skips it)")
    p.add_argument("--probe-timeout", type=float, default=env_float("BENCH_PROBE_TIMEOUT", 10),
                   help="a freshness probe not visible after this many seconds counts as a timeout")
    p.add_argument("--lookup-path", default=os.environ.get("BENCH_LOOKUP_PATH", "/conversations/{id}"))
    p.add_argument("--faust-args", default=os.environ.get("BENCH_FAUST_ARGS", ""),
                   help="extra flags for the bare Faust agent, e.g. '--batch 5000 --stream-buffer-maxsize 65536'")
    p.add_argument("--raw-runs", type=int, default=3, help="bare consumer runs (the best is reported)")
    p.add_argument("--skip-faust", action="store_true")
    p.add_argument("--skip-quix", action="store_true")
    p.add_argument("--skip-messages", action="store_true",
                   help="leave out the messages export (about 7 minutes at 1M conversations)")
    p.add_argument("--profile", metavar="DIR",
                   help="py-spy record the worker during ingest, exports and restore into DIR/{ingest,exports,restore}.folded "
                        "(rank with python -m bench.profile FILE)")
    p.add_argument("--peer-timeout", type=float, default=1800)
    p.add_argument("--export-timeout", type=float, default=1800)
    p.add_argument("--work-dir", help="keep worker data, logs and exports here (default: a temp dir, deleted)")
    p.add_argument("--keep", action="store_true", help="keep the temp work dir")
    p.add_argument("--keep-exports", action="store_true")
    p.add_argument("--keep-topics", dest="delete_topics", action="store_false",
                   help="leave the run's topics on the broker (default: delete them)")
    p.add_argument("--kept-state", metavar="PREFIX",
                   help="only the exports, on the topics (PREFIX) and --work-dir an earlier run kept with "
                        "--keep-topics --work-dir; its sizes flags must match that run's")
    p.add_argument("--out", default=str(RESULTS), help="results file (default %(default)s)")
    args = p.parse_args(argv)
    if args.smoke:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        for name, value in (("conversations", 300), ("agents", 20), ("teams", 4), ("days", 3),
                            ("freshness_seconds", 5), ("freshness_rate", 500), ("raw_runs", 1)):
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, value)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = run(args)
    out["smoke"] = args.smoke
    out["verdicts"] = {name: verdict(name, out["figures"].get(name)).split(" ")[0] for name in TARGETS}
    report(out)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
