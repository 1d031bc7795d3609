"""convoflow benchmark: one simulated stream, published once, read by every contender.

    python -m bench.run [--conversations N] [--agents N] [--days N] ... [--smoke] [--profile DIR]
    make bench BENCH_ARGS='--conversations 20000'      (starts and stops the local broker)

Phases, in this order, on one topic prefix:
 1. generate (``convoflow.tools.simulate.generate``) and publish the stream;
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

Each phase is one function of ``bench/phases.py`` (freshness: ``bench/freshness.py``);
this module reads the flags and runs them in order. Workers are ``bench.process.WorkerProcess``,
as in the integration tests.

Prints one ``name: value`` line per figure (PASS/MISS against the targets)
and writes everything to ``bench/results.json``.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from bench import phases
from bench.common import (ROOT, OneLineParser, RssSampler, env_float, env_int, log, new_results, now_utc,
                          print_figures, write_results)
from bench.freshness import freshness
from bench.kafka import delete_topics
from convoflow.contract.config import Settings

RESULTS = ROOT / "bench" / "results.json"

TARGETS = {
    "ingest_eps": (">=", 15_000),
    "ingest_vs_faust": (">=", 2.5),
    "ingest_vs_quix": (">=", 1.0),
    "export_resolved_s": ("<=", 20),
    "export_agent_metrics_s": ("<=", 2),
    "restore_rps": (">=", 100_000),
    "peak_rss_mb": ("<=", 1_500),
    "freshness_p99_ms": ("<=", 250),
    "explain_cell_ms": ("<=", 300),
}

TARGET_SIZES = {"conversations": 1_000_000, "agents": 1_000, "days": 30}



def run(args) -> dict:
    prefix = args.kept_state or f"bench{uuid.uuid4().hex[:8]}-"
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="convoflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(broker=args.broker, topic_prefix=prefix, partitions=args.partitions,
                        export_dir=str(work / "exports"))
    sizes = {k: getattr(args, k) for k in ("conversations", "chunk_conversations", "agents", "teams", "days",
                                           "partitions", "seed", "freshness_rate", "freshness_seconds")}
    sizes["start"] = args.start
    out = new_results("bench.run", sizes, TARGETS, target_sizes=TARGET_SIZES, topic_prefix=prefix, work_dir=str(work))
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
    out["finished_at"] = now_utc()
    return out


def _run(args, settings: Settings, work: Path, out: dict) -> None:
    fig, notes = out["figures"], out["notes"]
    if args.kept_state:
        phases.kept_state_exports(args, settings, work, out)
        return
    inputs, n_events = phases.publish(args, settings, out)
    phases.raw_consume(args, settings, inputs, fig, notes)
    if not args.skip_faust:
        phases.faust_peers(args, settings, work, inputs, n_events, fig, notes)
    if not args.skip_quix:
        phases.quix_peer(args, settings, work, inputs, n_events, fig, notes)
    rss = RssSampler()
    worker = phases.bench_worker(settings, work, work / "worker-data")
    try:
        rss.phase("ingest")
        lag_topics = phases.ingest(args, settings, worker, rss, inputs, n_events, fig, notes)
        fig["ingest_ratio"] = round(fig["ingest_eps"] / fig["raw_consume_eps"], 3)
        if "faust_stream_eps" in fig:
            fig["ingest_vs_faust"] = round(fig["ingest_eps"] / fig["faust_stream_eps"], 3)
        if "peer_quix_eps" in fig:
            fig["ingest_vs_quix"] = round(fig["ingest_eps"] / fig["peer_quix_eps"], 3)
        rss.phase("exports")
        phases.exports(args, settings, worker, fig, notes)
        phases.restore(args, settings, worker, rss, fig, notes, out)
        if args.freshness_seconds > 0:
            freshness(args, settings, worker, rss, lag_topics, fig, notes)
        fig["peak_rss_mb"] = round(rss.peak_mb, 1)
        for phase, mb in rss.phase_peaks_mb().items():
            fig[f"peak_rss_{phase}_mb"] = mb
        notes["peak_rss_mb"] = ("the worker's RSS plus its export scan processes' (psutil, every 0.2 s) over ingest, "
                                "exports, restore and freshness; "
                                "peak_rss_<phase>_mb per phase")
    finally:
        worker.stop(timeout=20)
        rss.stop()


# ---------------------------------------------------------------- output


ORDER = ("events", "publish_eps", "raw_consume_eps", "faust_stream_eps", "faust_stock_eps", "peer_quix_eps",
         "ingest_eps", "ingest_ratio", "ingest_vs_faust", "ingest_vs_quix", "ingest_s", "export_resolved_s",
         "export_resolved_rows", "export_messages_s", "export_messages_rows", "export_messages_rows_per_s",
         "export_agent_metrics_s", "export_agent_metrics_rows", "changelog_records", "restore_s", "restore_rps",
         "restore_bulk_s", "restore_bulk_rps", "peak_rss_mb", "peak_rss_ingest_mb", "peak_rss_exports_mb",
         "peak_rss_restore_mb", "peak_rss_freshness_mb", "freshness_idle_p99_ms", "freshness_p50_ms", "freshness_p99_ms")



def report(out: dict) -> None:
    m = out["machine"]
    print(f"machine: nproc {m.get('nproc')}, {m.get('memory_gb')} GB, python {m.get('python')}, "
          f"kafka {m.get('kafka')}, faust {m.get('faust-streaming')}, aiokafka {m.get('aiokafka')}")
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in out["sizes"].items()))
    fig = out["figures"]

    def via_export(name: str) -> str:
        if name == "freshness_p99_ms" and fig.get("freshness_method") == "export":
            return " [via export completion: no live-lookup endpoint]"
        return ""

    print_figures(fig, ORDER, TARGETS, via_export)


def parse_args(argv=None):
    p = OneLineParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
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
    if args.kept_state and not (args.work_dir and not args.delete_topics):
        p.error("--kept-state needs the earlier run's --work-dir, and --keep-topics")
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
    report(out)
    write_results(out, args.out, TARGETS, args.smoke)
    return 0



if __name__ == "__main__":
    sys.exit(main())
