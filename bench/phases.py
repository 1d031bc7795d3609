"""The phases of ``python -m bench.run``, one function each, in the order it runs them.

Each phase writes its figures into ``fig`` and says how it took them in ``notes``;
``bench.scale`` runs some of them again at other sizes.
"""
from __future__ import annotations

import asyncio
import csv
import gc
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from datetime import date, timedelta
from pathlib import Path

import orjson

from bench.common import ROOT, RssSampler, cpu_snapshot, cpu_usage, log, start_profiler, stop_profiler
from bench.kafka import (CHANGELOG_TABLES, INTERNAL, count_records, export_request, precreate_quix_changelogs,
                         timed_export, watch_lag)
from bench.peers import raw_consume as raw_consume_once
from bench.process import WorkerProcess, stop_process
from bench.streams import chunks, export_range, stream_chunk
from convoflow.contract.config import Settings
from convoflow.tools.publish import publish_events


def bench_worker(settings: Settings, work: Path, data_dir: Path, name: str = "worker",
                 env: dict | None = None) -> WorkerProcess:
    """A worker of this tree's code, its log ``work/<name>-1.log`` (``-2`` and on for later starts)."""
    full_env = {**os.environ, "CONVOFLOW_EXPORT_TIMEOUT": os.environ.get("CONVOFLOW_EXPORT_TIMEOUT", "3600"),
                # the worker runs the code of the tree this bench belongs to (also from a copy of the repo)
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
                **(env or {})}
    return WorkerProcess(broker=settings.broker, topic_prefix=settings.topic_prefix, partitions=settings.partitions,
                         data_dir=data_dir, export_dir=work / "exports", log_path=work / f"{name}-1.log", cwd=work,
                         env=full_env)


def run_peer(kind: str, argv: list[str], out: Path, log_path: Path, timeout: float) -> dict:
    """``python -m bench.peers KIND ...`` until it writes its result to `out`."""
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
            stop_process(proc, timeout=20)


# ---------------------------------------------------------------- 1. publish


def publish(args, settings: Settings, out: dict, also: tuple = ()) -> tuple[list[str], int]:
    """The stream, generated and published a chunk of conversations at a time; returns the input topics
    and the events on them. Each chunk is also published under the settings in `also` (the same events
    for another deployment; ``publish_eps`` is of the first)."""
    fig = out["figures"]
    generate_s = publish_s = 0.0
    per_topic: dict[str, int] = {}
    for i, size in enumerate(chunks(args.conversations, args.chunk_conversations)):
        t = time.monotonic()
        events = stream_chunk(args, i, size)
        generate_s += time.monotonic() - t
        t = time.monotonic()
        summary = asyncio.run(publish_events(settings, events))
        publish_s += time.monotonic() - t
        for other in also:
            summary.rejected += asyncio.run(publish_events(other, events)).rejected
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
    return inputs, n_events


# ---------------------------------------------------------------- 2. raw consume


def raw_consume(args, settings: Settings, inputs: list[str], fig: dict, notes: dict) -> None:
    """``raw_consume_eps``: bare aiokafka + orjson, the best of ``--raw-runs`` runs (a ceiling, and a short
    run is at the mercy of the broker's page cache)."""
    runs = [asyncio.run(raw_consume_once(settings.bootstrap, inputs)) for _ in range(args.raw_runs)]
    raw = max(runs, key=lambda r: r["eps"])
    fig["raw_consume_eps"] = round(raw["eps"])
    notes["raw_consume_eps"] = f"best of {len(runs)} runs: " + ", ".join(f"{r['eps']:,.0f}" for r in runs)
    log(f"raw_consume_eps {fig['raw_consume_eps']:,} ({raw['events']:,} events in {raw['seconds']:.1f} s; "
        f"{notes['raw_consume_eps']})")


# ---------------------------------------------------------------- 3, 4. peers


def faust_peers(args, settings: Settings, work: Path, inputs: list[str], n_events: int, fig: dict, notes: dict) -> None:
    """Bare Faust, as convoflow runs it (with streams/faust_ext's transport) and as released: what the fixes are worth."""
    prefix = settings.topic_prefix
    for figure, name, extra in (("faust_stream_eps", "faust", []), ("faust_stock_eps", "stock", ["--stock"])):
        res = run_peer("faust", [
            "--broker", settings.broker, "--app-id", f"{prefix}{name}-faust", "--topics", ",".join(inputs),
            "--partitions", str(args.partitions), "--expected", str(n_events), "--data-dir", str(work / name),
            *extra, *args.faust_args.split()], work / f"{name}.json", work / f"{name}.log", args.peer_timeout)
        fig[figure] = round(res["eps"])
        notes.setdefault("faust_settings", res.get("settings"))
        log(f"{figure} {fig[figure]:,} ({res['events']:,} events in {res['seconds']:.1f} s)")


def quix_peer(args, settings: Settings, work: Path, inputs: list[str], n_events: int, fig: dict, notes: dict,
              name: str = "quix") -> None:
    """``peer_quix_eps``: Quix Streams' per-key state update over the input topics (its group ``<prefix><name>``)."""
    if importlib.util.find_spec("quixstreams") is None:
        notes["peer_quix_eps"] = "quixstreams not installed (pip install -e '.[bench]')"
        return
    group = f"{settings.topic_prefix}{name}"
    asyncio.run(precreate_quix_changelogs(settings, group, inputs))
    res = run_peer("quix", [
        "--bootstrap", settings.bootstrap, "--group", group, "--topics", ",".join(inputs),
        "--expected", str(n_events), "--data-dir", str(work / name)],
        work / f"{name}.json", work / f"{name}.log", args.peer_timeout)
    fig["peer_quix_eps"] = round(res["eps"])
    log(f"peer_quix_eps {fig['peer_quix_eps']:,} ({res['events']:,} events in {res['seconds']:.1f} s)")


# ---------------------------------------------------------------- 5. ingest


def ingest(args, settings: Settings, worker: WorkerProcess, rss: RssSampler, inputs: list[str], n_events: int,
           fig: dict, notes: dict) -> list[str]:
    """``ingest_eps``: a worker started on an empty data dir, until its group's lag is 0; returns the topics
    whose lag is watched."""
    t_spawn = worker.start()
    rss.watch(worker.pid)
    t_health = worker.wait_health()
    fig["worker_start_s"] = round(t_health - t_spawn, 2)
    profiler = start_profiler(worker.pid, Path(args.profile)) if args.profile else None
    try:
        lag_topics = inputs + [settings.topic(t) for t in INTERNAL]
        cpu0 = cpu_snapshot(worker.pid)
        lag = asyncio.run(watch_lag(settings, lag_topics, settings.app_id, [worker]))
        fig.update(cpu_usage(cpu0, cpu_snapshot(worker.pid), "ingest"))
    finally:
        if profiler is not None:
            stop_profiler(profiler)
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
    log(f"ingest_eps {fig['ingest_eps']:,} ({counted:,} events in {ingest_s:.1f} s; "
        f"{lag['internal_records']:,} internal records)")
    return lag_topics


# ---------------------------------------------------------------- 6. exports and explain


def exports(args, settings: Settings, worker: WorkerProcess, fig: dict, notes: dict) -> None:
    """export_resolved_s, export_messages_s (and rows/s), export_agent_metrics_s from a caught-up worker
    (the scan, merge and CSV), and explain_cell_ms on the agent_metrics file."""
    first_day, last_day, as_of = export_range(args)
    profiler = start_profiler(worker.pid, Path(args.profile), "exports") if args.profile else None
    try:
        kinds = [("export_resolved_s", "conversations_resolved"), ("export_messages_s", "messages"),
                 ("export_agent_metrics_s", "agent_metrics")]
        for name, typ in (e for e in kinds if not (args.skip_messages and e[1] == "messages")):
            elapsed, result = timed_export(settings, export_request(typ, first_day, last_day, as_of),
                                           args.export_timeout)
            fig[name] = round(elapsed, 3)
            fig[name.replace("_s", "_rows")] = result["rows"]
            log(f"{name} {elapsed:.2f} s ({result['rows']:,} rows)")
            if typ == "agent_metrics" and not getattr(args, "skip_explain", False):
                explain(args, worker, result["file"], fig, notes)
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


def explain(args, worker: WorkerProcess, agent_metrics_file: str, fig: dict, notes: dict) -> None:
    """explain_cell_ms: GET /explain of the busiest agent's Handle Time (s) over the simulated days
    (the median of EXPLAIN_RUNS requests, each read-your-writes: catch-up, then that agent's days)."""
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
        status, body, _ = worker.fetch(f"/explain?{query}", timeout=args.export_timeout)
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


# ---------------------------------------------------------------- 7. restore


def restore(args, settings: Settings, worker: WorkerProcess, rss: RssSampler, fig: dict, notes: dict,
            out: dict) -> None:
    """``restore_rps``: stop the worker, delete its data dir, start it again, until an export completes."""
    first_day, _, as_of = export_range(args)
    worker.stop(timeout=20)
    rss.watch(None)
    changelogs = [f"{settings.app_id}-{t}-changelog" for t in CHANGELOG_TABLES]
    records = asyncio.run(count_records(settings, changelogs))
    fig["changelog_records"] = sum(records.values())
    out["changelog_records"] = records
    shutil.rmtree(worker.data_dir)
    rss.phase("restore")
    worker.log_path = worker.log_path.with_name("worker-2.log")
    t_spawn = worker.start()
    rss.watch(worker.pid)
    profiler = start_profiler(worker.pid, Path(args.profile), "restore") if args.profile else None
    try:
        t_health = worker.wait_health()
        elapsed, _ = timed_export(settings, export_request("agent_presence", first_day, first_day, as_of),
                                  args.export_timeout)
        t_done = time.time()
    finally:
        if profiler is not None:
            stop_profiler(profiler)
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
                                     "(streams/state/recovery.py), without process start, group join and the export")
        log(f"restore_bulk_rps {fig['restore_bulk_rps']:,} ({bulk.group(1)} records in {bulk.group(2)} s)")


# ---------------------------------------------------------------- --kept-state


def kept_state_exports(args, settings: Settings, work: Path, out: dict) -> None:
    """``--kept-state``: the exports (and the worker's memory meanwhile) again, with the code of this tree,
    on the topics and worker data dir an earlier run kept (``--keep-topics --work-dir``)."""
    fig, notes = out["figures"], out["notes"]
    data_dir = work / "worker-data"
    if not data_dir.is_dir():
        raise SystemExit(f"--kept-state: no worker data dir at {data_dir}")
    rss = RssSampler()
    worker = bench_worker(settings, work, data_dir)
    try:
        rss.phase("start")
        t_spawn = worker.start()
        rss.watch(worker.pid)
        worker.wait_health(timeout=1800)
        lag_topics = settings.input_topics() + [settings.topic(t) for t in INTERNAL]
        asyncio.run(watch_lag(settings, lag_topics, settings.app_id, [worker]))
        # An export waits for the worker's directory and contact copies, which a new worker rebuilds
        # from the changelogs (after an ingest they are long caught up): one small export first.
        first_day, _, as_of = export_range(args)
        timed_export(settings, export_request("agent_presence", first_day, first_day, as_of), args.export_timeout)
        log(f"worker caught up on the kept state after {time.time() - t_spawn:.1f} s")
        rss.phase("exports")
        exports(args, settings, worker, fig, notes)
        fig["peak_rss_mb"] = round(rss.peak_mb, 1)
        for phase, mb in rss.phase_peaks_mb().items():
            fig[f"peak_rss_{phase}_mb"] = mb
        notes["kept_state"] = (f"exports only, on the state of an earlier run (prefix {settings.topic_prefix}, "
                               f"{data_dir}); no ingest, restore or freshness")
    finally:
        worker.stop(timeout=20)
        rss.stop()
