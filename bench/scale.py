"""convoflow at two sizes and on several workers: ``make bench-scale`` (``python -m bench.scale``).

    python -m bench.scale [--small N] [--large N] [--workers N] [--partitions N] ... [--smoke]

Everything comes from one run, each phase after the other (never two at once):
 1. small: one worker ingests ``--small`` conversations (``ingest_eps_small``) of as many agents per
    conversation as the large stream (``small_agents``); the Quix Streams peer reads the same topics
    (``quix_eps_small``); then the same with the large stream's agents, for reference
    (``ingest_eps_small_fixed_agents``);
 2. large: the same at ``--large`` conversations (``ingest_eps_large``, ``quix_eps_large``,
    ``peak_rss_mb_large`` over its ingest and exports); then ``export_agent_metrics_s_large`` and
    ``export_resolved_s_large``; and the lone worker's data dir once it has caught up;
 3. share: ``--workers`` workers (standby replicas ``--standby``, ``CONVOFLOW_STANDBY_REPLICAS``) ingest
    the same large stream under a topic prefix of their own; ``state_share_max`` is the largest data
    dir of them / the lone worker's;
 4. join: one more worker joins them on an empty data dir: ``join_restore_share`` (changelog records it
    read / all changelog records) and ``join_pause_s`` (the longest time any input partition had no
    worker processing it, from every worker's /metrics every 0.25 s).

Prints one ``name: value`` line per figure (PASS/MISS against the targets) and writes everything
to ``bench/scale.json``. docs/performance.md describes each figure's method.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import phases
from bench.common import (ROOT, OneLineParser, RssSampler, dir_bytes, env_int, log, new_results, now_utc,
                          print_figures, write_results)
from bench.kafka import CHANGELOG_TABLES, INTERNAL, _admin_and_consumer, delete_topics, topic_partitions, watch_lag
from bench.process import WorkerProcess
from convoflow.contract.config import Settings

RESULTS = ROOT / "bench" / "scale.json"

# name: (comparison, target)
TARGETS = {
    "scale_ingest_ratio": (">=", 0.9),
    "export_agent_metrics_s_large": ("<=", 1.0),
    "export_resolved_s_large": ("<=", 2.0),
    "state_share_max": ("<=", 0.6),
    "join_restore_share": ("<=", 0.45),
    "join_pause_s": ("<=", 5),
    "peak_rss_mb_large": ("<=", 600),
}
ORDER = ("agents_small", "agents_large", "events_small", "events_large", "ingest_eps_small", "ingest_eps_large",
         "scale_ingest_ratio", "quix_eps_small", "quix_eps_large", "quix_scale_ratio", "events_small_fixed_agents",
         "ingest_eps_small_fixed_agents", "scale_ingest_ratio_fixed_agents", "quix_eps_small_fixed_agents",
         "quix_scale_ratio_fixed_agents", "export_agent_metrics_s_large",
         "export_resolved_s_large", "peak_rss_mb_large", "lone_state_mb", "state_mb_max", "state_share_max",
         "join_restore_share", "join_held_share", "join_pause_s", "join_settled_s")

POLL = 0.25  # seconds between two looks at every worker's /metrics during the join


def size_args(args, conversations: int, agents: int | None = None) -> argparse.Namespace:
    """The flags ``bench.phases`` reads, for one size (no profiler, no messages export, no explain)."""
    return argparse.Namespace(**{**vars(args), "conversations": conversations, "agents": agents or args.agents,
                                 "profile": None, "skip_messages": True, "skip_explain": True,
                                 "keep_exports": False})


def small_agents(args) -> int:
    """The small stream's agents: ``--small-agents``, or the large stream's agents scaled to the small size.

    Presence changes come per agent and day, whatever the conversations: with the
    same agents, the small stream is mostly presence changes (56 % of 490,138
    events at 10,000 conversations and 1,000 agents) and the large one mostly
    conversation events (88 % at 100,000), so the two rates would compare two
    different mixes of events. With the agents scaled, both streams have the
    same conversations per agent and day and the same mix; the large one is
    larger in every dimension but teams and days."""
    if args.small_agents:
        return args.small_agents
    return max(1, round(args.agents * args.small / args.large))


def new_settings(args, work: Path, name: str) -> Settings:
    return Settings(broker=args.broker, topic_prefix=f"bench{uuid.uuid4().hex[:8]}{name}-", partitions=args.partitions,
                    export_dir=str(work / "exports"))


# ---------------------------------------------------------------- 1, 2. one worker at a size


def one_size(args, label: str, conversations: int, work: Path, out: dict, also: tuple = (),
             agents: int | None = None) -> dict:
    """Publish, the Quix peer, one worker's ingest; at the large size also its exports and data dir.
    Returns this size's figures (``events``, ``ingest_eps``, ``peer_quix_eps``, ...)."""
    a = size_args(args, conversations, agents)
    settings = new_settings(args, work, label[0])
    out["topic_prefixes"][label] = settings.topic_prefix
    sub = {"figures": {}, "notes": out["notes"].setdefault(label, {})}
    fig, notes = sub["figures"], sub["notes"]
    (work / label).mkdir(parents=True, exist_ok=True)
    log(f"{label}: {conversations:,} conversations, {a.agents:,} agents under {settings.topic_prefix}")
    inputs, n_events = phases.publish(a, settings, sub, also)
    fig["events"] = n_events
    if not args.skip_quix:
        phases.quix_peer(a, settings, work / label, inputs, n_events, fig, notes)
    rss = RssSampler()
    worker = phases.bench_worker(settings, work / label, work / label / "worker-data", env=worker_env(args))
    try:
        rss.phase("ingest")
        phases.ingest(a, settings, worker, rss, inputs, n_events, fig, notes)
        fig["state_bytes"] = settled_sizes([worker], args.settle_timeout)[0]  # measured as the shared workers' are
        if label == "large":
            rss.phase("exports")
            phases.exports(a, settings, worker, fig, notes)
        fig["peak_rss_mb"] = round(rss.peak_mb, 1)
    finally:
        worker.stop(timeout=20)
        rss.stop()
        cleanup(args, settings)
    return fig


def worker_env(args) -> dict:
    return {"CONVOFLOW_STANDBY_REPLICAS": str(args.standby)}


def cleanup(args, settings: Settings) -> None:
    if args.delete_topics:
        try:
            asyncio.run(delete_topics(settings))
        except Exception as exc:  # the figures are what matter
            log(f"could not delete the topics of {settings.topic_prefix}: {exc!r}")


# ---------------------------------------------------------------- 3. the share of each worker


def share(args, settings: Settings, work: Path, lone_bytes: int, fig: dict, notes: dict,
          workers: list[WorkerProcess]) -> None:
    """``--workers`` workers ingest the stream under `settings`; they are added to `workers` as they start,
    and left running and caught up."""
    root = work / "share"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(args.workers):
        workers.append(phases.bench_worker(settings, root, root / f"worker-{i}", name=f"worker-{i}",
                                           env=worker_env(args)))
        workers[-1].start()
    for w in workers:
        w.wait_health()
    t0 = time.time()
    lag_topics = settings.input_topics() + [settings.topic(t) for t in INTERNAL]
    asyncio.run(watch_lag(settings, lag_topics, settings.app_id, workers))
    fig["share_ingest_s"] = round(time.time() - t0, 1)
    # Standbys follow the changelogs after the input is committed: measure once the sizes stop growing.
    sizes = settled_sizes(workers, args.settle_timeout)
    fig["state_mb_max"] = round(max(sizes) / 2**20, 1)
    fig["state_share_max"] = round(max(sizes) / max(lone_bytes, 1), 3)
    notes["state_share_max"] = (
        f"{args.workers} workers, {args.partitions} partitions, CONVOFLOW_STANDBY_REPLICAS={args.standby}, after "
        "ingest (lag 0 and the data dirs' sizes steady): the largest worker's data dir / the lone worker's after "
        "the same events; bytes of the files, WAL included: "
        + ", ".join(f"{s / 2**20:.1f}" for s in sizes) + f" MB vs {lone_bytes / 2**20:.1f} MB")
    log(f"state_share_max {fig['state_share_max']} (data dirs {[round(s / 2**20, 1) for s in sizes]} MB, "
        f"lone {lone_bytes / 2**20:.1f} MB)")


def settled_sizes(workers: list[WorkerProcess], timeout: float) -> list[int]:
    """Every worker's data dir size, once two looks 3 s apart differ by less than 1 % (or after `timeout` s)."""
    before = [dir_bytes(w.data_dir) for w in workers]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(3)
        now = [dir_bytes(w.data_dir) for w in workers]
        if all(abs(n - b) <= 0.01 * max(b, 1) for n, b in zip(now, before)):
            return now
        before = now
    return before


# ---------------------------------------------------------------- 4. a worker joins


METRIC = re.compile(r'^(convoflow_recovery_in_progress|convoflow_recovery_done|convoflow_assigned_partitions'
                    r'|convoflow_consumer_position)(?:\{([^}]*)\})?\s+(\S+)$', re.M)
RESTORED_METRIC = re.compile(r"^convoflow_restored?_(?:changelog_)?records_total(?:\{[^}]*\})?\s+(\S+)$", re.M)
RESTORED_LINE = re.compile(r"restored (\d+) changelog records")


def processing(text: str, inputs: set[str]) -> set[int] | None:
    """The input partitions a worker processes, from its /metrics: none while its recovery runs; None
    (unknown) when it owns partitions but lists no positions (its scrape found no end offsets)."""
    gauges, parts = {}, set()
    for name, labels, value in METRIC.findall(text):
        if name == "convoflow_consumer_position":
            lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if lab.get("topic") in inputs:
                parts.add(int(lab["partition"]))
        else:
            gauges[name] = float(value)
    if gauges.get("convoflow_recovery_in_progress", 0) or not gauges.get("convoflow_recovery_done", 0):
        return set()
    if not parts and gauges.get("convoflow_assigned_partitions", 0):
        return None
    return parts


class OwnerWatch:
    """Every ``POLL`` s, which input partitions some worker processes (``processing``); per partition, the
    stretches of looks in which none did. A worker that does not answer within 2 s processes none; one
    whose answer is unknown keeps what it processed at the look before."""

    def __init__(self, workers: list[WorkerProcess], inputs: set[str], partitions: int):
        self.workers, self.inputs, self.partitions = workers, inputs, partitions
        self.looks: list[tuple[float, dict[int, set[int]]]] = []
        self.unanswered: dict[int, int] = {}
        self.unknown = 0
        self.stopped = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _ask(self, i: int) -> set[int] | None:
        try:
            status, body, _ = self.workers[i].fetch("/metrics", timeout=2)
        except OSError:
            status, body = 0, b""
        if status != 200:
            self.unanswered[i] = self.unanswered.get(i, 0) + 1
            return set()
        return processing(body.decode(errors="replace"), self.inputs)

    def _run(self) -> None:
        while not self.stopped.is_set():
            t = time.time()
            indexes = range(len(self.workers))  # a worker added meanwhile is asked from the next look on
            look = dict(zip(indexes, self.pool.map(self._ask, indexes)))
            before = self.looks[-1][1] if self.looks else {}
            for i, parts in look.items():
                if parts is None:
                    self.unknown += 1
                    look[i] = before.get(i, set())
            self.looks.append((t, look))
            self.stopped.wait(max(0.0, POLL - (time.time() - t)))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.pool.shutdown()

    @staticmethod
    def owned(look: dict) -> set[int]:
        return set().union(*look.values()) if look else set()

    def settled_since(self, worker_index: int) -> float | None:
        """Since when every partition is processed and worker `worker_index` processes some (None: not yet)."""
        since = None
        for t, look in self.looks:
            if self.owned(look) >= set(range(self.partitions)) and look.get(worker_index):
                since = since or t
            else:
                since = None
        return since

    def pauses(self, after: float) -> dict[int, float]:
        """Per partition, its longest stretch without a processing worker from `after` on: from the first
        look without one to the next look with one (or the last look)."""
        longest = {}
        for p in range(self.partitions):
            gap_from, worst = None, 0.0
            for t, look in self.looks:
                if t < after:
                    continue
                if p in self.owned(look):
                    if gap_from is not None:
                        worst = max(worst, t - gap_from)
                    gap_from = None
                elif gap_from is None:
                    gap_from = t
            if gap_from is not None:
                worst = max(worst, self.looks[-1][0] - gap_from)
            longest[p] = round(worst, 2)
        return longest


def join(args, settings: Settings, work: Path, workers: list[WorkerProcess], fig: dict, notes: dict) -> None:
    """One more worker joins the caught-up group on an empty data dir."""
    per_partition = asyncio.run(changelog_partitions(settings))
    total = sum(per_partition.values())
    fig["join_changelog_records"] = total
    root = work / "share"
    joiner = phases.bench_worker(settings, root, root / f"worker-{len(workers)}", name=f"worker-{len(workers)}",
                                 env=worker_env(args))
    watch = OwnerWatch(workers, set(settings.input_topics()), args.partitions)
    watch.start()
    try:
        time.sleep(2 * POLL)
        t_join = joiner.start()
        workers.append(joiner)  # the watch asks it too from now on
        joiner.wait_health(timeout=args.join_timeout)
        deadline = time.monotonic() + args.join_timeout
        while time.monotonic() < deadline:
            since = watch.settled_since(len(workers) - 1)
            if since is not None and time.time() - since >= args.join_steady:
                break
            if not all(w.running() for w in workers):
                raise RuntimeError("a worker exited during the join:\n" + "\n".join(w.tail() for w in workers
                                                                                     if not w.running()))
            time.sleep(POLL)
        else:
            notes["join_settled"] = (f"the joining worker processed no partition, or some partition had no "
                                     f"processing worker, {args.join_timeout:.0f} s after it started")
    finally:
        watch.stop()
    pauses = watch.pauses(t_join)
    partition = max(pauses, key=pauses.get)
    fig["join_pause_s"] = pauses[partition]
    since = watch.settled_since(len(workers) - 1)
    fig["join_settled_s"] = round(since - t_join, 2) if since is not None else None
    before = [look for t, look in watch.looks if t < t_join]
    fig["join_owned_before"] = len(watch.owned(before[-1])) if before else None
    notes["join_pause_s"] = (
        f"every worker's /metrics every {POLL} s from the join on ({len(watch.looks)} looks): an input partition "
        "counts as processed by a worker whose convoflow_consumer_position lists it while its "
        "convoflow_recovery_done is 1 and convoflow_recovery_in_progress 0; the longest stretch without such a "
        f"worker (partition {partition}); per partition: {pauses}; unanswered looks per worker (the joining one is "
        f"the last, asked from its start on): {watch.unanswered}; answers without positions: {watch.unknown}; "
        f"join_owned_before: partitions processed at the last look before the join")
    restore_share(joiner, per_partition, total, fig, notes)
    log(f"join: pause {fig['join_pause_s']} s (partition {partition}), settled after {fig['join_settled_s']} s, "
        f"restore share {fig.get('join_restore_share')} ({notes.get('join_restore_share')})")


def restore_share(joiner: WorkerProcess, per_partition: dict, total: int, fig: dict, notes: dict) -> None:
    """``join_restore_share`` from the joining worker's own count (its /metrics, else its log lines), and
    ``join_held_share``: the changelog records of the table partitions its data dir holds."""
    status, body, _ = joiner.fetch("/metrics", timeout=10)
    counted = RESTORED_METRIC.findall(body.decode(errors="replace")) if status == 200 else []
    if counted:
        read = sum(float(v) for v in counted)
        how = "its /metrics (convoflow_restore*_records_total)"
    else:
        lines = RESTORED_LINE.findall(joiner.tail(10_000_000))
        read = sum(int(n) for n in lines) if lines else None
        how = f"its log ({len(lines)} 'restored N changelog records' lines)"
    fig["join_restore_share"] = round(read / total, 3) if read is not None and total else None
    notes["join_restore_share"] = (f"changelog records the joining worker read, from {how}, / all changelog records "
                                   f"of the deployment ({total:,}, end - beginning offsets)")
    held = held_records(joiner.data_dir, per_partition, joiner.topic_prefix)
    fig["join_held_share"] = round(held / total, 3) if total else None
    notes["join_held_share"] = ("changelog records (end - beginning) of the table partitions whose store "
                                "(<table>-<partition>.db) is in the joining worker's data dir, / all: what it read "
                                "when its stores are caught up; a cross-check of join_restore_share")


STORE_DIR = re.compile(r"^(.+)-(\d+)\.db$")


def held_records(data_dir: Path, per_partition: dict, prefix: str) -> int:
    """Changelog records of the table partitions that have a store under `data_dir`."""
    held = 0
    for path in data_dir.rglob("*.db"):
        m = STORE_DIR.match(path.name)
        if not m or not path.is_dir():
            continue
        name, partition = m.group(1), int(m.group(2))
        table = next((t for t in sorted(CHANGELOG_TABLES, key=len, reverse=True)
                      if name == t or name.endswith(("-" + t, "." + t))), None)
        if table is not None:
            held += per_partition.get((f"{prefix}convoflow-{table}-changelog", partition), 0)
    return held


async def changelog_partitions(settings: Settings) -> dict:
    """(changelog topic, partition) -> end - beginning offsets."""
    admin, consumer = await _admin_and_consumer(settings)
    try:
        tps = await topic_partitions(consumer, [f"{settings.app_id}-{t}-changelog" for t in CHANGELOG_TABLES])
        ends, begins = await consumer.end_offsets(tps), await consumer.beginning_offsets(tps)
        return {(tp.topic, tp.partition): ends[tp] - begins[tp] for tp in tps}
    finally:
        await consumer.stop()
        await admin.close()


# ---------------------------------------------------------------- the run


def run(args) -> dict:
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="convoflow-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = {k: getattr(args, k) for k in ("small", "large", "agents", "teams", "days", "partitions", "workers",
                                           "standby", "seed")}
    sizes["small_agents"] = few_agents = small_agents(args)
    out = new_results("bench.scale", sizes, TARGETS, work_dir=str(work), topic_prefixes={})
    fig, notes = out["figures"], out["notes"]
    log(f"work dir {work}, sizes {sizes}")
    started = time.monotonic()
    shared = new_settings(args, work, "m")
    workers: list[WorkerProcess] = []
    try:
        small = one_size(args, "small", args.small, work, out, agents=few_agents)
        fixed = None if args.skip_fixed_agents else one_size(args, "small_fixed_agents", args.small, work, out)
        large = one_size(args, "large", args.large, work, out, also=() if args.skip_share else (shared,))
        fig["agents_small"], fig["agents_large"] = few_agents, args.agents
        fig["events_small"], fig["events_large"] = small["events"], large["events"]
        fig["ingest_eps_small"], fig["ingest_eps_large"] = small["ingest_eps"], large["ingest_eps"]
        fig["scale_ingest_ratio"] = round(large["ingest_eps"] / max(small["ingest_eps"], 1), 3)
        if "peer_quix_eps" in small and "peer_quix_eps" in large:
            fig["quix_eps_small"], fig["quix_eps_large"] = small["peer_quix_eps"], large["peer_quix_eps"]
            fig["quix_scale_ratio"] = round(large["peer_quix_eps"] / max(small["peer_quix_eps"], 1), 3)
        if fixed is not None:
            fig["events_small_fixed_agents"] = fixed["events"]
            fig["ingest_eps_small_fixed_agents"] = fixed["ingest_eps"]
            fig["scale_ingest_ratio_fixed_agents"] = round(large["ingest_eps"] / max(fixed["ingest_eps"], 1), 3)
            if "peer_quix_eps" in fixed and "peer_quix_eps" in large:
                fig["quix_eps_small_fixed_agents"] = fixed["peer_quix_eps"]
                fig["quix_scale_ratio_fixed_agents"] = round(
                    large["peer_quix_eps"] / max(fixed["peer_quix_eps"], 1), 3)
        fig["export_agent_metrics_s_large"] = large["export_agent_metrics_s"]
        fig["export_resolved_s_large"] = large["export_resolved_s"]
        fig["peak_rss_mb_large"] = large["peak_rss_mb"]
        fig["lone_state_mb"] = round(large["state_bytes"] / 2**20, 1)
        notes["peak_rss_mb_large"] = ("the lone worker's RSS plus its export scan processes' (psutil, every 0.2 s) "
                                      "over the large ingest and its exports")
        if not args.skip_share:
            out["topic_prefixes"]["share"] = shared.topic_prefix
            share(args, shared, work, large["state_bytes"], fig, notes, workers)
            join(args, shared, work, workers, fig, notes)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.stop(timeout=20)
        cleanup(args, shared)
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    out["run_s"] = round(time.monotonic() - started)
    out["finished_at"] = now_utc()
    return out


def parse_args(argv=None):
    p = OneLineParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", default=os.environ.get("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092"))
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few minutes: does every phase run")
    p.add_argument("--small", type=int, default=env_int("BENCH_SMALL", 10_000), help="conversations, small size")
    p.add_argument("--large", type=int, default=env_int("BENCH_LARGE", 100_000), help="conversations, large size")
    p.add_argument("--agents", type=int, default=1_000, help="agents of the large stream")
    p.add_argument("--small-agents", type=int, default=0,
                   help="agents of the small stream (default: --agents scaled to --small, the same mix of events)")
    p.add_argument("--skip-fixed-agents", action="store_true",
                   help="leave out the small stream with the large stream's agents (a reference figure)")
    p.add_argument("--teams", type=int, default=20)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2024-07-01T00:00:00Z")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--partitions", type=int, default=12, help="partitions of every topic, at every size")
    p.add_argument("--workers", type=int, default=4, help="workers that share the large stream (one more joins)")
    p.add_argument("--standby", type=int, default=1, help="CONVOFLOW_STANDBY_REPLICAS of every worker")
    p.add_argument("--chunk-conversations", type=int, default=50_000)
    p.add_argument("--skip-quix", action="store_true")
    p.add_argument("--skip-share", action="store_true", help="leave out the share and join phases")
    p.add_argument("--settle-timeout", type=float, default=60,
                   help="after the shared ingest, wait at most this long for the data dirs to stop growing")
    p.add_argument("--join-timeout", type=float, default=300)
    p.add_argument("--join-steady", type=float, default=5,
                   help="the join is over once every partition has been processed this many seconds")
    p.add_argument("--peer-timeout", type=float, default=1800)
    p.add_argument("--export-timeout", type=float, default=1800)
    p.add_argument("--work-dir", help="keep worker data and logs here (default: a temp dir, deleted)")
    p.add_argument("--keep", action="store_true", help="keep the temp work dir")
    p.add_argument("--keep-topics", dest="delete_topics", action="store_false")
    p.add_argument("--out", default=str(RESULTS), help="results file (default %(default)s)")
    args = p.parse_args(argv)
    if args.smoke:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        for name, value in (("small", 200), ("large", 600), ("agents", 20), ("teams", 4), ("days", 3),
                            ("join_steady", 3)):
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, value)
    if args.small_agents < 0:
        p.error("--small-agents must be at least 1 (0: the large stream's agents scaled to --small)")
    for name in ("small", "large", "agents", "teams", "days", "partitions", "workers", "chunk_conversations"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.standby < 0:
        p.error("--standby must be at least 0")
    args.chunk_conversations = min(args.chunk_conversations, 50_000)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = run(args)
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in out["sizes"].items()) + f"; {out['run_s']} s")
    print_figures(out["figures"], ORDER, TARGETS)
    write_results(out, args.out, TARGETS, args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
